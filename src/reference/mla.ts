// Multi-head Latent Attention, float64, as DeepSeek-V3 `inference/model.py` class MLA computes it.
// One short function per equation of DESIGN.md "The math"; the naive and absorbed paths side by
// side in `forward`, plus `recompute` (cache latents only, decompress every cached token at each
// step: the picture the seed text has in mind). The absorbed path can keep its latents in a paged
// LatentCache of any storage format (options.cache) and attend over it with pagedAttend.
//
// Shapes: B batch, s new tokens, N = B*s rows, T cached tokens, H heads, D dim, Q q_lora_rank,
// C kv_lora_rank, dn qk_nope_head_dim, dr qk_rope_head_dim, dv v_head_dim.

import { type MlaConfig, qkHeadDim } from "../config.js";
import { type AttentionLayer, type ForwardCall, type ForwardOptions, type ForwardStage, ForwardGate, type StageValues, beginForward, checkOutput, checkStage, overflowError } from "../layer.js";
import { ConfigError, memoryError } from "../errors.js";
import { type MlaWeights, checkMlaWeights } from "../weights.js";
import { type MlaWeightsInput, dequantiseMlaWeights, hasQuantised } from "../weight-formats.js";
import { attendRow } from "./attention.js";
import { type Counter, NO_COUNT } from "./counter.js";
import { linear, readWeightRow } from "./linear.js";
import { rmsNorm } from "./rmsnorm.js";
import { mlaSoftmaxScale, ropeFrequencies, callRopeTable } from "../derived.js";
import { applyRope } from "./rope.js";
import { RowCache } from "./row-cache.js";
import { pagedAttend } from "./paged-attention.js";
import { LatentCache, type LatentCacheOptions } from "../cache/latent-cache.js";

export type MlaPath = "naive" | "absorbed" | "recompute";
export const MLA_PATHS: readonly MlaPath[] = ["naive", "absorbed", "recompute"];

type RopeTable = { cos: Float64Array; sin: Float64Array };

// ---------------------------------------------------------------------------------------------
// The equations

/** A float64 RMSNorm input whose sum of squares overflows (row r = token r % s of batch row r / s) is a NonFiniteError of its stage. */
function normOverflow(stage: ForwardStage, name: string, s: number): (r: number, ss: number) => never {
  return (r, ss) => {
    throw overflowError(stage, `${name} sum of squares`, [Math.floor(r / s), r % s], ss, "float64", "RMSNorm squares its inputs");
  };
}

/** (1) q = wq(x) or wq_b(q_norm(wq_a(x))): x [N, D] -> q [N, H, dn+dr]; (4) rope on each head's q_pe. Row r is token r % s of its batch row. */
export function mlaQuery(cfg: MlaConfig, w: MlaWeights, x: ArrayLike<number>, N: number, s: number, table: RopeTable, count: Counter = NO_COUNT): Float64Array {
  const H = cfg.n_heads, D = cfg.dim, Q = cfg.q_lora_rank, dn = cfg.qk_nope_head_dim, dr = cfg.qk_rope_head_dim;
  const qk = dn + dr;
  let q: Float64Array;
  if (Q === 0) {
    q = linear(x, N, w.wq!, H * qk, D, count, "query"); // [N, H*qk]
  } else {
    const qa = linear(x, N, w.wq_a!, Q, D, count, "query"); // [N, Q]
    q = linear(rmsNorm(qa, N, Q, w.q_norm!, undefined, 0, Q, normOverflow("query", "q_a", s)), N, w.wq_b!, H * qk, Q, count, "query"); // [N, H*qk]
  }
  for (let r = 0; r < N; r++) for (let h = 0; h < H; h++) applyRope(q, (r * H + h) * qk + dn, dr, table, r % s, cfg.rope_layout);
  return q;
}

/** (2)(3)(4) wkv_a(x) = [c_kv | k_pe]: c = kv_norm(c_kv) [N, C]; k_pe [N, dr] roped (one key for all heads). */
export function mlaCompress(cfg: MlaConfig, w: MlaWeights, x: ArrayLike<number>, N: number, s: number, table: RopeTable, count: Counter = NO_COUNT): { c: Float64Array; kpe: Float64Array } {
  const C = cfg.kv_lora_rank, dr = cfg.qk_rope_head_dim;
  const kv = linear(x, N, w.wkv_a, C + dr, cfg.dim, count, "compression"); // [N, C+dr]
  const c = rmsNorm(kv, N, C, w.kv_norm, undefined, 0, C + dr, normOverflow("latent", "c_kv", s)); // [N, C]
  const kpe = new Float64Array(N * dr);
  for (let r = 0; r < N; r++) {
    for (let i = 0; i < dr; i++) kpe[r * dr + i] = kv[r * (C + dr) + C + i];
    applyRope(kpe, r * dr, dr, table, r % s, cfg.rope_layout);
  }
  return { c, kpe };
}

/** (7) kv = wkv_b(c): c [N, C] -> k_nope [N, H, dn], v [N, H, dv]. */
export function mlaDecompress(cfg: MlaConfig, w: MlaWeights, c: ArrayLike<number>, N: number, count: Counter = NO_COUNT): { kNope: Float64Array; v: Float64Array } {
  const H = cfg.n_heads, C = cfg.kv_lora_rank, dn = cfg.qk_nope_head_dim, dv = cfg.v_head_dim;
  const kv = linear(c, N, w.wkv_b, H * (dn + dv), C, count, "decompression"); // [N, H, dn+dv]
  const kNope = new Float64Array(N * H * dn);
  const v = new Float64Array(N * H * dv);
  for (let r = 0; r < N; r++) {
    for (let h = 0; h < H; h++) {
      const src = (r * H + h) * (dn + dv);
      for (let d = 0; d < dn; d++) kNope[(r * H + h) * dn + d] = kv[src + d];
      for (let d = 0; d < dv; d++) v[(r * H + h) * dv + d] = kv[src + dn + d];
    }
  }
  return { kNope, v };
}

/**
 * The absorption's walk over wkv_b viewed [H, dn+dv, C]: for head h, each row d of its k part
 * (W_UK[h] = rows 0..dn-1) or v part (W_UV[h] = rows dn..dn+dv-1) is read once, for all N rows
 * of the call, and handed to `use`; counts the reads and the N*C madds per row.
 */
function forEachAbsorbRow(cfg: MlaConfig, w: MlaWeights, part: "k" | "v", N: number, count: Counter, use: (h: number, d: number, row: Float64Array) => void): void {
  const H = cfg.n_heads, C = cfg.kv_lora_rank, dn = cfg.qk_nope_head_dim, dv = cfg.v_head_dim;
  if (N === 0) return;
  const row = new Float64Array(C), rows = part === "k" ? dn : dv, first = part === "k" ? 0 : dn;
  let reads = 0;
  for (let h = 0; h < H; h++) {
    for (let d = 0; d < rows; d++) {
      reads += readWeightRow(w.wkv_b, (h * (dn + dv) + first + d) * C, C, row);
      use(h, d, row);
    }
  }
  count.add("absorption", "madds", H * rows * N * C);
  count.add("absorption", "weightReads", reads);
}

/** (8) q_abs[h] = q_nope[h] W[h, :dn]: q [N, H, dn+dr] -> [N, H, C] with W = wkv_b viewed [H, dn+dv, C]. */
export function absorbQuery(cfg: MlaConfig, w: MlaWeights, q: ArrayLike<number>, N: number, count: Counter = NO_COUNT): Float64Array {
  const H = cfg.n_heads, C = cfg.kv_lora_rank, qk = qkHeadDim(cfg);
  const out = new Float64Array(N * H * C);
  forEachAbsorbRow(cfg, w, "k", N, count, (h, d, wRow) => {
    for (let r = 0; r < N; r++) {
      const qd = q[(r * H + h) * qk + d], o = (r * H + h) * C;
      for (let c = 0; c < C; c++) out[o + c] += qd * wRow[c];
    }
  });
  return out;
}

/** (8) The absorbed query [N, H, C+dr] = [q_abs | q_pe] per head: against the latent keys [c | k_pe] a score is one dot product. */
export function latentQuery(cfg: MlaConfig, w: MlaWeights, q: Float64Array, N: number, count: Counter = NO_COUNT): Float64Array {
  const H = cfg.n_heads, C = cfg.kv_lora_rank, dn = cfg.qk_nope_head_dim, dr = cfg.qk_rope_head_dim, qk = dn + dr;
  const qAbs = absorbQuery(cfg, w, q, N, count); // [N, H, C]
  const qLat = new Float64Array(N * H * (C + dr));
  for (let r = 0; r < N * H; r++) {
    qLat.set(qAbs.subarray(r * C, (r + 1) * C), r * (C + dr));
    qLat.set(q.subarray(r * qk + dn, (r + 1) * qk), r * (C + dr) + C);
  }
  return qLat;
}

/** (8) o[h] = o_lat[h] W[h, dn:]^T: [N, H, C] -> [N, H, dv]. */
export function absorbOutput(cfg: MlaConfig, w: MlaWeights, oLat: ArrayLike<number>, N: number, count: Counter = NO_COUNT): Float64Array {
  const H = cfg.n_heads, C = cfg.kv_lora_rank, dv = cfg.v_head_dim;
  const out = new Float64Array(N * H * dv);
  forEachAbsorbRow(cfg, w, "v", N, count, (h, d, wRow) => {
    for (let r = 0; r < N; r++) {
      const src = (r * H + h) * C;
      let acc = 0;
      for (let c = 0; c < C; c++) acc += oLat[src + c] * wRow[c];
      out[(r * H + h) * dv + d] = acc;
    }
  });
  return out;
}

/** k rows of the naive cache: per head [k_nope (dn) | k_pe (dr)], k_pe broadcast to all heads. */
export function naiveKeys(cfg: MlaConfig, kNope: ArrayLike<number>, kpe: ArrayLike<number>, N: number): Float64Array {
  const H = cfg.n_heads, dn = cfg.qk_nope_head_dim, dr = cfg.qk_rope_head_dim, qk = dn + dr;
  const k = new Float64Array(N * H * qk);
  for (let r = 0; r < N; r++) {
    for (let h = 0; h < H; h++) {
      for (let d = 0; d < dn; d++) k[(r * H + h) * qk + d] = kNope[(r * H + h) * dn + d];
      for (let d = 0; d < dr; d++) k[(r * H + h) * qk + dn + d] = kpe[r * dr + d];
    }
  }
  return k;
}

/** Latent keys [T, C+dr] = [c | k_pe], one key head for all query heads (latentQuery's [q_abs | q_pe] scores against them): MQA in the latent space. */
export function latentKeys(c: ArrayLike<number>, pe: ArrayLike<number>, T: number, C: number, dr: number): Float64Array {
  const k = new Float64Array(T * (C + dr));
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < C; i++) k[t * (C + dr) + i] = c[t * C + i];
    for (let i = 0; i < dr; i++) k[t * (C + dr) + C + i] = pe[t * dr + i];
  }
  return k;
}

// ---------------------------------------------------------------------------------------------
// The layer

export interface ReferenceMlaOptions<K extends LatentCacheOptions | undefined = LatentCacheOptions | undefined> {
  /** naive (official attn_impl="naive"), absorbed (attn_impl="absorb", the default), or recompute. */
  path?: MlaPath;
  /** Receives the work performed (madds, reads, writes per term). */
  counter?: Counter;
  /**
   * Absorbed path only: keep the latent cache in a LatentCache (src/cache) of this storage format
   * and pool size instead of float64 rows, and attend over it with pagedAttend. The layer's
   * backend is then "reference+cache-<format>"; with format "f32" it differs from the oracle only
   * by rounding c and k_pe to float32.
   */
  cache?: K;
}

/** The cache a ReferenceMla owns: float64 rows, or the LatentCache asked for with options.cache. */
export type ReferenceMlaCache<K> = K extends LatentCacheOptions ? LatentCache : RowCache;

export class ReferenceMla<K extends LatentCacheOptions | undefined = undefined> implements AttentionLayer {
  readonly backend: string;
  readonly kind: string;
  readonly dim: number;
  readonly path: MlaPath;
  readonly cache: ReferenceMlaCache<K>;
  /** f_i of RoPE with YaRN applied, [dr/2]. */
  readonly freqs: Float64Array;
  readonly softmaxScale: number;
  private readonly rows: RowCache | null = null;
  private readonly latent: LatentCache | null = null;
  private disposed = false;
  private readonly gate = new ForwardGate();

  readonly weights: MlaWeights;

  /** Quantised projections (src/weight-formats.ts) are dequantised exactly (float64) first. */
  constructor(readonly cfg: MlaConfig, weights: MlaWeights | MlaWeightsInput, readonly options: ReferenceMlaOptions<K> = {}) {
    this.weights = hasQuantised(weights) ? dequantiseMlaWeights(cfg, weights) : (weights as MlaWeights);
    checkMlaWeights(cfg, this.weights);
    this.path = options.path ?? "absorbed";
    if (!["naive", "absorbed", "recompute"].includes(this.path)) {
      throw new ConfigError("options.path", this.path, '"naive", "absorbed" or "recompute"');
    }
    this.kind = `mla-${this.path}`;
    this.dim = cfg.dim;
    this.freqs = ropeFrequencies(cfg);
    this.softmaxScale = mlaSoftmaxScale(cfg);
    if (options.cache !== undefined) {
      if (this.path !== "absorbed") throw new ConfigError("options.cache", this.path, 'path "absorbed" (a LatentCache holds the latents the absorbed path attends over)');
      this.latent = new LatentCache(cfg, options.cache);
      this.backend = `reference+cache-${this.latent.format}`;
    } else {
      const H = cfg.n_heads;
      const streams =
        this.path === "naive"
          ? [
              { name: "k_cache", tail: [H, qkHeadDim(cfg)] },
              { name: "v_cache", tail: [H, cfg.v_head_dim] },
            ]
          : [
              { name: "kv_cache", tail: [cfg.kv_lora_rank] },
              { name: "pe_cache", tail: [cfg.qk_rope_head_dim] },
            ];
      try {
        this.rows = new RowCache(streams, cfg.max_batch_size, cfg.max_seq_len);
      } catch (e) {
        throw memoryError(e, "max_batch_size", cfg.max_batch_size); // per-row tables the runtime cannot allocate
      }
      this.backend = "reference";
    }
    this.cache = (this.latent ?? this.rows) as ReferenceMlaCache<K>;
  }

  forward(x: ArrayLike<number>, opts: ForwardOptions): Float64Array {
    return this.gate.run(() => {
      const call = beginForward(() => !this.disposed, x, opts, this.cfg, this.cache, "float64");
      try {
        return this.run(call);
      } catch (e) {
        throw memoryError(e, "memory", `a call of ${call.batch} x ${call.seqlen} tokens at startPos ${call.startPos}`);
      }
    });
  }

  /**
   * One validated call. The new latents (and the naive path's K/V) are checked before they are
   * stored; the cache takes them before attention (attention reads them there) but commits only
   * once the output is finite: a call that throws undoes its writes and changes nothing.
   */
  private run({ x, batch: B, seqlen: s, startPos }: ForwardCall<Float64Array>): Float64Array {
    const cfg = this.cfg, w = this.weights;
    const count = this.options.counter ?? NO_COUNT;
    const N = B * s, T = startPos + s;
    const H = cfg.n_heads, C = cfg.kv_lora_rank, dn = cfg.qk_nope_head_dim, dr = cfg.qk_rope_head_dim, dv = cfg.v_head_dim, qk = dn + dr;
    const table = callRopeTable(cfg, this.freqs, startPos, s);

    const q = mlaQuery(cfg, w, x, N, s, table, count); // [N, H, dn+dr]
    const { c, kpe } = mlaCompress(cfg, w, x, N, s, table, count); // [N, C], [N, dr]
    checkStage("latent", "c", c, N, s, 0, [C], "float64");
    checkStage("latent", "k_pe", kpe, N, s, 0, [dr], "float64");
    const o = new Float64Array(N * H * dv); // [B, s, H, dv]
    const stages: StageValues[] = [{ stage: "query", name: "q", data: q, tail: [H, qk] }];
    let undo: () => void;
    if (this.path === "naive") {
      // Decompress the new tokens once and cache full per-head K/V.
      const { kNope, v } = mlaDecompress(cfg, w, c, N, count);
      checkStage("decompression", "k_nope", kNope, N, s, 0, [H, dn], "float64");
      checkStage("decompression", "v", v, N, s, 0, [H, dv], "float64");
      undo = this.rows!.writeTokens(B, s, startPos, [naiveKeys(cfg, kNope, kpe, N), v], count); // k [N, H, dn+dr], v [N, H, dv]
    } else undo = this.storeLatents(c, kpe, B, s, startPos, count);
    try {
      if (this.path === "naive") {
        const rows = this.rows!;
        for (let b = 0; b < B; b++) {
          const kb = rows.read(0, b, T, count, "scores"), vb = rows.read(1, b, T, count, "weightedSum");
          o.set(attendRow({ q: q.subarray(b * s * H * qk, (b + 1) * s * H * qk), k: kb, v: vb, s, startPos, hq: H, hkv: H, dqk: qk, dv, scale: this.softmaxScale, count }), b * s * H * dv);
        }
      } else if (this.path === "absorbed") {
        // Cache only the normalised latent and the roped k_pe; attend in the latent space.
        const qLat = latentQuery(cfg, w, q, N, count); // [N, H, C+dr]
        stages.push({ stage: "query", name: "q_latent", data: qLat, tail: [H, C + dr] });
        const oLat = new Float64Array(N * H * C); // [N, H, C]
        for (let b = 0; b < B; b++) oLat.set(this.attendLatent(b, qLat.subarray(b * s * H * (C + dr), (b + 1) * s * H * (C + dr)), s, startPos, count), b * s * H * C);
        o.set(absorbOutput(cfg, w, oLat, N, count));
      } else {
        // recompute: cache the latents as the absorbed path, then decompress all T cached latents of every row and attend as the naive path.
        const rows = this.rows!;
        const lat = new Float64Array(B * T * C);
        const kpeRows: Float64Array[] = [];
        for (let b = 0; b < B; b++) {
          lat.set(rows.read(0, b, T, count, "decompression"), b * T * C);
          kpeRows.push(rows.read(1, b, T, count, "decompression"));
        }
        const { kNope, v } = mlaDecompress(cfg, w, lat, B * T, count); // [B*T, H, dn], [B*T, H, dv]
        for (let b = 0; b < B; b++) {
          const k = naiveKeys(cfg, kNope.subarray(b * T * H * dn, (b + 1) * T * H * dn), kpeRows[b], T);
          const ob = attendRow({ q: q.subarray(b * s * H * qk, (b + 1) * s * H * qk), k, v: v.subarray(b * T * H * dv, (b + 1) * T * H * dv), s, startPos, hq: H, hkv: H, dqk: qk, dv, scale: this.softmaxScale, count });
          o.set(ob, b * s * H * dv);
        }
      }
      stages.push({ stage: "attention", name: "o", data: o, tail: [H, dv] });
      const y = linear(o, N, w.wo, cfg.dim, H * dv, count, "output"); // (9) [B, s, D]
      checkOutput(y, [cfg.dim], stages, N, s, 0, "float64");
      this.rows?.commit(B, T);
      return y;
    } catch (e) {
      undo();
      throw e;
    }
  }

  /**
   * Rows 0..B-1 get c [B*s, C] and k_pe [B*s, dr] at positions startPos.. (rolled back first):
   * all rows or, when the cache refuses, none. Float64 rows are committed by the caller. Returns
   * the undo of these writes (a later stage of the call may still fail).
   */
  private storeLatents(c: Float64Array, kpe: Float64Array, B: number, s: number, startPos: number, count: Counter): () => void {
    const C = this.cfg.kv_lora_rank, dr = this.cfg.qk_rope_head_dim;
    if (!this.latent) return this.rows!.writeTokens(B, s, startPos, [c, kpe], count);
    const latent = this.latent;
    const writes = Array.from({ length: B }, (_, b) => ({ seq: b, startPos, c: c.subarray(b * s * C, (b + 1) * s * C), kpe: kpe.subarray(b * s * dr, (b + 1) * s * dr) }));
    const cp = latent.checkpoint(writes);
    latent.writeBatch(writes); // checks shapes, values, room; then cannot fail
    for (const wr of writes) count.add("compression", "cacheWrites", wr.c.length + wr.kpe.length);
    return () => latent.restore(cp);
  }

  /** MQA in the latent space for batch row b: q [s, H, C+dr] over keys [c | k_pe] and values c of its T = startPos + s cached tokens -> o_lat [s, H, C]. */
  private attendLatent(b: number, q: Float64Array, s: number, startPos: number, count: Counter): Float64Array {
    const H = this.cfg.n_heads, C = this.cfg.kv_lora_rank, dr = this.cfg.qk_rope_head_dim, T = startPos + s;
    if (this.latent) return pagedAttend(this.latent, b, { q, s, startPos, heads: H, scale: this.softmaxScale, count });
    // c and k_pe read once for all heads; c is reused by the weighted sum
    const kv = this.rows!.read(0, b, T, count, "scores"), pe = this.rows!.read(1, b, T, count, "scores");
    return attendRow({ q, k: latentKeys(kv, pe, T, C, dr), v: kv, s, startPos, hq: H, hkv: 1, dqk: C + dr, dv: C, scale: this.softmaxScale, count });
  }

  dispose(): void {
    this.disposed = true;
  }
}

export function createReferenceMla<K extends LatentCacheOptions | undefined = undefined>(cfg: MlaConfig, weights: MlaWeights, options: ReferenceMlaOptions<K> = {}): ReferenceMla<K> {
  return new ReferenceMla(cfg, weights, options);
}
