// The narrow formats DeepSeek-V3.2's official code forces on the attention, each a small function:
// bf16 rounding, e4m3 rounding with saturation, and act_quant (kernel.py act_quant_kernel as
// written, the TileLang kernel model.py calls for the FP8 KV-cache simulation and the indexer).
// Everything else in the oracle is float64; these steps reproduce the official formats exactly
// (vectors/deepseek-v3.2-dsa/README.md, "Shims" 1 and "Dtypes"). The bit-level conversions are the
// cache's own (src/cache/scalar.ts), so the oracle and the storage agree by construction.

import type { ScaleFmt } from "../../config.js";
import { ACT_QUANT_BLOCK } from "../../derived.js";
import { E4M3_MAX, E4M3_VALUES, bf16FromF32Bits, bitsF32, e4m3FromF32Bits, f32Bits, f32BitsFromBf16, pow2Ceil } from "../../cache/scalar.js";

/** Round to float32 (IEEE RNE): what every float32 tensor op of the official code does to its result. */
export const fp32 = Math.fround;

/**
 * bf16(x), round-to-nearest-even, through float32 as the official code converts (its value is a
 * float32 result; `.to(bfloat16)` and the kernels' bf16 reads round that float32 to bf16).
 */
export function bf16Round(x: number): number {
  return bitsF32(f32BitsFromBf16(bf16FromF32Bits(f32Bits(x))));
}

/** bf16Round of every element: [n] -> [n]. */
export function bf16Array(x: ArrayLike<number>): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = bf16Round(x[i]);
  return y;
}

/** The e4m3fn code of a float32 value: RNE, subnormals k * 2^-9, |y| >= 448 saturates to +-448 (`__NV_SATFINITE`). */
export function e4m3Code(y: number): number {
  return e4m3FromF32Bits(f32Bits(y));
}

/** act_quant's floor on a group's max |x|: `T.max(amax, 1e-4)` in float32. */
export const AMAX_FLOOR = fp32(1e-4);
/** act_quant's `fp8_max_inv = 1 / 448` as the float32 constant the kernel multiplies by (it does not divide by 448). */
export const FP8_MAX_INV = fp32(1 / E4M3_MAX);

/**
 * One group's scale: s = fp32(max(amax, 1e-4) * fp32(1/448)); with scale_fmt "ue8m0",
 * s = 2^ceil(log2 s) from the float32 bits (fast_round_scale: s unchanged when already a power of two).
 */
export function actQuantScale(amax: number, scaleFmt: ScaleFmt | null): number {
  const s = fp32(Math.max(amax, AMAX_FLOOR) * FP8_MAX_INV);
  return scaleFmt === null ? s : pow2Ceil(s);
}

/** The quantised form of [rows, n]: e4m3 values (exact, as float64), their codes, and one float32 scale per 128-group [rows, n/128]. */
export interface ActQuantized {
  values: Float64Array;
  codes: Uint8Array;
  scales: Float64Array;
}

/**
 * act_quant(x, 128, scale_fmt) over x [rows, n] (n a multiple of 128): the kernel reads x as bf16
 * (in_dtype BF16: bf16Round, a no-op on bf16 input), per 128-group amax = max |x|, s =
 * actQuantScale(amax), y = clamp(fp32(x / s), -448, 448) (IEEE float32 division: fast math is off),
 * then e4m3 RNE. Returns the e4m3 values, codes and scales.
 */
export function actQuant(x: ArrayLike<number>, rows: number, n: number, scaleFmt: ScaleFmt | null): ActQuantized {
  const G = ACT_QUANT_BLOCK, groups = n / G;
  const values = new Float64Array(rows * n), codes = new Uint8Array(rows * n), scales = new Float64Array(rows * groups);
  const xb = new Float64Array(G);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const off = r * n + g * G;
      let amax = 0;
      for (let i = 0; i < G; i++) {
        xb[i] = bf16Round(x[off + i]);
        amax = Math.max(amax, Math.abs(xb[i]));
      }
      const s = actQuantScale(amax, scaleFmt);
      scales[r * groups + g] = s;
      for (let i = 0; i < G; i++) {
        const y = Math.min(Math.max(fp32(xb[i] / s), -E4M3_MAX), E4M3_MAX);
        const code = e4m3Code(y);
        codes[off + i] = code;
        values[off + i] = E4M3_VALUES[code];
      }
    }
  }
  return { values, codes, scales };
}

/** The dequantised latent MLA caches: fp32(e4m3 value * scale) per 128-group ([rows, n], model.py `(kv_fp8.float() * kv_scale)`). */
export function dequantize(q: ActQuantized, rows: number, n: number): Float64Array {
  const G = ACT_QUANT_BLOCK, groups = n / G;
  const out = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++)
    for (let i = 0; i < n; i++) out[r * n + i] = fp32(q.values[r * n + i] * q.scales[r * groups + Math.floor(i / G)]);
  return out;
}
