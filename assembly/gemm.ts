// GEMM y = x W^T for prefill: a 4x8 register-blocked micro-kernel over W packed once into
// 8-column panels (XNNPACK's "gemm_4x8" shape; TOOLCHAIN.md found 4x8 the best simple tile in V8).
//
// Panel layout (`pack_nk_8` / `pack_kn_8`): for output columns n = 8p..8p+7 the panel holds
// W[n, k] at float index (p*K + k)*8 + (n - 8p), zero-padded past N. One panel row (8 floats) is two
// v128 loads, broadcast against one x element per row: 8 accumulators for a 4x8 tile.

import { madd } from "./common";

/** K is cut into blocks of KC so one panel slice (KC*32 bytes) stays in L1 across all row blocks. */
const KC: i32 = 256;

/** Floats a packed [N, K] weight takes: ceil(N/8) panels of K*8. */
export function packed_size_8(N: i32, K: i32): i32 {
  return ((N + 7) >> 3) * K * 8;
}

/** Panel packing of a source whose element (n, k) is at src + n*sn + k*sk floats. */
// @ts-ignore: decorator
@inline function pack8(src: usize, sn: i32, sk: i32, N: i32, K: i32, dst: usize): void {
  const panels = (N + 7) >> 3;
  for (let p = 0; p < panels; p++) {
    for (let k = 0; k < K; k++) {
      const out = dst + ((<usize>(p * K + k)) << 5);
      for (let j = 0; j < 8; j++) {
        const n = p * 8 + j;
        store<f32>(out + (<usize>j << 2), n < N ? load<f32>(src + ((<usize>n * sn + <usize>k * sk) << 2)) : 0);
      }
    }
  }
}

/** Pack W [N, K] (row stride ldw floats, PyTorch Linear layout, y = x W^T) into 8-column panels at dst. */
export function pack_nk_8(w: usize, ldw: i32, N: i32, K: i32, dst: usize): void {
  pack8(w, ldw, 1, N, K, dst);
}

/** Pack B [K, N] (row stride ldb floats, y = x B) into the same panels: W = B^T. */
export function pack_kn_8(b: usize, ldb: i32, N: i32, K: i32, dst: usize): void {
  pack8(b, 1, ldb, N, K, dst);
}

/** y[j] (+)= t for one lane of a partial row. */
// @ts-ignore: decorator
@inline function storeLane(y: usize, j: i32, t: f32, acc: bool): void {
  const o = y + (<usize>j << 2);
  store<f32>(o, acc ? load<f32>(o) + t : t);
}

/**
 * Store (or add into y when acc) the first nr lanes of [lo | hi]. Partial rows (N % 8) go lane by
 * lane with constant lane indices: no static scratch, so the module's data stays read-only and
 * instances sharing one memory (threads) cannot race on it.
 */
// @ts-ignore: decorator
@inline export function storeRow8(y: usize, lo: v128, hi: v128, nr: i32, acc: bool): void {
  if (nr == 8) {
    if (acc) {
      lo = f32x4.add(lo, v128.load(y));
      hi = f32x4.add(hi, v128.load(y, 16));
    }
    v128.store(y, lo);
    v128.store(y, hi, 16);
  } else {
    if (nr > 0) storeLane(y, 0, f32x4.extract_lane(lo, 0), acc);
    if (nr > 1) storeLane(y, 1, f32x4.extract_lane(lo, 1), acc);
    if (nr > 2) storeLane(y, 2, f32x4.extract_lane(lo, 2), acc);
    if (nr > 3) storeLane(y, 3, f32x4.extract_lane(lo, 3), acc);
    if (nr > 4) storeLane(y, 4, f32x4.extract_lane(hi, 0), acc);
    if (nr > 5) storeLane(y, 5, f32x4.extract_lane(hi, 1), acc);
    if (nr > 6) storeLane(y, 6, f32x4.extract_lane(hi, 2), acc);
  }
}

/** Weight formats of a packed panel (assembly/weights.ts): float32 (pack_nk_8's) or narrow elements. */
export const WF_F32: i32 = 0;
export const WF_BF16: i32 = 1;
export const WF_INT8: i32 = 2;
export const WF_FP8: i32 = 3;

// The kernels over panels are generic over a type tag standing for the format, so each format
// compiles to its own loop with its decode alone in it (a format passed as a value left every
// format's branches inside the inner loop):
//   f32 = WF_F32, u16 = WF_BF16 (the element's bits), i8 = WF_INT8, u8 = WF_FP8 (e4m3fn bits).

/** Bytes per panel row (8 elements). */
// @ts-ignore: decorator
@inline export function rowBytes(fmt: i32): usize {
  return fmt == WF_BF16 ? 16 : fmt == WF_F32 ? 32 : 8;
}

/** Bytes per panel row of format tag T. */
// @ts-ignore: decorator
@inline export function rowBytesOf<T>(): usize {
  return isFloat<T>() ? 32 : sizeof<T>() == 2 ? 16 : 8;
}

/** Whether format tag T carries a scale per (panel, k-group, column). */
// @ts-ignore: decorator
@inline export function scaledOf<T>(): bool {
  return sizeof<T>() == 1;
}

// fp8 e4m3fn decodes in 16-bit lanes: the sign-extended byte shifted left 4 and masked (0x87f0)
// is the bfloat16 whose exponent field is the e4m3 exponent (bias 7 read as bias 127) and whose
// mantissa is the e4m3 mantissa, so as float32 (that bf16 in a lane's high half) it is the code's
// value x 2^-120, subnormal codes included (they land on float32 subnormals). The kernels undo
// the 2^-120 exactly (powers of two): the GEMM's panel rows x 2^120 as decoded; the GEMVs split
// it between x (x 2^60 as it is splat) and each group's partial sum (x 2^60 before its scale),
// the same products rounded the same, with one multiply per k instead of one per 4 weights. That
// holds while |x| < 2^68 and the products |x| |code| stay above 2^-66 (below, they round among
// float32 subnormals).
//
// The decode constants live in static memory and are loaded once before a kernel's loop (V8
// rebuilds a v128.const at each use inside the loop); the other formats never load them.
const DECODE_CONSTS: usize = memory.data<u32>([
  0x87f087f0, 0x87f087f0, 0x87f087f0, 0x87f087f0, // fp8 mask, per 16-bit lane
  0x7b800000, 0x7b800000, 0x7b800000, 0x7b800000, // 2^120
  0x5d800000, 0x5d800000, 0x5d800000, 0x5d800000, // 2^60
], 16);

/** The fp8 decode mask (the `k` of lo8 / hi8): load it once, outside the loop. */
// @ts-ignore: decorator
@inline export function fp8Mask(): v128 {
  return v128.load(DECODE_CONSTS);
}
/** 2^120 (x a raw fp8 decode = the code's value), loaded. */
// @ts-ignore: decorator
@inline export function fp8Unbias(): v128 {
  return v128.load(DECODE_CONSTS, 16);
}
/** 2^60 (the GEMVs' half of the undoing), loaded. */
// @ts-ignore: decorator
@inline export function fp8HalfUnbias(): v128 {
  return v128.load(DECODE_CONSTS, 32);
}

/** Whether tag T is fp8 (its decode is raw: the code's value x 2^-120). */
// @ts-ignore: decorator
@inline export function rawOf<T>(): bool {
  return !isFloat<T>() && sizeof<T>() == 1 && !isSigned<T>();
}

// The fp8 bf16 halves go to float32 by an interleave with zero (one shuffle) in the GEMVs, and by
// a zero-extend and a shift in the 4-row GEMM, whose 8 accumulators leave no room for the
// shuffle's constants.

/** Columns 0..3 of the panel row at w, as values (fp8: x 2^-120; k = fp8Mask(), ignored by the other formats; byShuffle: see above). */
// @ts-ignore: decorator
@inline export function lo8<T>(w: usize, k: v128, byShuffle: bool): v128 {
  if (isFloat<T>()) return v128.load(w);
  if (sizeof<T>() == 2) return i32x4.shl(v128.load(w), 16);
  if (isSigned<T>()) return f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(v128.load8x8_s(w)));
  const h = v128.and(i16x8.shl(v128.load8x8_s(w), 4), k);
  if (byShuffle) return i8x16.shuffle(f32x4.splat(0), h, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  return i32x4.shl(i32x4.extend_low_i16x8_u(h), 16);
}

/** Columns 4..7 of the panel row at w, as lo8. */
// @ts-ignore: decorator
@inline export function hi8<T>(w: usize, k: v128, byShuffle: bool): v128 {
  if (isFloat<T>()) return v128.load(w, 16);
  if (sizeof<T>() == 2) return v128.and(v128.load(w), i32x4.splat(<i32>0xffff0000));
  if (isSigned<T>()) return f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(v128.load8x8_s(w)));
  const h = v128.and(i16x8.shl(v128.load8x8_s(w), 4), k);
  if (byShuffle) return i8x16.shuffle(f32x4.splat(0), h, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
  return i32x4.shl(i32x4.extend_high_i16x8_u(h), 16);
}

/**
 * One panel, kc steps of k from x0 and the panel row at w: the 1x8 partial sum, scaled by the
 * 8 floats at s (scaled formats) and stored (added into y0 when acc).
 */
// @ts-ignore: decorator
@inline export function micro1x8w<T>(x0: usize, w: usize, kc: i32, s: usize, y0: usize, nr: i32, acc: bool): void {
  const rb = rowBytesOf<T>(), m = rawOf<T>() ? fp8Mask() : f32x4.splat(0), half = rawOf<T>() ? fp8HalfUnbias() : f32x4.splat(0);
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    let a = v128.load32_splat(x0);
    if (rawOf<T>()) a = f32x4.mul(a, half);
    c0 = madd(a, lo8<T>(w, m, true), c0); c1 = madd(a, hi8<T>(w, m, true), c1);
    x0 += 4; w += rb;
  }
  if (rawOf<T>()) {
    c0 = f32x4.mul(c0, half); c1 = f32x4.mul(c1, half);
  }
  if (scaledOf<T>()) {
    c0 = f32x4.mul(c0, v128.load(s)); c1 = f32x4.mul(c1, v128.load(s, 16));
  }
  storeRow8(y0, c0, c1, nr, acc);
}

/** 4 rows x 8 columns, as micro1x8w: one decode of each panel row serves the four rows. */
// @ts-ignore: decorator
@inline export function micro4x8w<T>(x0: usize, ldxB: usize, w: usize, kc: i32, s: usize, y0: usize, ldyB: usize, nr: i32, acc: bool): void {
  const rb = rowBytesOf<T>(), m = rawOf<T>() ? fp8Mask() : f32x4.splat(0), unbias = rawOf<T>() ? fp8Unbias() : f32x4.splat(0);
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let x1 = x0 + ldxB, x2 = x1 + ldxB, x3 = x2 + ldxB;
  for (let k = 0; k < kc; k++) {
    let b0 = lo8<T>(w, m, false), b1 = hi8<T>(w, m, false);
    if (rawOf<T>()) {
      b0 = f32x4.mul(b0, unbias); b1 = f32x4.mul(b1, unbias);
    }
    let a = v128.load32_splat(x0);
    c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
    a = v128.load32_splat(x1);
    c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
    a = v128.load32_splat(x2);
    c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
    a = v128.load32_splat(x3);
    c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
    x0 += 4; x1 += 4; x2 += 4; x3 += 4; w += rb;
  }
  if (scaledOf<T>()) {
    const s0 = v128.load(s), s1 = v128.load(s, 16);
    c00 = f32x4.mul(c00, s0); c01 = f32x4.mul(c01, s1); c10 = f32x4.mul(c10, s0); c11 = f32x4.mul(c11, s1);
    c20 = f32x4.mul(c20, s0); c21 = f32x4.mul(c21, s1); c30 = f32x4.mul(c30, s0); c31 = f32x4.mul(c31, s1);
  }
  storeRow8(y0, c00, c01, nr, acc);
  storeRow8(y0 + ldyB, c10, c11, nr, acc);
  storeRow8(y0 + 2 * ldyB, c20, c21, nr, acc);
  storeRow8(y0 + 3 * ldyB, c30, c31, nr, acc);
}

/** 4 rows x 8 columns over kc steps of k of a float32 panel: x rows at x0 + i*ldxB; w = panel slice; y rows at y0 + i*ldyB. */
// @ts-ignore: decorator
@inline function micro4x8(x0: usize, ldxB: usize, w: usize, kc: i32, y0: usize, ldyB: usize, nr: i32, acc: bool): void {
  micro4x8w<f32>(x0, ldxB, w, kc, 0, y0, ldyB, nr, acc);
}

/**
 * 1 row x 8 columns over kc steps of one float32 panel: x0 [kc] . panel w -> y0 (first nr lanes,
 * added into y0 when acc). The GEMM's M % 4 leftover rows and the GEMV's leftover panels. One
 * chain per half, k in order: the summation micro4x8 and the GEMV's streams use, so an output
 * element has the same bits whichever kernel computes it (a key's index score does not depend on
 * how many keys share its block; a split over threads changes no bit).
 */
// @ts-ignore: decorator
@inline export function micro1x8(x0: usize, w: usize, kc: i32, y0: usize, nr: i32, acc: bool): void {
  micro1x8w<f32>(x0, w, kc, 0, y0, nr, acc);
}

/**
 * y [M, N] (row stride ldy) = x [M, K] (row stride ldx) W^T, W packed by pack_nk_8 (K as packed).
 * Loops: K blocks (L1-sized panel slices) > panels > 4-row blocks, so each W panel is read from
 * memory once per K block and x stays in L2.
 */
export function gemm_4x8(M: i32, N: i32, K: i32, x: usize, ldx: i32, wp: usize, y: usize, ldy: i32): void {
  const panels = (N + 7) >> 3;
  const ldxB = <usize>ldx << 2, ldyB = <usize>ldy << 2;
  const M4 = M & ~3;
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    const acc = k0 > 0;
    for (let p = 0; p < panels; p++) {
      const w = wp + ((<usize>(p * K + k0)) << 5);
      const nr = min(8, N - p * 8);
      const yp = y + (<usize>(p * 8) << 2);
      const xk = x + (<usize>k0 << 2);
      let i = 0;
      for (; i < M4; i += 4) micro4x8(xk + <usize>i * ldxB, ldxB, w, kc, yp + <usize>i * ldyB, ldyB, nr, acc);
      for (; i < M; i++) micro1x8(xk + <usize>i * ldxB, w, kc, yp + <usize>i * ldyB, nr, acc);
    }
  }
}
