// Properties of the V3.2 oracle over random small configs (fast-check): the selection is causal and
// is the top-k under (score desc, index asc); with index_topk >= the context the sparse layer is
// dense MLA over the same FP8-simulated latent; a prefill equals the same tokens fed in pieces
// (decodes, chunks at startPos > 0) for every quantised value, score and selection; batch rows are
// independent; rollback replays bit for bit; failed calls change nothing.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type DsaConfig, makeConfig } from "../../src/config.js";
import { ConfigError, NonFiniteError, PositionError, ShapeError } from "../../src/errors.js";
import { type DsaWeights, randomDsaWeights } from "../../src/io/dsa-weights.js";
import { callRopeTable, mlaSoftmaxScale, ropeFrequencies } from "../../src/derived.js";
import { closeF64 } from "../../src/numerics.js";
import { attendRow } from "../../src/reference/attention.js";
import { linear } from "../../src/reference/linear.js";
import { absorbOutput, latentQuery, mlaCompress } from "../../src/reference/mla.js";
import { type DsaTrace, ReferenceDsa, mlaQueryFromLatent, queryLatent, simulateKvFp8 } from "../../src/reference/dsa/layer.js";
import { Rng, randomMlaWeights } from "../../src/weights.js";

const RUNS = 25;

const arbCase = fc.record({
  D: fc.integer({ min: 3, max: 20 }),
  H: fc.integer({ min: 1, max: 3 }),
  Q: fc.integer({ min: 1, max: 12 }),
  C: fc.constantFrom(128, 256),
  dn: fc.integer({ min: 1, max: 4 }).map((v) => 2 * v),
  dr: fc.integer({ min: 1, max: 4 }).map((v) => 2 * v),
  dv: fc.integer({ min: 1, max: 6 }),
  HI: fc.integer({ min: 1, max: 4 }),
  topk: fc.integer({ min: 1, max: 9 }),
  fmt: fc.constantFrom(null, "ue8m0" as const),
  yarn: fc.boolean(),
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
});
type Arb = typeof arbCase extends fc.Arbitrary<infer T> ? T : never;

function build(a: Arb, over: Partial<DsaConfig> = {}): { cfg: DsaConfig; w: DsaWeights; rng: Rng } {
  const cfg = makeConfig({
    dim: a.D, n_heads: a.H, q_lora_rank: a.Q, kv_lora_rank: a.C, qk_nope_head_dim: a.dn, qk_rope_head_dim: a.dr, v_head_dim: a.dv,
    max_seq_len: a.yarn ? 64 : 32, original_seq_len: 32, rope_factor: 4, max_batch_size: 2,
    index_n_heads: a.HI, index_head_dim: 128, index_topk: a.topk, scale_fmt: a.fmt, ...over,
  }) as DsaConfig;
  const rng = new Rng(a.seed);
  return { cfg, w: randomDsaWeights(cfg, rng), rng };
}

/** Split n tokens into calls: sizes from the draw, the first at least 1. */
const arbSplit = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 6 });

describe("ReferenceDsa properties", () => {
  it("top-k rows are causal, distinct, min(K, visible) long, and the top keys under (score desc, index asc)", () => {
    fc.assert(
      fc.property(arbCase, arbSplit, (a, split) => {
        const { cfg, w, rng } = build(a);
        const layer = new ReferenceDsa(cfg, w);
        let p = 0;
        for (const s of split) {
          const { trace } = layer.forwardTrace(rng.normalArray(2 * s * cfg.dim), { batch: 2, seqlen: s, startPos: p });
          const T = p + s, K = Math.min(cfg.index_topk, T);
          expect(trace.topk_k).toBe(K);
          for (let r = 0; r < 2 * s; r++) {
            const last = p + (r % s), sc = trace.indexer.index_score.subarray(r * T, (r + 1) * T);
            const row = Array.from(trace.indexer.topk_indices.subarray(r * K, (r + 1) * K));
            const sel = row.filter((j) => j >= 0);
            expect(sel.length).toBe(Math.min(K, last + 1));
            expect(row.slice(sel.length).every((j) => j === -1)).toBe(true);
            expect(new Set(sel).size).toBe(sel.length);
            expect(sel.every((j) => j <= last)).toBe(true);
            const before = (i: number, j: number) => sc[i] > sc[j] || (sc[i] === sc[j] && i < j);
            for (let i = 1; i < sel.length; i++) expect(before(sel[i - 1], sel[i])).toBe(true);
            const lastSel = sel[sel.length - 1];
            for (let j = 0; j <= last; j++) if (!sel.includes(j)) expect(before(lastSel, j)).toBe(true);
          }
          p = T;
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("with index_topk >= the context, the sparse layer is dense MLA over the same FP8-simulated latent", () => {
    fc.assert(
      fc.property(arbCase, arbSplit, (a, split) => {
        const { cfg, w, rng } = build(a, { index_topk: 64 });
        const layer = new ReferenceDsa(cfg, w);
        const C = cfg.kv_lora_rank, dr = cfg.qk_rope_head_dim, H = cfg.n_heads;
        const freqs = ropeFrequencies(cfg), scale = mlaSoftmaxScale(cfg);
        const kv: number[][] = [[], []], pe: number[][] = [[], []];
        let p = 0;
        for (const s of split) {
          const B = 2, N = B * s, T = p + s, x = rng.normalArray(N * cfg.dim);
          const y = layer.forward(x, { batch: B, seqlen: s, startPos: p });
          // dense absorbed MLA from mla.ts's steps, over the FP8-simulated latent
          const table = callRopeTable(cfg, freqs, p, s);
          const q = mlaQueryFromLatent(cfg, w, queryLatent(cfg, w, x, N), N, s, table);
          const { c, kpe } = mlaCompress(cfg, w, x, N, s, table);
          const deq = simulateKvFp8(c, N, C, cfg.scale_fmt).dequantized;
          const qLat = latentQuery(cfg, w, q, N), oLat = new Float64Array(N * H * C);
          for (let b = 0; b < B; b++) {
            kv[b].push(...deq.subarray(b * s * C, (b + 1) * s * C));
            pe[b].push(...kpe.subarray(b * s * dr, (b + 1) * s * dr));
            const keys = new Float64Array(T * (C + dr));
            for (let t = 0; t < T; t++) {
              keys.set(kv[b].slice(t * C, (t + 1) * C), t * (C + dr));
              keys.set(pe[b].slice(t * dr, (t + 1) * dr), t * (C + dr) + C);
            }
            oLat.set(attendRow({ q: qLat.subarray(b * s * H * (C + dr), (b + 1) * s * H * (C + dr)), k: keys, v: Float64Array.from(kv[b]), s, startPos: p, hq: H, hkv: 1, dqk: C + dr, dv: C, scale }), b * s * H * C);
          }
          const dense = linear(absorbOutput(cfg, w, oLat, N), N, w.wo, cfg.dim, H * cfg.v_head_dim);
          expect(closeF64(y, dense)).toBe(true);
          p = T;
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("a prefill equals the same tokens in pieces: quantised values and scores bit for bit, the same selections, outputs to float64 reordering", () => {
    fc.assert(
      fc.property(arbCase, arbSplit, (a, split) => {
        const { cfg, w, rng } = build(a);
        const n = Math.max(2, split.reduce((u, v) => u + v, 0));
        const D = cfg.dim, HI = cfg.index_n_heads, DI = 128;
        const x = rng.normalArray(n * D);
        const whole = new ReferenceDsa(cfg, w).forwardTrace(x, { batch: 1, seqlen: n, startPos: 0 });
        const parts = new ReferenceDsa(cfg, w);
        let p = 0;
        for (const s0 of [...split, n]) {
          const s = Math.min(s0, n - p);
          if (s <= 0) break;
          const { output, trace } = parts.forwardTrace(x.subarray(p * D, (p + s) * D), { batch: 1, seqlen: s, startPos: p });
          expect(closeF64(output, whole.output.subarray(p * D, (p + s) * D))).toBe(true);
          const slice = (t: Float64Array, w_: number) => t.subarray(p * w_, (p + s) * w_);
          expect(trace.indexer.q_fp8).toEqual(slice(whole.trace.indexer.q_fp8, HI * DI));
          expect(trace.indexer.q_scale).toEqual(slice(whole.trace.indexer.q_scale, HI));
          expect(trace.indexer.k_fp8).toEqual(slice(whole.trace.indexer.k_fp8, DI));
          expect(trace.indexer.weights).toEqual(slice(whole.trace.indexer.weights, HI));
          expect(trace.kv).toEqual(slice(whole.trace.kv, cfg.kv_lora_rank));
          const T = p + s, K = trace.topk_k, Kw = whole.trace.topk_k;
          for (let t = 0; t < s; t++) {
            const pos = p + t;
            expect(trace.indexer.index_score.subarray(t * T, t * T + pos + 1)).toEqual(whole.trace.indexer.index_score.subarray(pos * n, pos * n + pos + 1));
            const mine = selected(trace, t, K), ref = selected(whole.trace, pos, Kw);
            expect(mine).toEqual(ref);
          }
          p += s;
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("batch rows are independent, and a rollback replays a call bit for bit", () => {
    fc.assert(
      fc.property(arbCase, arbSplit, (a, split) => {
        const { cfg, w, rng } = build(a);
        const both = new ReferenceDsa(cfg, w), row0 = new ReferenceDsa(cfg, w), row1 = new ReferenceDsa(cfg, w);
        const D = cfg.dim;
        let p = 0;
        const calls: { x: Float32Array; s: number; p: number; y: Float64Array }[] = [];
        for (const s of split) {
          const x = rng.normalArray(2 * s * D);
          const y = both.forward(x, { batch: 2, seqlen: s, startPos: p });
          expect(row0.forward(x.subarray(0, s * D), { batch: 1, seqlen: s, startPos: p })).toEqual(y.subarray(0, s * D));
          expect(row1.forward(x.subarray(s * D), { batch: 1, seqlen: s, startPos: p })).toEqual(y.subarray(s * D));
          calls.push({ x, s, p, y });
          p += s;
        }
        const first = calls[Math.floor(calls.length / 2)];
        for (const c of calls.slice(calls.indexOf(first))) expect(both.forward(c.x, { batch: 2, seqlen: c.s, startPos: c.p })).toEqual(c.y);
        expect(both.cache.length(0)).toBe(p);
      }),
      { numRuns: RUNS },
    );
  });
});

function selected(trace: DsaTrace, row: number, K: number): number[] {
  return Array.from(trace.indexer.topk_indices.subarray(row * K, (row + 1) * K)).filter((j) => j >= 0).sort((u, v) => u - v);
}

describe("ReferenceDsa errors", () => {
  const a: Arb = { D: 8, H: 2, Q: 4, C: 128, dn: 4, dr: 4, dv: 3, HI: 2, topk: 3, fmt: "ue8m0", yarn: false, seed: 7 };
  it("refuses a V3 config, missing indexer weights, and leaves the cache as it was after a failed call", () => {
    const { cfg, w, rng } = build(a);
    const { index_n_heads: _a, index_head_dim: _b, index_topk: _c, scale_fmt: _d, ...v3 } = cfg;
    expect(() => new ReferenceDsa(v3, w)).toThrow(ConfigError);
    expect(() => new ReferenceDsa(cfg, randomMlaWeights(cfg, new Rng(1)) as DsaWeights)).toThrow(ShapeError);
    const { k_norm_bias: _e, ...noBias } = w.indexer;
    expect(() => new ReferenceDsa(cfg, { ...w, indexer: noBias } as DsaWeights)).toThrow(/weights\.indexer\.k_norm_bias/);
    const layer = new ReferenceDsa(cfg, w);
    layer.forward(rng.normalArray(2 * 5 * cfg.dim), { batch: 2, seqlen: 5, startPos: 0 });
    const before = layer.cache.snapshot(2, 5);
    const bad = rng.normalArray(2 * 2 * cfg.dim);
    bad[3] = NaN;
    expect(() => layer.forward(bad, { batch: 2, seqlen: 2, startPos: 5 })).toThrow(NonFiniteError);
    expect(() => layer.forward(rng.normalArray(2 * cfg.dim), { batch: 2, seqlen: 1, startPos: 6 })).toThrow(PositionError);
    const huge = Array.from(rng.normalArray(2 * cfg.dim), (v) => v * 1e300); // finite, but the projections overflow
    expect(() => layer.forward(huge, { batch: 2, seqlen: 1, startPos: 3 })).toThrow(NonFiniteError);
    expect([layer.cache.length(0), layer.cache.length(1)]).toEqual([5, 5]);
    expect(layer.cache.snapshot(2, 5)).toEqual(before);
    layer.dispose();
    expect(() => layer.forward(rng.normalArray(2 * cfg.dim), { batch: 2, seqlen: 1, startPos: 5 })).toThrow(/disposed/);
  });
});
