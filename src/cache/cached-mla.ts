// MLA's absorbed path with its latent cache in a LatentCache of any storage format: the oracle's
// float64 step functions (src/reference/mla.ts) for everything but the cache, paged attention
// over the dequantised cache. Implements the one layer interface, so the accuracy table, the
// conformance kit and the CLI can run it like any backend. With format "f32" it differs from the
// oracle only by rounding c and k_pe to float32.

import { type MlaConfig, qkHeadDim } from "../config.js";
import { MlaError } from "../errors.js";
import { type AttentionLayer, type ForwardOptions, checkForwardArgs } from "../layer.js";
import { absorbOutput, absorbQuery, mlaCompress, mlaQuery } from "../reference/mla.js";
import { linear } from "../reference/linear.js";
import { mlaSoftmaxScale, ropeFrequencies, ropeTable } from "../derived.js";
import { type MlaWeights, checkMlaWeights } from "../weights.js";
import { LatentCache, type LatentCacheOptions } from "./latent-cache.js";
import { pagedAttend } from "./paged-attention.js";

export class CachedMla implements AttentionLayer {
  readonly backend: string;
  readonly kind = "mla-absorbed";
  readonly dim: number;
  readonly cache: LatentCache;
  readonly freqs: Float64Array;
  readonly softmaxScale: number;
  private disposed = false;

  constructor(readonly cfg: MlaConfig, readonly weights: MlaWeights, cacheOptions: LatentCacheOptions = {}) {
    checkMlaWeights(cfg, weights);
    this.cache = new LatentCache(cfg, cacheOptions);
    this.backend = `reference+cache-${this.cache.format}`;
    this.dim = cfg.dim;
    this.freqs = ropeFrequencies(cfg);
    this.softmaxScale = mlaSoftmaxScale(cfg);
  }

  forward(x: ArrayLike<number>, opts: ForwardOptions): Float64Array {
    if (this.disposed) throw new MlaError("layer", "disposed", "a layer that has not been disposed");
    const cfg = this.cfg, w = this.weights;
    checkForwardArgs(x, opts, { dim: cfg.dim, maxBatch: cfg.max_batch_size, maxSeqLen: cfg.max_seq_len, cachedLength: (b) => this.cache.length(b) });
    const { batch: B, seqlen: s, startPos } = opts;
    const N = B * s;
    const H = cfg.n_heads, C = cfg.kv_lora_rank, dn = cfg.qk_nope_head_dim, dr = cfg.qk_rope_head_dim, qk = qkHeadDim(cfg);
    const table = ropeTable(this.freqs, Array.from({ length: s }, (_, t) => startPos + t));
    const q = mlaQuery(cfg, w, x, N, s, table); // [N, H, dn+dr]
    const { c, kpe } = mlaCompress(cfg, w, x, N, s, table); // [N, C], [N, dr]
    this.cache.writeBatch(Array.from({ length: B }, (_, b) => ({ seq: b, startPos, c: c.subarray(b * s * C, (b + 1) * s * C), kpe: kpe.subarray(b * s * dr, (b + 1) * s * dr) })));
    const qAbs = absorbQuery(cfg, w, q, N); // [N, H, C]
    const qLat = new Float64Array(N * H * (C + dr)); // [N, H, C+dr]
    for (let r = 0; r < N * H; r++) {
      qLat.set(qAbs.subarray(r * C, (r + 1) * C), r * (C + dr));
      qLat.set(q.subarray(r * qk + dn, (r + 1) * qk), r * (C + dr) + C);
    }
    const oLat = new Float64Array(N * H * C);
    for (let b = 0; b < B; b++) {
      const qb = qLat.subarray(b * s * H * (C + dr), (b + 1) * s * H * (C + dr));
      oLat.set(pagedAttend(this.cache, b, { q: qb, s, startPos, heads: H, scale: this.softmaxScale }), b * s * H * C);
    }
    return linear(absorbOutput(cfg, w, oLat, N), N, w.wo, cfg.dim, H * cfg.v_head_dim); // [B, s, D]
  }

  dispose(): void {
    this.disposed = true;
  }
}
