// The quantities MLA derives from its config, in one place: the counterpart of DeepSeek-V3's
// `precompute_freqs_cis` (RoPE frequencies with YaRN) and the constants of `MLA.__init__`
// (softmax scale with YaRN's mscale) and `RMSNorm` (eps). The float64 oracle, the WASM backend,
// the vectors writer, verify and the cost model all read them from here, so a change to how a
// config is interpreted is made once. Pure functions of the config; no computation on tensors.

import { type MlaConfig, yarnEnabled } from "./config.js";

/** eps of RMSNorm (model.py `RMSNorm(eps=1e-6)`, q_norm and kv_norm). */
export const RMSNORM_EPS = 1e-6;

type Switch = { yarn?: boolean | null };
type RopeArgs = Pick<MlaConfig, "qk_rope_head_dim" | "rope_theta" | "max_seq_len" | "original_seq_len" | "rope_factor" | "beta_fast" | "beta_slow"> & Switch & { yarn_truncate?: boolean };
type ScaleArgs = Pick<MlaConfig, "qk_nope_head_dim" | "qk_rope_head_dim" | "max_seq_len" | "original_seq_len" | "mscale" | "rope_factor"> & Switch;

/** corr(r) = dr * ln(L0 / (2 pi r)) / (2 ln theta): the dimension index that turns r times over L0. */
export function yarnCorrectionDim(rotations: number, dr: number, theta: number, originalSeqLen: number): number {
  return (dr * Math.log(originalSeqLen / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
}

/**
 * [low, high] of the YaRN ramp: low = max(floor(corr(beta_fast)), 0), high = min(ceil(corr(beta_slow)), dr-1);
 * without yarn_truncate (transformers' truncate: false) the correction dims are not rounded.
 */
export function yarnCorrectionRange(cfg: RopeArgs): [number, number] {
  const dr = cfg.qk_rope_head_dim, truncate = cfg.yarn_truncate ?? true;
  const lo = yarnCorrectionDim(cfg.beta_fast, dr, cfg.rope_theta, cfg.original_seq_len);
  const hi = yarnCorrectionDim(cfg.beta_slow, dr, cfg.rope_theta, cfg.original_seq_len);
  return [Math.max(truncate ? Math.floor(lo) : lo, 0), Math.min(truncate ? Math.ceil(hi) : hi, dr - 1)];
}

/** f_i = theta^(-2i/dr), i < dr/2; with YaRN: f_i <- f_i/factor*(1-smooth_i) + f_i*smooth_i. Float64 (the official table is float32). */
export function ropeFrequencies(cfg: RopeArgs): Float64Array {
  const dr = cfg.qk_rope_head_dim;
  const half = dr / 2;
  const f = new Float64Array(half);
  for (let i = 0; i < half; i++) f[i] = 1 / Math.pow(cfg.rope_theta, (2 * i) / dr);
  if (yarnEnabled(cfg)) {
    let [low, high] = yarnCorrectionRange(cfg);
    if (low === high) high += 0.001; // linear_ramp_factor's guard against 0/0
    for (let i = 0; i < half; i++) {
      const ramp = Math.min(Math.max((i - low) / (high - low), 0), 1);
      const smooth = 1 - ramp;
      f[i] = (f[i] / cfg.rope_factor) * (1 - smooth) + f[i] * smooth;
    }
  }
  return f;
}

/** YaRN's attention temperature m = 0.1*mscale*ln(rope_factor) + 1 when YaRN is on, else 1. */
export function yarnMscaleFactor(cfg: Pick<MlaConfig, "max_seq_len" | "original_seq_len" | "mscale" | "rope_factor"> & Switch): number {
  return yarnEnabled(cfg) ? 0.1 * cfg.mscale * Math.log(cfg.rope_factor) + 1.0 : 1;
}

/** (dn+dr)^-0.5 * m^2 (m: yarnMscaleFactor; the official MLA.__init__). */
export function mlaSoftmaxScale(cfg: ScaleArgs): number {
  const m = yarnMscaleFactor(cfg);
  return Math.pow(cfg.qk_nope_head_dim + cfg.qk_rope_head_dim, -0.5) * m * m;
}

/**
 * cos/sin tables [positions.length, dr/2] (float64) for the given absolute positions, both times
 * attentionFactor (the config's rope_attention_factor; 1 under the official convention).
 */
export function ropeTable(freqs: Float64Array, positions: ArrayLike<number>, attentionFactor = 1): { cos: Float64Array; sin: Float64Array } {
  const half = freqs.length;
  const cos = new Float64Array(positions.length * half);
  const sin = new Float64Array(positions.length * half);
  for (let p = 0; p < positions.length; p++) {
    for (let i = 0; i < half; i++) {
      const a = positions[p] * freqs[i];
      cos[p * half + i] = Math.cos(a) * attentionFactor;
      sin[p * half + i] = Math.sin(a) * attentionFactor;
    }
  }
  return { cos, sin };
}

/** The table of one call: positions startPos .. startPos+count-1 of the config (its frequencies and cos/sin factor). */
export function callRopeTable(cfg: Pick<MlaConfig, "rope_attention_factor">, freqs: Float64Array, startPos: number, count: number): { cos: Float64Array; sin: Float64Array } {
  return ropeTable(freqs, Array.from({ length: count }, (_, t) => startPos + t), cfg.rope_attention_factor);
}

/** Head sizes under short names (shape comments use them): H, D, Q, C, dn, dr, dv, qk = dn + dr. */
export interface MlaSizes {
  H: number;
  D: number;
  Q: number;
  C: number;
  dn: number;
  dr: number;
  dv: number;
  qk: number;
}

export function mlaSizes(cfg: MlaConfig): MlaSizes {
  return {
    H: cfg.n_heads, D: cfg.dim, Q: cfg.q_lora_rank, C: cfg.kv_lora_rank,
    dn: cfg.qk_nope_head_dim, dr: cfg.qk_rope_head_dim, dv: cfg.v_head_dim, qk: cfg.qk_nope_head_dim + cfg.qk_rope_head_dim,
  };
}

/** Everything a backend derives from a config before its first call. */
export interface MlaDerived {
  sizes: MlaSizes;
  /** YaRN on (official switch: max_seq_len > original_seq_len). */
  yarn: boolean;
  /** f_i [dr/2], YaRN applied. */
  freqs: Float64Array;
  softmaxScale: number;
  /** Factor on cos and sin (rope_attention_factor). */
  ropeAttentionFactor: number;
  normEps: number;
}

export function deriveMla(cfg: MlaConfig): MlaDerived {
  return { sizes: mlaSizes(cfg), yarn: yarnEnabled(cfg), freqs: ropeFrequencies(cfg), softmaxScale: mlaSoftmaxScale(cfg), ropeAttentionFactor: cfg.rope_attention_factor, normEps: RMSNORM_EPS };
}

// ---------------------------------------------------------------------------------------------
// DeepSeek-V3.2 sparse attention (DSA): the constants of model.py's Indexer.__init__ and of the
// kernels it calls (act_quant, fp8_index, rotate_activation).

/** eps of the indexer's LayerNorm (k_norm, `LayerNorm(eps=1e-6)`). */
export const LAYERNORM_EPS = 1e-6;

/** model.py's block_size: act_quant's group (hard-coded 128 in the kernel): one scale per 128 consecutive values of a row. */
export const ACT_QUANT_BLOCK = 128;

/** What DSA derives from a V3.2 config (model.py Indexer.__init__). */
export interface DsaDerived {
  /** HI, DI, topk under short names. */
  HI: number;
  DI: number;
  topk: number;
  /** Indexer.softmax_scale = DI^-0.5 (folded into the head weights). */
  indexSoftmaxScale: number;
  /** n_heads ** -0.5 on weights_proj's output. */
  weightsScale: number;
  /** rotate_activation's hadamard_transform(x, scale = DI^-0.5). */
  hadamardScale: number;
  /** Scales per indexer key (DI / 128 = 1) and per latent (C / 128). */
  indexScalesPerKey: number;
  latentScalesPerToken: number;
}

export function deriveDsa(cfg: { index_n_heads: number; index_head_dim: number; index_topk: number; kv_lora_rank: number }): DsaDerived {
  const HI = cfg.index_n_heads, DI = cfg.index_head_dim;
  return {
    HI, DI, topk: cfg.index_topk,
    indexSoftmaxScale: Math.pow(DI, -0.5),
    weightsScale: Math.pow(HI, -0.5),
    hadamardScale: Math.pow(DI, -0.5),
    indexScalesPerKey: DI / ACT_QUANT_BLOCK,
    latentScalesPerToken: cfg.kv_lora_rank / ACT_QUANT_BLOCK,
  };
}

/** Keys selected per query: topk(min(index_topk, end_pos)) (model.py Indexer.forward). */
export function dsaTopkK(cfg: { index_topk: number }, endPos: number): number {
  return Math.min(cfg.index_topk, endPos);
}
