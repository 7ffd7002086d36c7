// GEMM variant 02: variant 01 (4x8 tile over 8-row packed panels, same pack()) with the k loop
// unrolled by 4 so every load takes an immediate offset from pointers bumped once per 4 steps:
// per k step 01 spends ~8 integer uops (4 x-row address adds, panel bump, counter, compare) beside
// 6 loads and 8 madds, near the 6-uop/cycle dispatch width at 2 FMA/cycle; here ~1.5.
import { madd } from "./_simd";
export { relaxed } from "./_simd";

export function packedBytes(N: i32, K: i32): usize {
  return <usize>((N + 7) >> 3) * 8 * <usize>K * 4;
}

/** wp <- W [N, K] in 8-row panels, zero-padded to a multiple of 8 rows. */
export function pack(w: usize, wp: usize, N: i32, K: i32): void {
  const P = (N + 7) >> 3;
  for (let p = 0; p < P; p++) {
    for (let k = 0; k < K; k++) {
      for (let j = 0; j < 8; j++) {
        const n = p * 8 + j;
        store<f32>(wp + ((<usize>(p * K + k) * 8 + j) << 2), n < N ? load<f32>(w + ((<usize>n * K + k) << 2)) : 0);
      }
    }
  }
}

// @ts-ignore: decorator
@inline function storeTile(y: usize, v: v128, cols: i32): void {
  if (cols >= 4) v128.store(y, v);
  else {
    if (cols > 0) store<f32>(y, f32x4.extract_lane(v, 0));
    if (cols > 1) store<f32>(y, f32x4.extract_lane(v, 1), 4);
    if (cols > 2) store<f32>(y, f32x4.extract_lane(v, 2), 8);
  }
}

export function gemm(x: usize, wp: usize, y: usize, M: i32, N: i32, K: i32): void {
  const P = (N + 7) >> 3;
  const xs = <usize>K << 2, ys = <usize>N << 2;
  for (let p = 0; p < P; p++) {
    const panel = wp + <usize>p * K * 32;
    const cols = min(8, N - p * 8);
    let m = 0;
    for (; m + 4 <= M; m += 4) {
      const x0 = x + <usize>m * xs, x1 = x0 + xs, x2 = x1 + xs, x3 = x2 + xs;
      let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
      let b = panel;
      let p0 = x0, p1 = x1, p2 = x2, p3 = x3;
      const K4 = K & ~3;
      for (let k = 0; k < K4; k += 4) {
        {
          const b0 = v128.load(b, 0), b1 = v128.load(b, 16);
          const a0 = v128.load32_splat(p0, 0), a1 = v128.load32_splat(p1, 0);
          c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
          c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
          const a2 = v128.load32_splat(p2, 0), a3 = v128.load32_splat(p3, 0);
          c20 = madd(a2, b0, c20); c21 = madd(a2, b1, c21);
          c30 = madd(a3, b0, c30); c31 = madd(a3, b1, c31);
        }
        {
          const b0 = v128.load(b, 32), b1 = v128.load(b, 48);
          const a0 = v128.load32_splat(p0, 4), a1 = v128.load32_splat(p1, 4);
          c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
          c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
          const a2 = v128.load32_splat(p2, 4), a3 = v128.load32_splat(p3, 4);
          c20 = madd(a2, b0, c20); c21 = madd(a2, b1, c21);
          c30 = madd(a3, b0, c30); c31 = madd(a3, b1, c31);
        }
        {
          const b0 = v128.load(b, 64), b1 = v128.load(b, 80);
          const a0 = v128.load32_splat(p0, 8), a1 = v128.load32_splat(p1, 8);
          c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
          c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
          const a2 = v128.load32_splat(p2, 8), a3 = v128.load32_splat(p3, 8);
          c20 = madd(a2, b0, c20); c21 = madd(a2, b1, c21);
          c30 = madd(a3, b0, c30); c31 = madd(a3, b1, c31);
        }
        {
          const b0 = v128.load(b, 96), b1 = v128.load(b, 112);
          const a0 = v128.load32_splat(p0, 12), a1 = v128.load32_splat(p1, 12);
          c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
          c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
          const a2 = v128.load32_splat(p2, 12), a3 = v128.load32_splat(p3, 12);
          c20 = madd(a2, b0, c20); c21 = madd(a2, b1, c21);
          c30 = madd(a3, b0, c30); c31 = madd(a3, b1, c31);
        }
        b += 128; p0 += 16; p1 += 16; p2 += 16; p3 += 16;
      }
      for (let k = K4; k < K; k++) {
        {
          const b0 = v128.load(b, 0), b1 = v128.load(b, 16);
          const a0 = v128.load32_splat(p0, 0), a1 = v128.load32_splat(p1, 0);
          c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
          c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
          const a2 = v128.load32_splat(p2, 0), a3 = v128.load32_splat(p3, 0);
          c20 = madd(a2, b0, c20); c21 = madd(a2, b1, c21);
          c30 = madd(a3, b0, c30); c31 = madd(a3, b1, c31);
        }
        b += 32; p0 += 4; p1 += 4; p2 += 4; p3 += 4;
      }
      const yt = y + <usize>m * ys + (<usize>p << 5);
      if (cols == 8) {
        v128.store(yt, c00); v128.store(yt, c01, 16);
        v128.store(yt + ys, c10); v128.store(yt + ys, c11, 16);
        v128.store(yt + 2 * ys, c20); v128.store(yt + 2 * ys, c21, 16);
        v128.store(yt + 3 * ys, c30); v128.store(yt + 3 * ys, c31, 16);
      } else {
        storeTile(yt, c00, cols); storeTile(yt + 16, c01, cols - 4);
        storeTile(yt + ys, c10, cols); storeTile(yt + ys + 16, c11, cols - 4);
        storeTile(yt + 2 * ys, c20, cols); storeTile(yt + 2 * ys + 16, c21, cols - 4);
        storeTile(yt + 3 * ys, c30, cols); storeTile(yt + 3 * ys + 16, c31, cols - 4);
      }
    }
    for (; m < M; m++) {
      const x0 = x + <usize>m * xs;
      let c0 = f32x4.splat(0), c1 = c0;
      let b = panel;
      for (let k = 0; k < K; k++) {
        const a0 = v128.load32_splat(x0 + (<usize>k << 2));
        c0 = madd(a0, v128.load(b), c0); c1 = madd(a0, v128.load(b, 16), c1);
        b += 32;
      }
      const yt = y + <usize>m * ys + (<usize>p << 5);
      storeTile(yt, c0, cols); storeTile(yt + 16, c1, cols - 4);
    }
  }
}
