// The two rules, by name, that turn a group of values into e4m3 codes and one float32 scale. They
// differ only in how the scale comes from the group's max |x|:
//
//  "flashmla_test"  FlashMLA's tests/quant.py (quantize_k_cache; fp8_e4m3 uses it): the values are
//                   taken as given, s = f32(amax / 448) (a float32 division), and the SCALE is
//                   clamped below at f32(1e-4) (_cast_scale_inv_to_ue8m0's clamp_min).
//  "act_quant"      DeepSeek-V3.2's kernel.py act_quant_kernel (fp8_e4m3_v32 and the indexer keys):
//                   the values are read as bf16 (the kernel's in_dtype), the AMAX is clamped below
//                   at f32(1e-4), and s = f32(amax * f32(1/448)) (a multiply by the float32
//                   constant, which differs from the division by one ulp for about half the amax).
//
// With scale_fmt "ue8m0" either rule then rounds s up to a power of two, 2^ceil(log2 s) from the
// float's bits (s unchanged when already one); null keeps the float32 s. Both then store
// q = e4m3(clamp(f32(x / s), -448, 448)), round-to-nearest-even, and decode fp32(e4m3 * s).
// The two differ most on small groups: amax < 0.0448 gets s = 1e-4 under the first rule (so small
// values lose precision or flush to zero) and s = 2.2e-7 under the second.

import type { ScaleFmt } from "../config.js";
import { E4M3_MAX, bf16FromF32Bits, bitsF32, e4m3FromF32Bits, f32Bits, f32BitsFromBf16, pow2Ceil } from "./scalar.js";

export type Fp8Rule = "flashmla_test" | "act_quant";
export const FP8_RULES: readonly Fp8Rule[] = ["flashmla_test", "act_quant"];

/** The floor both rules use, on the scale (flashmla_test) or on amax (act_quant). */
export const FP8_FLOOR = Math.fround(1e-4);
/** act_quant's fp8_max_inv: the float32 nearest 1/448. */
export const FP8_MAX_INV = Math.fround(1 / E4M3_MAX);

/** An fp8 format's rule and scale format. */
export interface Fp8Quantiser {
  rule: Fp8Rule;
  scaleFmt: ScaleFmt | null;
}

/** The group scale of a rule from the max |x| of the values it reads (finite, >= 0). */
export function fp8Scale(rule: Fp8Rule, amax: number, scaleFmt: ScaleFmt | null): number {
  const s = rule === "flashmla_test" ? Math.max(Math.fround(amax / E4M3_MAX), FP8_FLOOR) : Math.fround(Math.max(amax, FP8_FLOOR) * FP8_MAX_INV);
  return scaleFmt === "ue8m0" ? pow2Ceil(s) : s;
}

/** The float32 bits a rule quantises: act_quant reads bf16 (round-to-nearest-even), flashmla_test the value as given. */
export function fp8InputBits(rule: Fp8Rule, bits: number): number {
  return rule === "act_quant" ? f32BitsFromBf16(bf16FromF32Bits(bits)) : bits >>> 0;
}

const isFiniteBits = (b: number): boolean => (b & 0x7f800000) !== 0x7f800000;

/**
 * Quantise bits[off .. off+n) (float32 bit patterns) into codes[at .. at+n); returns the scale.
 * Total for any input (the cache refuses non-finite values and values bf16 cannot hold before it
 * gets here): non-finite values (after the rule's bf16 read) are left out of amax and stored as
 * the e4m3 NaN code, sign kept.
 */
export function fp8QuantiseGroup(q: Fp8Quantiser, bits: ArrayLike<number>, off: number, n: number, codes: Uint8Array, at: number): number {
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const b = fp8InputBits(q.rule, bits[off + i]);
    if (isFiniteBits(b)) amax = Math.max(amax, bitsF32(b & 0x7fffffff));
  }
  const s = fp8Scale(q.rule, amax, q.scaleFmt);
  for (let i = 0; i < n; i++) {
    const b = fp8InputBits(q.rule, bits[off + i]);
    if (!isFiniteBits(b)) {
      codes[at + i] = ((b >>> 24) & 0x80) | 0x7f;
      continue;
    }
    const y = Math.min(Math.max(Math.fround(bitsF32(b) / s), -E4M3_MAX), E4M3_MAX);
    codes[at + i] = e4m3FromF32Bits(f32Bits(y));
  }
  return s;
}
