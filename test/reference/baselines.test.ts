// MHA / GQA / MQA baselines and the seed text's per-head low-rank scheme.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { closeF64, firstMismatch } from "../../src/numerics.js";
import { type MhaWeights, ReferenceMha, mhaWeightShapes } from "../../src/reference/baselines.js";
import { ReferenceSeedLowRank, type SeedLowRankConfig } from "../../src/reference/seed-lowrank.js";
import { softmaxInPlace } from "../../src/reference/softmax.js";
import { Rng, randomWeights } from "../../src/weights.js";
import { mhaConfigArb, scheduleArb, seedArb } from "../support/arb.js";

/** The shared baseline configs, with room for the batch of 2 these tests run. */
const mhaArb = mhaConfigArb.map((c) => ({ ...c, max_batch_size: 2 }));

function runAll(layer: { forward: ReferenceMha["forward"] }, x: Float32Array, batch: number, schedule: number[], D: number): Float64Array[] {
  let pos = 0;
  const T = schedule.reduce((a, b) => a + b, 0);
  return schedule.map((s) => {
    const xi = new Float32Array(batch * s * D);
    for (let b = 0; b < batch; b++) xi.set(x.subarray((b * T + pos) * D, (b * T + pos + s) * D), b * s * D);
    const y = layer.forward(xi, { batch, seqlen: s, startPos: pos });
    pos += s;
    return y;
  });
}

/** Gauss-Jordan inverse of an n x n row-major matrix (test helper; well-conditioned inputs). */
function invert(a: ArrayLike<number>, n: number): Float64Array {
  const m = Float64Array.from(a);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[p * n + c])) p = r;
    for (let k = 0; k < n; k++) {
      [m[c * n + k], m[p * n + k]] = [m[p * n + k], m[c * n + k]];
      [inv[c * n + k], inv[p * n + k]] = [inv[p * n + k], inv[c * n + k]];
    }
    const d = m[c * n + c];
    for (let k = 0; k < n; k++) {
      m[c * n + k] /= d;
      inv[c * n + k] /= d;
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r * n + c];
      for (let k = 0; k < n; k++) {
        m[r * n + k] -= f * m[c * n + k];
        inv[r * n + k] -= f * inv[c * n + k];
      }
    }
  }
  return inv;
}

/** 2I + 0.3 G/sqrt(n): eigenvalues near 2, condition number <= ~2, so the inverse is accurate. */
function wellConditioned(rng: Rng, n: number): Float64Array {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) m[i] = (0.3 * rng.normal()) / Math.sqrt(n);
  for (let i = 0; i < n; i++) m[i * n + i] += 2;
  return m;
}

describe("baselines", () => {
  it("GQA == MHA whose K/V heads are copies of the GQA group heads (MQA included)", () => {
    fc.assert(
      fc.property(mhaArb, scheduleArb, seedArb, (cfg, schedule, seed) => {
        const rng = new Rng(seed);
        const w = randomWeights(mhaWeightShapes(cfg), rng, []) as unknown as MhaWeights;
        const G = cfg.n_kv_heads, H = cfg.n_heads, hd = cfg.head_dim, dv = cfg.v_head_dim, D = cfg.dim;
        const expand = (W: ArrayLike<number>, width: number) => {
          const out = new Float32Array(H * width * D);
          for (let h = 0; h < H; h++) out.set(Array.prototype.slice.call(W, Math.floor(h / (H / G)) * width * D, (Math.floor(h / (H / G)) + 1) * width * D), h * width * D);
          return out;
        };
        const mhaCfg = { ...cfg, n_kv_heads: H };
        const mha = new ReferenceMha(mhaCfg, { wq: w.wq, wk: expand(w.wk, hd), wv: expand(w.wv, dv), wo: w.wo });
        const gqa = new ReferenceMha(cfg, w);
        expect(gqa.kind).toBe(G === H ? "mha" : G === 1 ? "mqa" : "gqa");
        const T = schedule.reduce((a, b) => a + b, 0);
        const x = rng.normalArray(2 * T * D);
        const a = runAll(gqa, x, 2, schedule, D), b = runAll(mha, x, 2, schedule, D);
        a.forEach((y, i) => expect(closeF64(y, b[i])).toBe(true));
        // GQA caches n_kv_heads, not n_heads: the memory it saves.
        expect(gqa.cache.bytesPerToken()).toBe((G * (hd + dv)) * 8);
      }),
      { numRuns: 60 },
    );
  });

  it("seed scheme with r = d_head and W_decomp = W_comp^-1 == MHA", () => {
    fc.assert(
      fc.property(mhaArb, scheduleArb, seedArb, (mcfg, schedule, seed) => {
        const rng = new Rng(seed);
        const cfg: SeedLowRankConfig = { ...mcfg, v_head_dim: mcfg.head_dim, rank: mcfg.head_dim };
        const w = randomWeights(mhaWeightShapes(cfg), rng, []) as unknown as MhaWeights;
        const n = cfg.head_dim;
        const ck = wellConditioned(rng, n), cv = wellConditioned(rng, n);
        const seedLayer = new ReferenceSeedLowRank(cfg, { ...w, w_comp_k: ck, w_decomp_k: invert(ck, n), w_comp_v: cv, w_decomp_v: invert(cv, n) });
        const mha = new ReferenceMha(cfg, w);
        const T = schedule.reduce((a, b) => a + b, 0);
        const x = rng.normalArray(2 * T * cfg.dim);
        const a = runAll(seedLayer, x, 2, schedule, cfg.dim), b = runAll(mha, x, 2, schedule, cfg.dim);
        // W W^-1 = I up to ~n u cond(W) (cond <= ~2 here), far inside the reorder tolerance.
        a.forEach((y, i) => expect(closeF64(y, b[i])).toBe(true));
        expect(seedLayer.cache.bytesPerToken()).toBe(2 * cfg.n_kv_heads * cfg.rank * 8);
      }),
      { numRuns: 60 },
    );
  });

  it("seed scheme at r < d_head differs from MHA (its reconstruction is lossy), so the equality above is not vacuous", () => {
    const rng = new Rng(7);
    const cfg: SeedLowRankConfig = { dim: 16, n_heads: 2, n_kv_heads: 2, head_dim: 8, v_head_dim: 8, rope_dim: 4, rope_theta: 10000, rope_layout: "interleaved", max_seq_len: 16, max_batch_size: 1, rank: 2 };
    const w = randomWeights(mhaWeightShapes(cfg), rng, []) as unknown as MhaWeights;
    const lr = randomWeights({ w_comp_k: [8, 2], w_decomp_k: [2, 8], w_comp_v: [8, 2], w_decomp_v: [2, 8] }, rng, []);
    const x = rng.normalArray(5 * 16);
    const a = new ReferenceSeedLowRank(cfg, { ...w, ...lr }).forward(x, { batch: 1, seqlen: 5, startPos: 0 });
    const b = new ReferenceMha(cfg, w).forward(x, { batch: 1, seqlen: 5, startPos: 0 });
    expect(firstMismatch(a, b, 1e-3, 0)).not.toBe(-1);
  });

  it("softmax is unchanged by a constant shift of its inputs", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -50, max: 50, noNaN: true }), { minLength: 1, maxLength: 40 }), fc.double({ min: -500, max: 500, noNaN: true }), (xs, shift) => {
        const a = Float64Array.from(xs), b = Float64Array.from(xs, (v) => v + shift);
        softmaxInPlace(a, 0, a.length);
        softmaxInPlace(b, 0, b.length);
        // exp(x+c-max(x+c)) == exp(x-max(x)) mathematically; rounding of (x+c) moves arguments
        // by <= u*|x+c| <= 1.1e-16*550, i.e. relative changes of ~1e-13 in each probability.
        expect(firstMismatch(b, a, 1e-12, 1e-12)).toBe(-1);
        expect(Math.abs(a.reduce((s, v) => s + v, 0) - 1)).toBeLessThan(1e-12);
      }),
      { numRuns: 200 },
    );
  });
});
