// Random MLA configs and call schedules for the WASM layer tests: odd sizes, one head,
// q_lora_rank 0, YaRN on/off, both rope layouts, batch > 1, startPos > 0, rollbacks, and calls
// long enough (> 64 keys) to cross the attention kernels' key blocks.
import fc from "fast-check";
import type { MlaConfig } from "../../src/config.js";
import { arbMlaConfig } from "../../src/conformance/arbitraries.js";

/** The conformance kit's configs with wider sizes and max_seq_len >= 128 (calls of 60-75 tokens). */
export const wasmConfigArb: fc.Arbitrary<MlaConfig> = arbMlaConfig({ maxDim: 40, maxHeads: 5, maxRank: 40, maxHeadDim: 12, minSeqLen: 128 });

/** One call: tokens s, batch rows B (clamped to max_batch_size), and how far to roll back first. */
export interface CallSpec {
  s: number;
  batch: number;
  back: number;
}

export const callArb: fc.Arbitrary<CallSpec> = fc.record({
  s: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 5 }) }, { weight: 1, arbitrary: fc.integer({ min: 60, max: 75 }) }),
  batch: fc.integer({ min: 1, max: 3 }),
  back: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }) }),
});

/** >= 2 keys in all; positions stay below 128 (max_seq_len without YaRN). */
export const scheduleArb = fc.array(callArb, { minLength: 1, maxLength: 4 }).filter((a) => a.reduce((x, c) => x + c.s, 0) >= 2 && a.reduce((x, c) => x + c.s, 0) <= 120);

/** Turn a spec list into concrete {batch, seqlen, startPos} for a config, tracking per-row lengths. */
export function concreteCalls(cfg: Pick<MlaConfig, "max_batch_size" | "max_seq_len">, specs: CallSpec[]): { batch: number; seqlen: number; startPos: number }[] {
  const len = new Array<number>(cfg.max_batch_size).fill(0);
  const out: { batch: number; seqlen: number; startPos: number }[] = [];
  for (const c of specs) {
    const B = Math.min(c.batch, cfg.max_batch_size);
    const minLen = Math.min(...len.slice(0, B));
    const startPos = Math.max(0, minLen - c.back);
    const s = Math.min(c.s, cfg.max_seq_len - startPos);
    if (s < 1) continue;
    out.push({ batch: B, seqlen: s, startPos });
    for (let b = 0; b < B; b++) len[b] = startPos + s;
  }
  return out;
}
