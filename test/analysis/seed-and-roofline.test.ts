// The seed text's formulas as stated, where they hold (its own scheme; MLA's recompute path with
// r := d_c) and where they do not (absorbed MLA); the roofline and crossover arithmetic.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeConfig, preset } from "../../src/config.js";
import { analyze, seedComparison } from "../../src/analysis/analyze.js";
import { decodeShape, layerCost } from "../../src/analysis/cost.js";
import { type Machine, ridge, roofline, sequentialSeconds, signChanges } from "../../src/analysis/roofline.js";
import { seedAttentionFlops, seedComputeRatio, seedDecompressionFlops, seedMemoryRatio, seedTotalFlops } from "../../src/analysis/seed.js";
import { baselineConfig, mhaWork, mlaWork, seedConfig, seedWork } from "../../src/analysis/work.js";

describe("the seed's formulas, as stated", () => {
  it("h 128, s 4096, d 128, r 8: decompression 4hsdr = 2^31, attention 4hsd = 2^28, total 9x", () => {
    expect(seedDecompressionFlops(128, 4096, 128, 8)).toBe(2 ** 31);
    expect(seedAttentionFlops(128, 4096, 128)).toBe(2 ** 28);
    expect(seedTotalFlops(128, 4096, 128, 8)).toBe(9 * 2 ** 28);
    expect(seedComputeRatio(8)).toBe(9);
    expect(seedMemoryRatio(128, 8)).toBe(16);
  });

  // Configs where the seed's single d_head is meaningful: dn = dv = d.
  const squareArb = fc.record({ h: fc.integer({ min: 1, max: 256 }), d: fc.integer({ min: 1, max: 256 }), r: fc.integer({ min: 1, max: 64 }), C: fc.integer({ min: 1, max: 1024 }), s: fc.integer({ min: 1, max: 1 << 20 }) });
  const cfgOf = (x: { h: number; d: number; C: number }) => makeConfig({ n_heads: x.h, qk_nope_head_dim: x.d, v_head_dim: x.d, kv_lora_rank: x.C, max_seq_len: 1 << 21, original_seq_len: 1 << 21 });

  it("hold exactly for the seed's own scheme (counted work, decode at context s, one row)", () => {
    fc.assert(
      fc.property(squareArb, (x) => {
        const w = seedWork(seedConfig(cfgOf(x), x.r), decodeShape(x.s, 1));
        expect(2 * w.decompression.madds).toBe(seedDecompressionFlops(x.h, x.s, x.d, x.r));
        expect(2 * (w.scores.madds + w.weightedSum.madds)).toBe(seedAttentionFlops(x.h, x.s, x.d));
      }),
    );
  });

  it("hold for MLA's recompute path only with r replaced by d_c (512 for V2/V3, not 4..16)", () => {
    fc.assert(
      fc.property(squareArb, (x) => {
        const w = mlaWork(cfgOf(x), "recompute", decodeShape(x.s, 1));
        expect(2 * w.decompression.madds).toBe(seedDecompressionFlops(x.h, x.s, x.d, x.C));
      }),
    );
  });

  it("do not hold for absorbed MLA: no per-token decompression; attention per key and head is 2(2 d_c + d_rope) FLOPs, independent of any r", () => {
    fc.assert(
      fc.property(squareArb, (x) => {
        const cfg = cfgOf(x);
        const w = mlaWork(cfg, "absorbed", decodeShape(x.s, 1));
        expect(w.decompression.madds).toBe(0);
        expect(2 * (w.scores.madds + w.weightedSum.madds)).toBe(2 * x.h * x.s * (2 * x.C + cfg.qk_rope_head_dim));
        expect(2 * w.absorption.madds).toBe(2 * x.h * x.C * 2 * x.d); // per new token, not per cached token
      }),
    );
  });

  it("DeepSeek-V3 at 32k: absorbed attention is (2*512+64)/(128+128) = 4.25x MHA's, not r+1 = 9x; recompute's total is ~513x", () => {
    const s = seedComparison(preset("deepseek-v3"), 32768, 8);
    expect(s.mla.absorbed.attentionVsMha).toBeCloseTo(1088 / 256, 12);
    expect(s.mla.naive.attentionVsMha).toBeCloseTo(320 / 256, 12);
    expect(s.mla.recompute.totalVsMha).toBeCloseTo((512 * 256 + 320) / 256, 12);
    expect(s.stated.computeRatio).toBe(9);
    expect(s.seedScheme.computeRatio).toBeCloseTo(9, 12);
    expect(s.equivalentSeedRank).toBe(2.25);
    expect(s.cacheRatioMhaOverMla).toBeCloseTo(32768 / 576, 12);
  });
});

describe("roofline", () => {
  const m: Machine = { gflops: 100, gbps: 10, source: "test" };
  it("time is the larger of compute and memory time; the bound follows the ridge point", () => {
    expect(ridge(m)).toBe(10);
    const c = roofline(2e9, 1e8, m); // intensity 20 > 10
    expect(c).toMatchObject({ bound: "compute", intensity: 20, seconds: 0.02 });
    const b = roofline(1e9, 1e9, m); // intensity 1 < 10
    expect(b).toMatchObject({ bound: "memory", intensity: 1, seconds: 0.1 });
  });

  it("V3 absorbed decode by hand: per layer 2[D Q + Q H 192 + D 576 + H 256 512 + L H 1088 + D H 128] FLOPs", () => {
    const L = 4096, D = 7168, Q = 1536, H = 128;
    const want = 2 * (D * Q + Q * H * 192 + D * 576 + H * 256 * 512 + L * H * 1088 + D * H * 128);
    expect(layerCost(preset("deepseek-v3"), "absorbed", decodeShape(L, 1), { format: "bf16" }).flops).toBe(want);
    // bytes: weights (bf16) + L cached tokens read + 1 written, 1,152 B each
    const weights = D * Q + Q * H * 192 + D * 576 + H * 256 * 512 + D * H * 128;
    expect(layerCost(preset("deepseek-v3"), "absorbed", decodeShape(L, 1), { format: "bf16" }).bytes).toBe(2 * weights + 1152 * (L + 1));
  });

  it("terms in sequence: the sum of each term's own bound, never below the overlapped bound", () => {
    const terms = { a: { flops: 2e9, bytes: 1e8 }, b: { flops: 1e8, bytes: 1e9 } }; // 0.02 s compute-bound, 0.1 s memory-bound
    expect(sequentialSeconds(terms, m)).toBeCloseTo(0.12, 15);
    expect(roofline(2.1e9, 1.1e9, m).seconds).toBeCloseTo(0.11, 15);
    fc.assert(
      fc.property(fc.array(fc.record({ flops: fc.double({ min: 0, max: 1e12, noNaN: true }), bytes: fc.double({ min: 0, max: 1e12, noNaN: true }) }), { minLength: 1, maxLength: 8 }), (ts) => {
        const F = ts.reduce((x, t) => x + t.flops, 0), B = ts.reduce((x, t) => x + t.bytes, 0);
        expect(sequentialSeconds(Object.fromEntries(ts.map((t, i) => [i, t])), m)).toBeGreaterThanOrEqual(roofline(F, B, m).seconds * (1 - 1e-12));
      }),
    );
  });

  it("signChanges finds the first integer of every sign change", () => {
    expect(signChanges((x) => x - 1000.5, 1, 100000)).toEqual([1001]);
    expect(signChanges((x) => (x - 10.5) * (x - 5000.5), 1, 100000)).toEqual([11, 5001]);
    expect(signChanges((x) => (x < 100 ? 0 : 1), 1, 100000)).toEqual([]); // leaving a tie is not a crossover
    expect(signChanges((x) => (x < 100 ? 1 : x < 300 ? 0 : -1), 1, 100000)).toEqual([300]); // through a tie it is
    expect(signChanges(() => 1, 1, 100000)).toEqual([]);
  });

  it("every reported crossover is a real swap: the order one token (or head) earlier is the other way", () => {
    const cfg = preset("deepseek-v2-lite");
    const machine: Machine = { gflops: 31, gbps: 14, source: "test" };
    const a = analyze(cfg, "v2-lite", { context: 8192, batch: 1, format: "bf16", machine });
    expect(a.crossovers.length).toBeGreaterThan(0);
    for (const x of a.crossovers.filter((c) => c.varies === "context" && c.phase === "decode")) {
      const t = (path: typeof x.faster, L: number) => roofline(layerCost(cfg, path, decodeShape(L, 1), { format: "bf16" }).flops, layerCost(cfg, path, decodeShape(L, 1), { format: "bf16" }).bytes, machine).seconds;
      expect(t(x.faster, x.at)).toBeLessThan(t(x.slower, x.at));
      expect(t(x.faster, x.at - 1)).toBeGreaterThanOrEqual(t(x.slower, x.at - 1));
    }
  });

  it("MHA baseline of a preset has Table 1's per-head width (d_h = dn) and all heads", () => {
    const b = baselineConfig(preset("deepseek-v3"), 128);
    expect(b).toMatchObject({ n_heads: 128, n_kv_heads: 128, head_dim: 128, v_head_dim: 128 });
    expect(mhaWork(b, decodeShape(10, 1)).scores.cacheReads).toBe(10 * 128 * 128);
  });
});
