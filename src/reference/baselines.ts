// Baselines through the same layer interface: MHA (n_kv_heads = n_heads), GQA (n_kv_heads divides
// n_heads) and MQA (n_kv_heads = 1), with RoPE on the last rope_dim elements of every query/key
// head (rope_dim = head_dim: Llama-style full rope; 0: none).

import { type AttentionLayer, type ForwardOptions, ForwardGate, beginForward } from "../layer.js";
import { checkWeights } from "../weights.js";
import { attendRow } from "./attention.js";
import { type Counter, NO_COUNT } from "./counter.js";
import { linear } from "./linear.js";
import { ropeTable } from "../derived.js";
import { applyRope } from "./rope.js";
import { RowCache, attendOverRows } from "./row-cache.js";
import { type MhaConfig, type MhaWeights, mhaFrequencies, mhaKind, mhaWeightShapes, validateMhaConfig } from "../baseline-configs.js";

export type { MhaConfig, MhaWeights };
export { mhaFrequencies, mhaKind, mhaWeightShapes, validateMhaConfig };

/** x [N, D] -> q [N, H, hd], k [N, Hkv, hd] (both roped on their last rope_dim), v [N, Hkv, dv]. Row r is token r % s. */
export function mhaProject(cfg: MhaConfig, w: MhaWeights, x: ArrayLike<number>, N: number, s: number, freqs: Float64Array, startPos: number, count: Counter = NO_COUNT) {
  const { dim: D, n_heads: H, n_kv_heads: G, head_dim: hd, v_head_dim: dv, rope_dim: dr } = cfg;
  const q = linear(x, N, w.wq, H * hd, D, count, "query");
  const k = linear(x, N, w.wk, G * hd, D, count, "compression");
  const v = linear(x, N, w.wv, G * dv, D, count, "compression");
  if (dr > 0) {
    const table = ropeTable(freqs, Array.from({ length: s }, (_, t) => startPos + t));
    for (let r = 0; r < N; r++) {
      for (let h = 0; h < H; h++) applyRope(q, (r * H + h) * hd + hd - dr, dr, table, r % s, cfg.rope_layout);
      for (let g = 0; g < G; g++) applyRope(k, (r * G + g) * hd + hd - dr, dr, table, r % s, cfg.rope_layout);
    }
  }
  return { q, k, v };
}

/** MHA / GQA / MQA with a full K/V cache. */
export class ReferenceMha implements AttentionLayer {
  readonly backend = "reference";
  readonly kind: string;
  readonly dim: number;
  readonly cache: RowCache;
  readonly freqs: Float64Array;
  readonly scale: number;
  private disposed = false;
  private readonly gate = new ForwardGate();

  constructor(readonly cfg: MhaConfig, readonly weights: MhaWeights, readonly options: { counter?: Counter } = {}) {
    validateMhaConfig(cfg);
    checkWeights(mhaWeightShapes(cfg), weights as unknown as Record<string, ArrayLike<number>>);
    this.kind = mhaKind(cfg);
    this.dim = cfg.dim;
    this.freqs = mhaFrequencies(cfg);
    this.scale = 1 / Math.sqrt(cfg.head_dim);
    this.cache = new RowCache(
      [
        { name: "k_cache", tail: [cfg.n_kv_heads, cfg.head_dim] },
        { name: "v_cache", tail: [cfg.n_kv_heads, cfg.v_head_dim] },
      ],
      cfg.max_batch_size,
      cfg.max_seq_len,
    );
  }

  forward(x: ArrayLike<number>, opts: ForwardOptions): Float64Array {
    return this.gate.run(() => {
      const { x: xs, batch: B, seqlen: s, startPos } = beginForward(() => !this.disposed, x, opts, this.cfg, this.cache, "float64");
      const cfg = this.cfg, count = this.options.counter ?? NO_COUNT;
      const { n_heads: H, n_kv_heads: G, head_dim: hd, v_head_dim: dv } = cfg;
      const N = B * s, T = startPos + s;
      const { q, k, v } = mhaProject(cfg, this.weights, xs, N, s, this.freqs, startPos, count);
      const o = new Float64Array(N * H * dv);
      return attendOverRows(this.cache, { B, s, startPos, streams: [k, v], tails: [[G, hd], [G, dv]], count, q, qTail: [H, hd], o, oTail: [H, dv] }, () => {
        for (let b = 0; b < B; b++) {
          const kb = this.cache.read(0, b, T, count, "scores"), vb = this.cache.read(1, b, T, count, "weightedSum");
          o.set(attendRow({ q: q.subarray(b * s * H * hd, (b + 1) * s * H * hd), k: kb, v: vb, s, startPos, hq: H, hkv: G, dqk: hd, dv, scale: this.scale, count }), b * s * H * dv);
        }
        return linear(o, N, this.weights.wo, cfg.dim, H * dv, count, "output");
      });
    });
  }

  dispose(): void {
    this.disposed = true;
  }
}
