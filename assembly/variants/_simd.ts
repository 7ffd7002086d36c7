// Shared helpers of the numbered variants (files starting with "_" are not variants themselves).
// madd: FMA in the relaxed-simd build, mul + add in the simd128 build (one source, two builds).

// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  const s = f32x4.add(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1);
}

/** 1 if this build uses relaxed_madd. */
export function relaxed(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}

/**
 * exp on 4 lanes, for x <= 0 (softmax after max subtraction). Cephes expf: x = n ln2 + r with
 * ln2 split in two (0.693359375, -2.12194440e-4), a degree-5 polynomial for e^r on |r| <= ln2/2,
 * 2^n built in the exponent bits. Relative error ~1e-7 (Cephes' stated 1.7e-7 over its range).
 * Inputs below -87 return ~0 (clamped), which softmax treats as 0.
 */
// @ts-ignore: decorator
@inline export function expNeg(x: v128): v128 {
  x = f32x4.max(x, f32x4.splat(-87.0));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = madd(p, r, f32x4.splat(1.3981999507e-3));
  p = madd(p, r, f32x4.splat(8.3334519073e-3));
  p = madd(p, r, f32x4.splat(4.1665795894e-2));
  p = madd(p, r, f32x4.splat(1.6666665459e-1));
  p = madd(p, r, f32x4.splat(5.0000001201e-1));
  const r2 = f32x4.mul(r, r);
  p = f32x4.add(madd(p, r2, r), f32x4.splat(1.0));
  const pow2n = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(p, pow2n);
}
