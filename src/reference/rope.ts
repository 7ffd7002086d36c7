// Rotary position embedding with DeepSeek's YaRN, as inference/model.py computes it
// (precompute_freqs_cis, apply_rotary_emb, MLA.softmax_scale). Float64 here; the official code
// builds the angle table in float32, which moves outputs by ~1e-6 (README of the vectors).

import { type MlaConfig, type RopeLayout, yarnEnabled } from "../config.js";

type RopeArgs = Pick<MlaConfig, "qk_rope_head_dim" | "rope_theta" | "max_seq_len" | "original_seq_len" | "rope_factor" | "beta_fast" | "beta_slow">;

/** corr(r) = dr * ln(L0 / (2 pi r)) / (2 ln theta): the dimension index that turns r times over L0. */
export function yarnCorrectionDim(rotations: number, dr: number, theta: number, originalSeqLen: number): number {
  return (dr * Math.log(originalSeqLen / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
}

/** [low, high] of the YaRN ramp: low = max(floor(corr(beta_fast)), 0), high = min(ceil(corr(beta_slow)), dr-1). */
export function yarnCorrectionRange(cfg: RopeArgs): [number, number] {
  const dr = cfg.qk_rope_head_dim;
  const low = Math.floor(yarnCorrectionDim(cfg.beta_fast, dr, cfg.rope_theta, cfg.original_seq_len));
  const high = Math.ceil(yarnCorrectionDim(cfg.beta_slow, dr, cfg.rope_theta, cfg.original_seq_len));
  return [Math.max(low, 0), Math.min(high, dr - 1)];
}

/** f_i = theta^(-2i/dr), i < dr/2; with YaRN: f_i <- f_i/factor*(1-smooth_i) + f_i*smooth_i. */
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

/** (dn+dr)^-0.5, times m^2 with m = 0.1*mscale*ln(rope_factor) + 1 when YaRN is on. */
export function mlaSoftmaxScale(cfg: Pick<MlaConfig, "qk_nope_head_dim" | "qk_rope_head_dim" | "max_seq_len" | "original_seq_len" | "mscale" | "rope_factor">): number {
  let scale = Math.pow(cfg.qk_nope_head_dim + cfg.qk_rope_head_dim, -0.5);
  if (yarnEnabled(cfg)) {
    const m = 0.1 * cfg.mscale * Math.log(cfg.rope_factor) + 1.0;
    scale *= m * m;
  }
  return scale;
}

/** cos/sin tables [positions.length, dr/2] for the given absolute positions. */
export function ropeTable(freqs: Float64Array, positions: ArrayLike<number>): { cos: Float64Array; sin: Float64Array } {
  const half = freqs.length;
  const cos = new Float64Array(positions.length * half);
  const sin = new Float64Array(positions.length * half);
  for (let p = 0; p < positions.length; p++) {
    for (let i = 0; i < half; i++) {
      const a = positions[p] * freqs[i];
      cos[p * half + i] = Math.cos(a);
      sin[p * half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}

/**
 * Rotate x[off .. off+dr) in place by the angles of table row `row`.
 * interleaved (official): pair (x[2i], x[2i+1]); half (HF rotate_half): pair (x[i], x[i+dr/2]).
 * Both: (a, b) -> (a cos - b sin, a sin + b cos) with angle pos * f_i.
 */
export function applyRope(x: Float64Array, off: number, dr: number, table: { cos: Float64Array; sin: Float64Array }, row: number, layout: RopeLayout): void {
  const half = dr / 2;
  for (let i = 0; i < half; i++) {
    const c = table.cos[row * half + i];
    const s = table.sin[row * half + i];
    const ia = layout === "interleaved" ? off + 2 * i : off + i;
    const ib = layout === "interleaved" ? ia + 1 : ia + half;
    const a = x[ia], b = x[ib];
    x[ia] = a * c - b * s;
    x[ib] = a * s + b * c;
  }
}

/** Index map from the interleaved layout to the half layout: element 2i -> i, 2i+1 -> i + dr/2. */
export function interleavedToHalf(dr: number): Int32Array {
  const map = new Int32Array(dr);
  for (let i = 0; i < dr / 2; i++) {
    map[2 * i] = i;
    map[2 * i + 1] = i + dr / 2;
  }
  return map;
}
