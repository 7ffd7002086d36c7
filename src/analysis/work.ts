// Closed-form work of one layer call, per term and field, in the units the oracle counts (src/work-terms.ts):
// multiply-adds, exponentials, weight elements read (each matrix once per call), cache elements
// read (once per batch row per call) and written. Property tests assert that these equal what the
// reference counts while it runs, for every term, field, path and baseline.
//
// Shapes: B batch, s new tokens, P = startPos, T = P + s keys after the call, N = B*s query rows.
// Causal attention: new token t sees P + t + 1 keys, so one row attends K = s*P + s*(s+1)/2
// (query, key) pairs per head. H heads, D dim, Q q_lora_rank, C kv_lora_rank, dn, dr, dv.
// RMSNorm and RoPE are O(width) per token and are not counted (in the oracle or here).

import { type DsaConfig, type MlaConfig, isDsaConfig } from "../config.js";
import { ConfigError } from "../errors.js";
import type { MhaConfig, SeedLowRankConfig } from "../baseline-configs.js";
import { type WorkCounts, type WorkTerm, WORK_TERMS, zeroCounts } from "../work-terms.js";


/** The four paths of the cost model: MLA naive / recompute / absorbed, and an MHA of the same heads. */
export const PATHS = ["naive", "recompute", "absorbed", "mha"] as const;
export type CostPath = (typeof PATHS)[number];
/** Further baselines the model also prices: GQA, MQA and the seed text's per-head scheme. */
export const EXTRA_PATHS = ["gqa", "mqa", "seedPerHead"] as const;
export type AnyPath = CostPath | (typeof EXTRA_PATHS)[number];
export const ALL_PATHS: readonly AnyPath[] = [...PATHS, ...EXTRA_PATHS];
/** DeepSeek-V3.2's sparse attention (src/reference/dsa): priced only for a config with the indexer's fields. */
export type SparsePath = "dsa";
/** Every path the cost model prices: the dense ones of any MLA config, and DSA of a V3.2 config. */
export type ModelPath = AnyPath | SparsePath;

/** The paths a config can be priced on: ALL_PATHS, and "dsa" when the config is a V3.2 layer. */
export function pathsOf(cfg: MlaConfig): readonly ModelPath[] {
  return isDsaConfig(cfg) ? [...ALL_PATHS, "dsa"] : ALL_PATHS;
}

/** The config as a V3.2 layer, or a ConfigError naming index_topk. */
export function requireDsa(cfg: MlaConfig): DsaConfig {
  if (!isDsaConfig(cfg)) throw new ConfigError("config.index_topk", cfg.index_topk, "a DeepSeek-V3.2 config (index_n_heads, index_head_dim, index_topk, scale_fmt; e.g. preset deepseek-v3.2) for the dsa path");
  return cfg;
}

export interface CallShape {
  batch: number;
  seqlen: number;
  startPos: number;
}

export type Work = Record<WorkTerm, WorkCounts>;

function emptyWork(): Work {
  return Object.fromEntries(WORK_TERMS.map((t) => [t, zeroCounts()])) as Work;
}

/** (query, key) pairs one batch row attends per head under the causal mask. */
export function causalPairs(seqlen: number, startPos: number): number {
  return seqlen * startPos + (seqlen * (seqlen + 1)) / 2;
}

/**
 * (query, key) pairs one batch row attends per head under DSA: new token t sees v = P + t + 1 keys
 * and attends min(K, v) of them, K = index_topk. Sum over v = P+1 .. P+s of min(K, v).
 */
export function sparsePairs(seqlen: number, startPos: number, topk: number): number {
  const lo = startPos + 1, hi = startPos + seqlen; // v ranges over lo..hi
  const m = Math.min(hi, topk); // v <= m attend all v keys; v > m attend topk
  const below = m >= lo ? (m * (m + 1)) / 2 - ((lo - 1) * lo) / 2 : 0;
  return below + topk * (hi - Math.max(m, lo - 1));
}

/** Sum of a Work over terms. */
export function totalWork(w: Work): WorkCounts {
  const t = zeroCounts();
  for (const term of WORK_TERMS) for (const f of Object.keys(t) as (keyof WorkCounts)[]) t[f] += w[term][f];
  return t;
}

/** MLA (config.ts) on the naive, absorbed or recompute path of src/reference/mla.ts. */
export function mlaWork(cfg: MlaConfig, path: "naive" | "absorbed" | "recompute", shape: CallShape): Work {
  const { batch: B, seqlen: s, startPos: P } = shape;
  const H = cfg.n_heads, D = cfg.dim, Q = cfg.q_lora_rank, C = cfg.kv_lora_rank;
  const dn = cfg.qk_nope_head_dim, dr = cfg.qk_rope_head_dim, dv = cfg.v_head_dim, qk = dn + dr;
  const N = B * s, T = P + s, K = B * causalPairs(s, P);
  const w = emptyWork();

  // query: wq (Q = 0) or wq_a then wq_b
  if (Q === 0) {
    w.query.madds = N * H * qk * D;
    w.query.weightReads = H * qk * D;
  } else {
    w.query.madds = N * Q * D + N * H * qk * Q;
    w.query.weightReads = Q * D + H * qk * Q;
  }
  // compression: wkv_a -> [c_kv | k_pe]; the cache append is counted here too
  w.compression.madds = N * (C + dr) * D;
  w.compression.weightReads = (C + dr) * D;
  w.compression.cacheWrites = path === "naive" ? N * H * (qk + dv) : N * (C + dr);

  w.softmax.exps = K * H;
  w.output.madds = N * D * H * dv;
  w.output.weightReads = D * H * dv;

  if (path === "naive") {
    w.decompression.madds = N * H * (dn + dv) * C; // the new tokens only, once
    w.decompression.weightReads = H * (dn + dv) * C;
    w.scores.madds = K * H * qk;
    w.scores.cacheReads = B * T * H * qk;
    w.weightedSum.madds = K * H * dv;
    w.weightedSum.cacheReads = B * T * H * dv;
  } else if (path === "recompute") {
    w.decompression.madds = B * T * H * (dn + dv) * C; // every cached token, again at every call
    w.decompression.weightReads = H * (dn + dv) * C;
    w.decompression.cacheReads = B * T * (C + dr);
    w.scores.madds = K * H * qk;
    w.weightedSum.madds = K * H * dv;
  } else {
    w.absorption.madds = N * H * (dn + dv) * C; // q_nope x W_UK and o_lat x W_UV
    w.absorption.weightReads = H * (dn + dv) * C;
    w.scores.madds = K * H * (C + dr); // MQA in the latent space: one key head of width C + dr
    w.scores.cacheReads = B * T * (C + dr); // read once for all heads, reused by the weighted sum
    w.weightedSum.madds = K * H * C;
  }
  return w;
}

/**
 * DeepSeek-V3.2 sparse attention of src/reference/dsa/layer.ts: MLA's query (through qr) and
 * compression; the indexer (wq_b from qr, wk, weights_proj; every new token's index key written and
 * all T cached index keys read, DI e4m3 values + DI/128 scales each; DI + 1 madds per (query, key,
 * index head) over all T keys, before the causal mask); top-k ranking each row's P + t + 1 visible
 * scores; attention over min(K, P + t + 1) selected keys. A one-token call attends absorbed (it
 * reads only the selected latents), a longer one in MHA form over every cached latent decompressed
 * (the official prefill at P = 0).
 */
export function dsaWork(cfg0: MlaConfig, shape: CallShape): Work {
  const cfg = requireDsa(cfg0);
  const { batch: B, seqlen: s, startPos: P } = shape;
  const H = cfg.n_heads, D = cfg.dim, Q = cfg.q_lora_rank, C = cfg.kv_lora_rank;
  const dn = cfg.qk_nope_head_dim, dr = cfg.qk_rope_head_dim, dv = cfg.v_head_dim, qk = dn + dr;
  const HI = cfg.index_n_heads, DI = cfg.index_head_dim, key = DI + DI / 128; // e4m3 values + one scale per 128
  const N = B * s, T = P + s;
  const sel = B * sparsePairs(s, P, cfg.index_topk); // selected (query, key) pairs
  const w = emptyWork();

  w.query.madds = N * Q * D + N * H * qk * Q;
  w.query.weightReads = Q * D + H * qk * Q;
  w.compression.madds = N * (C + dr) * D;
  w.compression.weightReads = (C + dr) * D;
  w.compression.cacheWrites = N * (C + dr);

  w.indexer.madds = N * HI * DI * Q + N * DI * D + N * HI * D;
  w.indexer.weightReads = HI * DI * Q + DI * D + HI * D;
  w.indexer.cacheWrites = N * key;
  w.indexScores.madds = N * T * HI * (DI + 1);
  w.indexScores.cacheReads = B * T * key;
  w.topk.ranked = B * causalPairs(s, P);

  w.softmax.exps = sel * H;
  w.output.madds = N * D * H * dv;
  w.output.weightReads = D * H * dv;
  if (s === 1) {
    w.absorption.madds = N * H * (dn + dv) * C;
    w.absorption.weightReads = H * (dn + dv) * C;
    w.scores.madds = sel * H * (C + dr);
    w.scores.cacheReads = sel * (C + dr); // one query per row: its selected latents, once for all heads
    w.weightedSum.madds = sel * H * C;
  } else {
    w.decompression.madds = B * T * H * (dn + dv) * C;
    w.decompression.weightReads = H * (dn + dv) * C;
    w.decompression.cacheReads = B * T * (C + dr);
    w.scores.madds = sel * H * qk;
    w.weightedSum.madds = sel * H * dv;
  }
  return w;
}

/** MHA / GQA / MQA of src/reference/baselines.ts. */
export function mhaWork(cfg: MhaConfig, shape: CallShape): Work {
  const { batch: B, seqlen: s, startPos: P } = shape;
  const { dim: D, n_heads: H, n_kv_heads: G, head_dim: hd, v_head_dim: dv } = cfg;
  const N = B * s, T = P + s, K = B * causalPairs(s, P);
  const w = emptyWork();
  w.query.madds = N * H * hd * D;
  w.query.weightReads = H * hd * D;
  w.compression.madds = N * G * (hd + dv) * D; // wk and wv
  w.compression.weightReads = G * (hd + dv) * D;
  w.compression.cacheWrites = N * G * (hd + dv);
  w.scores.madds = K * H * hd;
  w.scores.cacheReads = B * T * G * hd;
  w.softmax.exps = K * H;
  w.weightedSum.madds = K * H * dv;
  w.weightedSum.cacheReads = B * T * G * dv;
  w.output.madds = N * D * H * dv;
  w.output.weightReads = D * H * dv;
  return w;
}

/** The seed text's per-head scheme of src/reference/seed-lowrank.ts: MHA plus W_comp / W_decomp per head. */
export function seedWork(cfg: SeedLowRankConfig, shape: CallShape): Work {
  const { batch: B, seqlen: s, startPos: P } = shape;
  const { n_kv_heads: G, head_dim: hd, v_head_dim: dv, rank: r } = cfg;
  const N = B * s, T = P + s;
  const w = mhaWork(cfg, shape);
  w.compression.madds += N * G * (hd + dv) * r; // K W_comp, V W_comp
  w.compression.weightReads += (hd + dv) * r;
  w.compression.cacheWrites = N * G * 2 * r;
  w.decompression.madds = B * T * G * r * (hd + dv); // every cached token, every call
  w.decompression.weightReads = r * (hd + dv);
  w.decompression.cacheReads = B * T * G * 2 * r;
  w.scores.cacheReads = 0; // attention reads the reconstructions, not the cache
  w.weightedSum.cacheReads = 0;
  return w;
}

// ---------------------------------------------------------------------------------------------
// Baselines of a given MLA config

/**
 * The MHA that Table 1 of the DeepSeek-V2 paper compares with: the same heads, per-head width
 * d_h = qk_nope_head_dim for keys, v_head_dim for values, RoPE on the last min(dr, dn) of each key.
 * n_kv_heads = H (MHA), groups (GQA) or 1 (MQA).
 */
export function baselineConfig(cfg: MlaConfig, kvHeads: number): MhaConfig {
  const hd = cfg.qk_nope_head_dim;
  const ropeDim = Math.min(cfg.qk_rope_head_dim, hd - (hd % 2));
  return {
    dim: cfg.dim,
    n_heads: cfg.n_heads,
    n_kv_heads: kvHeads,
    head_dim: hd,
    v_head_dim: cfg.v_head_dim,
    rope_dim: ropeDim,
    rope_theta: cfg.rope_theta,
    rope_layout: cfg.rope_layout,
    max_seq_len: cfg.max_seq_len,
    max_batch_size: cfg.max_batch_size,
  };
}

/** The seed scheme on the same heads: every head keeps r values for K and r for V. */
export function seedConfig(cfg: MlaConfig, rank: number): SeedLowRankConfig {
  return { ...baselineConfig(cfg, cfg.n_heads), rank };
}
