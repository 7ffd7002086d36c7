// Projections over compressed weights, decoded in registers (never expanded to a float32 copy) by
// gemm.ts's panel decoding (lo8 / hi8), which its float32 micro-kernels share.
// The panels are pack_nk_8's (8 output columns, element (p, k, j) at (p*K + k)*8 + j) with narrow
// elements; the host (src/wasm/weight-formats.ts) writes them.
//
//   WF_BF16  2 bytes: u32 lane i of a panel row holds column i (low half) and column i+4 (high
//            half), so one shift and one mask give the 8 columns as float32 (exact).
//   WF_INT8  1 byte, signed; y[n] = sum over groups of scale[n, g] * sum_k x[k] q[n, k].
//   WF_FP8   1 byte, e4m3fn as the checkpoint stores it; the same group scales. Decode (gemm.ts
//            lo8 / hi8): in 16-bit lanes the byte becomes the bfloat16 of its value x 2^-120
//            (subnormal codes give float32 subnormals); the GEMM multiplies the decoded row by
//            2^120, the GEMVs x and each group's partial sum by 2^60 (exact: powers of two).
//
// Scaled formats (int8, fp8) carry one float32 per (panel, k-group, column): at sp, panel p group g
// column j is float (p*G + g)*8 + j, G = ceil(K / KG). A group's partial sum is scaled and added,
// so the checkpoint's 128x128 blocks (or a per-row scale: KG = K) are applied exactly once per
// group. KG is chosen by the host so that no group crosses a source scale block.

import { WF_BF16, WF_F32, WF_FP8, WF_INT8, gemm_4x8, hi8, lo8, fp8HalfUnbias, fp8Mask, micro1x8w, micro4x8w, packed_size_8, rawOf, rowBytes, rowBytesOf, scaledOf, storeRow8 } from "./gemm";
import { madd } from "./common";

export { WF_BF16, WF_F32, WF_FP8, WF_INT8 };
import { gemv_1x8 } from "./gemv";


/** Bytes a packed [N, K] weight takes in format fmt (panels of 8 columns, zero-padded). */
export function packed_bytes_w(fmt: i32, N: i32, K: i32): i32 {
  return ((N + 7) >> 3) * K * <i32>rowBytes(fmt);
}

/** Scale floats a packed [N, K] weight of a scaled format takes with k-groups of KG. */
export function scale_floats_w(N: i32, K: i32, KG: i32): i32 {
  return ((N + 7) >> 3) * ((K + KG - 1) / KG) * 8;
}

/** K is cut into blocks of at most KC (and never across a k-group) so a panel slice stays in L1. */
const KC: i32 = 256;

/** Output panels per chunk of the GEMM: a chunk's y (rows x 8 x PC floats) stays in L2 across the K blocks. */
const PC: i32 = 32;

function gemmW<T>(M: i32, N: i32, K: i32, KG: i32, x: usize, ldx: i32, wp: usize, sp: usize, y: usize, ldy: i32): void {
  const panels = (N + 7) >> 3, rb = rowBytesOf<T>(), G = (K + KG - 1) / KG;
  const ldxB = <usize>ldx << 2, ldyB = <usize>ldy << 2;
  const M4 = M & ~3;
  // Scaled formats cut K at every k-group, so each K block adds into y: chunks of panels keep
  // that y in L2 instead of streaming all of y once per block.
  for (let c0 = 0; c0 < panels; c0 += PC) {
    const c1 = min(panels, c0 + PC);
    for (let k0 = 0; k0 < K; ) {
      const g = k0 / KG;
      const kc = min(KC, min(K, (g + 1) * KG) - k0);
      const acc = k0 > 0;
      for (let p = c0; p < c1; p++) {
        const w = wp + (<usize>p * K + k0) * rb;
        const s = sp + ((<usize>(p * G + g)) << 5);
        const nr = min(8, N - p * 8);
        const yp = y + (<usize>(p * 8) << 2);
        const xk = x + (<usize>k0 << 2);
        let i = 0;
        for (; i < M4; i += 4) micro4x8w<T>(xk + <usize>i * ldxB, ldxB, w, kc, s, yp + <usize>i * ldyB, ldyB, nr, acc);
        for (; i < M; i++) micro1x8w<T>(xk + <usize>i * ldxB, w, kc, s, yp + <usize>i * ldyB, nr, acc);
      }
      k0 += kc;
    }
  }
}

/**
 * GEMV over a compressed weight: four panels from the four quarters of W walked together (four
 * DRAM streams, as gemv_1x8). Each k-group's partial sum is scaled and added into y, as
 * micro1x8w does for the leftover panels, so only the 8 partial accumulators stay live and a
 * panel's bits do not depend on which path computed it.
 */
function gemvW<T>(N: i32, K: i32, KG: i32, x: usize, wp: usize, sp: usize, y: usize): void {
  const P = (N + 7) >> 3, Q = P >> 2, rb = rowBytesOf<T>(), G = (K + KG - 1) / KG;
  const m = rawOf<T>() ? fp8Mask() : f32x4.splat(0), half = rawOf<T>() ? fp8HalfUnbias() : f32x4.splat(0);
  const pb = <usize>K * rb, qb = <usize>Q * pb; // bytes per panel, between the streams
  const sq = (<usize>Q * G) << 5; // scale bytes between the streams
  const yq = <usize>(Q * 8) << 2; // y bytes between the streams
  for (let i = 0; i < Q; i++) {
    let w = wp + <usize>i * pb;
    let s = sp + ((<usize>i * G) << 5);
    let xk = x;
    const yi = y + (<usize>(i * 8) << 2);
    const nr = min(8, N - (i + 3 * Q) * 8); // only the last stream's panel can be partial
    for (let k0 = 0; k0 < K; k0 += KG) {
      const kc = min(KG, K - k0), acc = k0 > 0;
      let e0 = f32x4.splat(0), e1 = f32x4.splat(0), f0 = f32x4.splat(0), f1 = f32x4.splat(0);
      let g0 = f32x4.splat(0), g1 = f32x4.splat(0), h0 = f32x4.splat(0), h1 = f32x4.splat(0);
      for (let k = 0; k < kc; k++) {
        let v = v128.load32_splat(xk);
        if (rawOf<T>()) v = f32x4.mul(v, half);
        e0 = madd(v, lo8<T>(w, m, true), e0); e1 = madd(v, hi8<T>(w, m, true), e1);
        f0 = madd(v, lo8<T>(w + qb, m, true), f0); f1 = madd(v, hi8<T>(w + qb, m, true), f1);
        g0 = madd(v, lo8<T>(w + 2 * qb, m, true), g0); g1 = madd(v, hi8<T>(w + 2 * qb, m, true), g1);
        h0 = madd(v, lo8<T>(w + 3 * qb, m, true), h0); h1 = madd(v, hi8<T>(w + 3 * qb, m, true), h1);
        w += rb; xk += 4;
      }
      if (rawOf<T>()) {
        e0 = f32x4.mul(e0, half); e1 = f32x4.mul(e1, half); f0 = f32x4.mul(f0, half); f1 = f32x4.mul(f1, half);
        g0 = f32x4.mul(g0, half); g1 = f32x4.mul(g1, half); h0 = f32x4.mul(h0, half); h1 = f32x4.mul(h1, half);
      }
      if (scaledOf<T>()) {
        e0 = f32x4.mul(e0, v128.load(s)); e1 = f32x4.mul(e1, v128.load(s, 16));
        f0 = f32x4.mul(f0, v128.load(s + sq)); f1 = f32x4.mul(f1, v128.load(s + sq, 16));
        g0 = f32x4.mul(g0, v128.load(s + 2 * sq)); g1 = f32x4.mul(g1, v128.load(s + 2 * sq, 16));
        h0 = f32x4.mul(h0, v128.load(s + 3 * sq)); h1 = f32x4.mul(h1, v128.load(s + 3 * sq, 16));
        s += 32;
      }
      storeRow8(yi, e0, e1, 8, acc);
      storeRow8(yi + yq, f0, f1, 8, acc);
      storeRow8(yi + 2 * yq, g0, g1, 8, acc);
      storeRow8(yi + 3 * yq, h0, h1, nr, acc);
    }
  }
  // leftover panels one by one, through the GEMM's per-group path
  for (let p = 4 * Q; p < P; p++) {
    for (let k0 = 0; k0 < K; k0 += KG) {
      const g = k0 / KG;
      micro1x8w<T>(x + (<usize>k0 << 2), wp + (<usize>p * K + k0) * rb, min(KG, K - k0), sp + ((<usize>(p * G + g)) << 5), y + (<usize>(p * 8) << 2), min(8, N - p * 8), k0 > 0);
    }
  }
}

/**
 * y [M, N] (row stride ldy) = x [M, K] (row stride ldx) W^T for W packed in format fmt (sp: its
 * scales, KG its k-group; bf16 ignores both). WF_F32 is the float32 linear (wp from pack_nk_8).
 */
export function linear_w(fmt: i32, M: i32, N: i32, K: i32, KG: i32, x: usize, ldx: i32, wp: usize, sp: usize, y: usize, ldy: i32): void {
  if (fmt == WF_F32) {
    if (M == 1) gemv_1x8(N, K, x, wp, y);
    else gemm_4x8(M, N, K, x, ldx, wp, y, ldy);
    return;
  }
  // bf16 has no groups: one group spanning K keeps the k-blocking and the GEMV's single pass
  const kg = fmt == WF_BF16 ? K : KG;
  if (M == 1) {
    if (fmt == WF_BF16) gemvW<u16>(N, K, kg, x, wp, sp, y);
    else if (fmt == WF_INT8) gemvW<i8>(N, K, kg, x, wp, sp, y);
    else gemvW<u8>(N, K, kg, x, wp, sp, y);
  } else {
    if (fmt == WF_BF16) gemmW<u16>(M, N, K, kg, x, ldx, wp, sp, y, ldy);
    else if (fmt == WF_INT8) gemmW<i8>(M, N, K, kg, x, ldx, wp, sp, y, ldy);
    else gemmW<u8>(M, N, K, kg, x, ldx, wp, sp, y, ldy);
  }
}

/**
 * Per-head products over one buffer of H packed weights, head h at wp + h*wStride bytes (scales
 * at sp + h*sStride): y[:, h] = x[:, h] W[h]^T for heads h0 .. h1-1, x rows ldx floats apart
 * (head h's K inputs at column h*K... given by xHead floats per head), y the same with yHead.
 * float32 uses the 4x8 GEMM for every row count (the q-absorption's bits since it was written).
 */
export function linear_heads_w(fmt: i32, KG: i32, M: i32, h0: i32, h1: i32, N: i32, K: i32,
  x: usize, ldx: i32, xHead: i32, wp: usize, wStride: usize, sp: usize, sStride: usize, y: usize, ldy: i32, yHead: i32, gemmAlways: bool): void {
  for (let h = h0; h < h1; h++) {
    const xh = x + ((<usize>h * xHead) << 2), yh = y + ((<usize>h * yHead) << 2), w = wp + <usize>h * wStride;
    if (fmt == WF_F32 && gemmAlways) gemm_4x8(M, N, K, xh, ldx, w, yh, ldy);
    else linear_w(fmt, M, N, K, KG, xh, ldx, w, sp + <usize>h * sStride, yh, ldy);
  }
}

/** Bytes between heads of a per-head packed weight buffer ([N, K] each), 16-byte aligned. */
export function head_stride_w(fmt: i32, N: i32, K: i32): i32 {
  return fmt == WF_F32 ? packed_size_8(N, K) << 2 : (packed_bytes_w(fmt, N, K) + 15) & ~15;
}
