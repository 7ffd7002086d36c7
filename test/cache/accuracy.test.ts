// Accuracy against memory: every storage format's absorbed-MLA output error against the float64
// oracle, on the official vectors and on random cases, stays within the bound derived from the
// format's element error (src/cache/bounds.ts, propagated in src/analysis/cache-accuracy.ts); the
// bounds are not vacuous; f32 is near float32 rounding.
import { readFileSync, readdirSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type AccuracyRow, accuracyCaseFromVectors, cacheAccuracyTable, formatAccuracyTable, randomAccuracyCase } from "../../src/analysis/cache-accuracy.js";
import { makeConfig } from "../../src/config.js";
import { parseVectorCaseText } from "../../src/io/mla-vectors.js";
import { mlaConfigArb, scheduleArb, seedArb } from "../support/arb.js";

const dir = new URL("../../vectors/deepseek-v3-mla/", import.meta.url);
const vectorCases = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => accuracyCaseFromVectors(parseVectorCaseText(readFileSync(new URL(f, dir), "utf8"), f)));

// Random cases: C a multiple of 128 and not (fp8 tiles), one head, Q = 0, YaRN on and off, batch 2, >= 2 keys,
// and a second call at startPos > 0.
const randomCases = [
  randomAccuracyCase(makeConfig({ dim: 32, n_heads: 1, q_lora_rank: 0, kv_lora_rank: 136, qk_nope_head_dim: 8, qk_rope_head_dim: 6, v_head_dim: 8, max_seq_len: 256, original_seq_len: 256, max_batch_size: 2 }), 11, [5, 1, 2], 2),
  randomAccuracyCase(makeConfig({ dim: 24, n_heads: 3, q_lora_rank: 12, kv_lora_rank: 128, qk_nope_head_dim: 8, qk_rope_head_dim: 4, v_head_dim: 6, max_seq_len: 1024, original_seq_len: 64, max_batch_size: 1 }), 12, [70, 1]),
];

let rows: AccuracyRow[];
function table(): AccuracyRow[] {
  rows ??= cacheAccuracyTable([...vectorCases, ...randomCases]);
  return rows;
}

describe("accuracy vs memory", () => {
  it("every format's output error stays within its derived bound, on every case", () => {
    const t = table();
    console.log(formatAccuracyTable(t));
    expect(t.length).toBe((vectorCases.length + randomCases.length) * 5);
    for (const r of t) {
      expect(r.worstRatio, `${r.case} ${r.format}`).toBeLessThanOrEqual(1);
      expect(r.latentWorstRatio, `${r.case} ${r.format}`).toBeLessThanOrEqual(1);
      expect(r.maxAbsError, `${r.case} ${r.format}`).toBeGreaterThan(0); // every format rounds something
    }
  });
  it("the bounds are informative and the errors rank f32 < f16 < bf16 < fp8", () => {
    // The output bound adds |W_uv| and |wo| without cancellation (a worst case), so it sits 20-1000x
    // above the error; at o_lat, before those weights, the error reaches > 1/50 of the bound in
    // every case, so a bound inflated by a mistake (or a codec error growing 50x) would show.
    for (const r of table()) expect(r.latentWorstRatio, `${r.case} ${r.format}`).toBeGreaterThan(0.02);
    for (const name of new Set(table().map((r) => r.case))) {
      const by = Object.fromEntries(table().filter((r) => r.case === name).map((r) => [r.format, r]));
      expect(by.f32.maxBound, name).toBeLessThan(1e-3); // float32 rounding of the cache only
      expect(by.f32.maxAbsError).toBeLessThan(by.f16.maxAbsError);
      expect(by.f16.maxAbsError).toBeLessThan(by.bf16.maxAbsError);
      expect(by.bf16.maxAbsError).toBeLessThan(by.fp8_e4m3.maxAbsError);
      // cal_diff is |x-y|^2/(|x|^2+|y|^2): small when the error is
      expect(by.f32.calDiff).toBeLessThan(1e-12);
      expect(by.fp8_e4m3.calDiff).toBeLessThan(1e-2);
    }
  });
  it("reports bytes per token: V3 figures 2304 / 1152 / 1152 / 584 / 656", () => {
    const v3 = Object.fromEntries(table().map((r) => [r.format, r.bytesPerTokenV3]));
    expect(v3).toEqual({ f32: 4 * 576, bf16: 2 * 576, f16: 2 * 576, int8: 576 + 8, fp8_e4m3: 656 });
  });
});

describe("accuracy bounds on random configs", () => {
  it("odd sizes, one head, Q = 0, YaRN on/off, both rope layouts, startPos > 0: every format within its bound", () => {
    fc.assert(
      fc.property(mlaConfigArb, scheduleArb, seedArb, (cfg, schedule, seed) => {
        const batch = Math.min(cfg.max_batch_size, 2);
        for (const r of cacheAccuracyTable([randomAccuracyCase(cfg, seed, schedule, batch)])) {
          expect(r.worstRatio, r.format).toBeLessThanOrEqual(1);
          expect(r.latentWorstRatio, r.format).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 60 },
    );
  });
});
