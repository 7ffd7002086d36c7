// Shared helpers of the kernels: the one place where the two builds differ (madd), a horizontal
// sum, a vector exp for softmax, and facts the loader asks the module (ISA, heap base).
// Kernels take byte pointers into linear memory and element counts; they allocate nothing.

/** a*b + c. relaxed build: f32x4.relaxed_madd (an FMA on x86 with FMA); simd128 build: mul then add. */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/**
 * e^x on four lanes for x <= 0 (softmax after subtracting the running max). Cody-Waite range
 * reduction x = n ln2 + r, |r| <= ln2/2, then the degree-7 Taylor polynomial of e^r (truncation
 * error r^8/8! < 6e-9 relative, below float32's 6e-8 ulp) and 2^n built in the exponent bits.
 * Lanes below -87 (and -Infinity, the causal mask) give exactly 0.
 */
// @ts-ignore: decorator
@inline export function vexp(x: v128): v128 {
  const lo = f32x4.splat(-87.0);
  const keep = f32x4.gt(x, lo);
  const xc = f32x4.max(x, lo);
  const n = f32x4.nearest(f32x4.mul(xc, f32x4.splat(1.44269504088896341)));
  let r = madd(n, f32x4.splat(-0.693359375), xc); // ln2 split: hi part exact in float32 for |n| < 2^9
  r = madd(n, f32x4.splat(2.12194440e-4), r);
  let p = f32x4.splat(1.0 / 5040.0);
  p = madd(p, r, f32x4.splat(1.0 / 720.0));
  p = madd(p, r, f32x4.splat(1.0 / 120.0));
  p = madd(p, r, f32x4.splat(1.0 / 24.0));
  p = madd(p, r, f32x4.splat(1.0 / 6.0));
  p = madd(p, r, f32x4.splat(0.5));
  p = madd(p, r, f32x4.splat(1.0));
  p = madd(p, r, f32x4.splat(1.0));
  const pow2n = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return v128.and(f32x4.mul(p, pow2n), keep);
}

/** 0 = simd128 build, 1 = relaxed-simd build. */
export function isa(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}

/** First byte after the module's static data: the host's arena starts at or after it. */
export function heap_base(): usize {
  return __heap_base;
}

/**
 * Where a failed assert() goes in the asserting build (asconfig target "assert", built without
 * noAssert for the kernel tests): a trap, so the host sees a RuntimeError; the release builds
 * drop every assert.
 */
export function assertTrap(message: usize, fileName: usize, line: u32, column: u32): void {
  unreachable();
}
