// Round-trip error bounds of the storage formats, derived (not fitted): how far a decoded element
// may sit from the value written, per format. A property of the codecs (codecs.ts), so it lives
// with them; its propagation through attention to the layer output is the accuracy study's
// (src/analysis/cache-accuracy.ts). docs/cache.md has the derivations.
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
