// Round-trip error bounds of the storage formats, derived (not fitted), and their propagation to
// the attention output. Used by the accuracy table and the tests; docs/cache.md has the derivations.
//
// Per element x (a float64 value; the cache first rounds it to float32, y = f32(x), |y - x| <= 2^-24 |x|):
//  f32        0 beyond the float32 rounding.
//  bf16       RNE to 8 significant bits: |bf16(y) - y| <= 2^-8 |y| (half an ulp, ulp = 2^(e-7) for
//             |y| in [2^e, 2^(e+1))); below 2^-126 bf16 is subnormal with spacing 2^-133: <= 2^-134.
//  f16        RNE to 11 significant bits: <= 2^-11 |y|; below 2^-14 (subnormal, spacing 2^-24): <= 2^-25.
//             |y| >= 65520 overflows to Inf: the cache rejects such values.
//  int8       s = f32(amax/127) <= amax/127 (1 + 2^-23); q = rne(f32(y/s)): |q - y/s| <= 1/2 + 127 (1+2^-23) 2^-24;
//             f32(q s) adds <= |q s| 2^-24 <= amax (1+2^-22) 2^-24. Total <= s/2 + 2^-22 amax, plus 2^-140 for
//             amax < 127 * 2^-126 where s is subnormal or 0 (absolute error of s <= 2^-150, times 127 + clamping).
//  fp8_e4m3   s = a power of two with s >= amax/448 (so |y/s| <= 448, no saturation) and s < 2 max(amax/448 (1+2^-23), f32(1e-4));
//             y/s is exact; e4m3 RNE keeps 4 significant bits: <= 2^-4 |y| for |y/s| >= 2^-6, and
//             <= 2^-10 s in the subnormal range (spacing 2^-9). e4m3 * s is exact in float32. k_pe: bf16.

import type { StorageFormat } from "./layout.js";

export const F32_ROUNDING = 2 ** -24;
export const BF16_REL = 2 ** -8;
export const BF16_SUBNORMAL_ABS = 2 ** -134;
export const F16_REL = 2 ** -11;
export const F16_SUBNORMAL_ABS = 2 ** -25;
export const INT8_SCALE_FRACTION = 0.5;
export const INT8_AMAX_REL = 2 ** -22;
export const INT8_TINY_ABS = 2 ** -140;
export const E4M3_REL = 2 ** -4;
export const E4M3_SUBNORMAL_OF_SCALE = 2 ** -10;
export const FP8_MIN_SCALE_INV = Math.fround(1e-4);

function absMax(row: ArrayLike<number>, from: number, to: number): number {
  let m = 0;
  for (let i = from; i < to; i++) m = Math.max(m, Math.abs(row[i]));
  return m;
}

const bf16 = (a: number): number => Math.max(BF16_REL * a, BF16_SUBNORMAL_ABS);
const int8 = (amax: number): number => (INT8_SCALE_FRACTION * amax * (1 + 2 ** -23)) / 127 + INT8_AMAX_REL * amax + INT8_TINY_ABS;

/**
 * Bound on |decoded - x| for every element of one token row x = [c (C) | k_pe (dr)] (float64
 * values, |x| within the format's range). Written to out[0 .. C+dr).
 */
export function elementErrorBounds(format: StorageFormat, C: number, dr: number, row: ArrayLike<number>, out: Float64Array): Float64Array {
  const W = C + dr;
  const amaxC = absMax(row, 0, C) * (1 + F32_ROUNDING), amaxR = absMax(row, C, W) * (1 + F32_ROUNDING);
  for (let i = 0; i < W; i++) {
    const a = Math.abs(row[i]);
    const y = a * (1 + F32_ROUNDING); // |f32(x)| <= this
    let e = 0;
    switch (format) {
      case "f32":
        break;
      case "bf16":
        e = bf16(y);
        break;
      case "f16":
        e = Math.max(F16_REL * y, F16_SUBNORMAL_ABS);
        break;
      case "int8":
        e = int8(i < C ? amaxC : amaxR);
        break;
      case "fp8_e4m3":
        if (i < C) {
          const t0 = Math.floor(i / 128) * 128;
          const amax = absMax(row, t0, Math.min(C, t0 + 128)) * (1 + F32_ROUNDING);
          const sMax = 2 * Math.max((amax / 448) * (1 + 2 ** -23), FP8_MIN_SCALE_INV);
          e = Math.max(E4M3_REL * y, E4M3_SUBNORMAL_OF_SCALE * sMax);
        } else e = bf16(y);
        break;
    }
    out[i] = e + F32_ROUNDING * a;
  }
  return out;
}

export interface OutputBoundArgs {
  /** Absorbed queries of one batch row [s, H, C+dr]. */
  q: ArrayLike<number>;
  /** Exact keys [T, C+dr] (c | k_pe) of that row, T = startPos + s. */
  keys: ArrayLike<number>;
  /** elementErrorBounds of every key row [T, C+dr]. */
  keyBounds: ArrayLike<number>;
  s: number;
  startPos: number;
  H: number;
  C: number;
  dr: number;
  scale: number;
}

/**
 * Bound on |o_lat' - o_lat| [s, H, C] when every cached element moves by at most its bound.
 * Scores move by |ds_j| <= D = scale * max_j sum_d |q_d| b_jd; softmax then gives
 * p'_j / p_j in [e^-2D, e^2D], so |p'_j - p_j| <= p_j (e^2D - 1); with o = sum_j p_j c_j:
 * |do_i| <= (e^2D - 1) sum_j p_j |c_ji| + max_j b_ji.
 */
export function latentOutputBound(a: OutputBoundArgs): Float64Array {
  const { q, keys, keyBounds, s, startPos, H, C, dr, scale } = a;
  const W = C + dr;
  const out = new Float64Array(s * H * C);
  const p = new Float64Array(startPos + s);
  for (let t = 0; t < s; t++) {
    const n = startPos + t + 1;
    for (let h = 0; h < H; h++) {
      const qo = (t * H + h) * W;
      let D = 0, max = -Infinity;
      for (let j = 0; j < n; j++) {
        let dot = 0, db = 0;
        for (let d = 0; d < W; d++) {
          dot += q[qo + d] * keys[j * W + d];
          db += Math.abs(q[qo + d]) * keyBounds[j * W + d];
        }
        p[j] = dot * scale;
        max = Math.max(max, p[j]);
        D = Math.max(D, db * Math.abs(scale));
      }
      let sum = 0;
      for (let j = 0; j < n; j++) sum += p[j] = Math.exp(p[j] - max);
      const grow = Math.expm1(2 * D);
      for (let i = 0; i < C; i++) {
        let mean = 0, bmax = 0;
        for (let j = 0; j < n; j++) {
          mean += (p[j] / sum) * Math.abs(keys[j * W + i]);
          bmax = Math.max(bmax, keyBounds[j * W + i]);
        }
        out[(t * H + h) * C + i] = grow * mean * (1 + 1e-12) + bmax;
      }
    }
  }
  return out;
}

/** Propagate a bound on o_lat [N, H, C] through o = o_lat W_uv^T and y = o wo^T with |W| elementwise: [N, D]. */
export function outputBound(oLatBound: ArrayLike<number>, N: number, H: number, C: number, dn: number, dv: number, D: number, wkvB: ArrayLike<number>, wo: ArrayLike<number>): Float64Array {
  const oB = new Float64Array(N * H * dv);
  for (let r = 0; r < N; r++)
    for (let h = 0; h < H; h++)
      for (let v = 0; v < dv; v++) {
        const wRow = (h * (dn + dv) + dn + v) * C;
        let acc = 0;
        for (let i = 0; i < C; i++) acc += Math.abs(wkvB[wRow + i]) * oLatBound[(r * H + h) * C + i];
        oB[(r * H + h) * dv + v] = acc;
      }
  const y = new Float64Array(N * D);
  for (let r = 0; r < N; r++)
    for (let d = 0; d < D; d++) {
      let acc = 0;
      for (let k = 0; k < H * dv; k++) acc += Math.abs(wo[d * H * dv + k]) * oB[r * H * dv + k];
      y[r * D + d] = acc;
    }
  return y;
}
