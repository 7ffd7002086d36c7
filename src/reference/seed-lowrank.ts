// The scheme of the analysis that started the project, implemented as stated: per head, K and
// V (d_head wide) are compressed with W_comp [d_head, r] to r values each, which is what is
// cached; at every step all cached latents are decompressed with W_decomp [r, d_head] and standard
// attention runs on the reconstructions. This is NOT DeepSeek's MLA (one latent shared by all
// heads, absorbed up-projections); mlakit implements it to measure the seed's claims.
// Matrices use the seed's own layout: L = K W_comp (K a row vector), K' = L W_decomp.

import { type AttentionLayer, type ForwardOptions, ForwardGate, beginForward } from "../layer.js";
import { checkWeights } from "../weights.js";
import { attendRow } from "./attention.js";
import { mhaFrequencies, mhaProject } from "./baselines.js";
import { type Counter, NO_COUNT, type WorkTerm } from "./counter.js";
import { linear, readWeightRow } from "./linear.js";
import { RowCache, attendOverRows } from "./row-cache.js";

import { type SeedLowRankConfig, type SeedLowRankWeights, seedWeightShapes, validateSeedConfig } from "../baseline-configs.js";

export type { SeedLowRankConfig, SeedLowRankWeights };
export { seedWeightShapes };

/** rows x [n, a] times M [a, b] -> [n, b] (the seed's row-vector convention); each row of M is read once. */
function rowTimes(x: ArrayLike<number>, n: number, M: ArrayLike<number>, a: number, b: number, count: Counter, term: WorkTerm): Float64Array {
  const y = new Float64Array(n * b);
  if (n === 0) return y;
  const m = new Float64Array(b); // row i of M
  let madds = 0, reads = 0;
  for (let i = 0; i < a; i++) {
    reads += readWeightRow(M, i * b, b, m);
    for (let r = 0; r < n; r++) {
      const xi = x[r * a + i];
      for (let j = 0; j < b; j++) y[r * b + j] += xi * m[j];
      madds += b;
    }
  }
  count.add(term, "madds", madds);
  count.add(term, "weightReads", reads);
  return y;
}

export class ReferenceSeedLowRank implements AttentionLayer {
  readonly backend = "reference";
  readonly kind = "seed-lowrank";
  readonly dim: number;
  readonly cache: RowCache;
  readonly freqs: Float64Array;
  readonly scale: number;
  private disposed = false;
  private readonly gate = new ForwardGate();

  constructor(readonly cfg: SeedLowRankConfig, readonly weights: SeedLowRankWeights, readonly options: { counter?: Counter } = {}) {
    validateSeedConfig(cfg);
    checkWeights(seedWeightShapes(cfg), weights as unknown as Record<string, ArrayLike<number>>);
    this.dim = cfg.dim;
    this.freqs = mhaFrequencies(cfg);
    this.scale = 1 / Math.sqrt(cfg.head_dim);
    this.cache = new RowCache(
      [
        { name: "lk_cache", tail: [cfg.n_kv_heads, cfg.rank] },
        { name: "lv_cache", tail: [cfg.n_kv_heads, cfg.rank] },
      ],
      cfg.max_batch_size,
      cfg.max_seq_len,
    );
  }

  forward(x: ArrayLike<number>, opts: ForwardOptions): Float64Array {
    return this.gate.run(() => {
      const { x: xs, batch: B, seqlen: s, startPos } = beginForward(() => !this.disposed, x, opts, this.cfg, this.cache, "float64");
      const cfg = this.cfg, w = this.weights, count = this.options.counter ?? NO_COUNT;
      const { n_heads: H, n_kv_heads: G, head_dim: hd, v_head_dim: dv, rank: r } = cfg;
      const N = B * s, T = startPos + s;
      const { q, k, v } = mhaProject(cfg, w, xs, N, s, this.freqs, startPos, count);
      const lk = rowTimes(k, N * G, w.w_comp_k, hd, r, count, "compression"); // [N, G, r]
      const lv = rowTimes(v, N * G, w.w_comp_v, dv, r, count, "compression"); // [N, G, r]
      const o = new Float64Array(N * H * dv);
      return attendOverRows(this.cache, { B, s, startPos, streams: [lk, lv], tails: [[G, r], [G, r]], count, q, qTail: [H, hd], o, oTail: [H, dv] }, () => {
        // Online decompression of every cached token of every row (the seed's K' = L_K W_decomp, V' = L_V W_decomp), one product per matrix.
        const cachedK = new Float64Array(B * T * G * r), cachedV = new Float64Array(B * T * G * r); // [B, T, G, r]
        for (let b = 0; b < B; b++) {
          cachedK.set(this.cache.read(0, b, T, count, "decompression"), b * T * G * r);
          cachedV.set(this.cache.read(1, b, T, count, "decompression"), b * T * G * r);
        }
        const kRec = rowTimes(cachedK, B * T * G, w.w_decomp_k, r, hd, count, "decompression"); // [B, T, G, hd]
        const vRec = rowTimes(cachedV, B * T * G, w.w_decomp_v, r, dv, count, "decompression"); // [B, T, G, dv]
        for (let b = 0; b < B; b++) {
          const kb = kRec.subarray(b * T * G * hd, (b + 1) * T * G * hd), vb = vRec.subarray(b * T * G * dv, (b + 1) * T * G * dv);
          o.set(attendRow({ q: q.subarray(b * s * H * hd, (b + 1) * s * H * hd), k: kb, v: vb, s, startPos, hq: H, hkv: G, dqk: hd, dv, scale: this.scale, count }), b * s * H * dv);
        }
        return linear(o, N, w.wo, cfg.dim, H * dv, count, "output");
      });
    });
  }

  dispose(): void {
    this.disposed = true;
  }
}

