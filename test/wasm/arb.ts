// Random MLA configs and call schedules for the WASM layer tests: odd sizes, one head,
// q_lora_rank 0, YaRN on/off, both rope layouts, batch > 1, startPos > 0, rollbacks, and calls
// long enough (> 64 keys) to cross the attention kernels' key blocks.
import fc from "fast-check";
import { type MlaConfig, makeConfig } from "../../src/config.js";

export const wasmConfigArb: fc.Arbitrary<MlaConfig> = fc
  .record({
    dim: fc.integer({ min: 1, max: 40 }),
    n_heads: fc.integer({ min: 1, max: 5 }),
    q_lora_rank: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 24 })),
    kv_lora_rank: fc.integer({ min: 1, max: 40 }),
    qk_nope_head_dim: fc.integer({ min: 1, max: 12 }),
    ropeHalf: fc.integer({ min: 1, max: 6 }),
    v_head_dim: fc.integer({ min: 1, max: 12 }),
    yarn: fc.boolean(),
    rope_theta: fc.double({ min: 50, max: 20000, noNaN: true }),
    rope_factor: fc.double({ min: 1, max: 40, noNaN: true }),
    mscale: fc.double({ min: 0.5, max: 1.5, noNaN: true }),
    rope_layout: fc.constantFrom("interleaved" as const, "half" as const),
    max_batch_size: fc.integer({ min: 1, max: 3 }),
  })
  .map((r) =>
    makeConfig({
      dim: r.dim,
      n_heads: r.n_heads,
      q_lora_rank: r.q_lora_rank,
      kv_lora_rank: r.kv_lora_rank,
      qk_nope_head_dim: r.qk_nope_head_dim,
      qk_rope_head_dim: 2 * r.ropeHalf,
      v_head_dim: r.v_head_dim,
      original_seq_len: 128,
      max_seq_len: r.yarn ? 512 : 128,
      rope_theta: r.rope_theta,
      rope_factor: r.rope_factor,
      beta_fast: 32,
      beta_slow: 1,
      mscale: r.mscale,
      rope_layout: r.rope_layout,
      max_batch_size: r.max_batch_size,
    }),
  );

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
export function concreteCalls(cfg: MlaConfig, specs: CallSpec[]): { batch: number; seqlen: number; startPos: number }[] {
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
