// GEMM variant 02: variant 01 (4x8 tile over 8-row packed panels, same pack()) with the k loop
// unrolled by 4 so every load takes an immediate offset from pointers bumped once per 4 steps:
// per k step 01 spends ~8 integer uops (4 x-row address adds, panel bump, counter, compare) beside
// 6 loads and 8 madds, near the 6-uop/cycle dispatch width at 2 FMA/cycle; here ~1.5.
import { madd } from "../common";
import { storeRow8 } from "../gemm";
export { packedBytes, pack } from "./_pack8";
export { isa as relaxed } from "../common";

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
      storeRow8(yt, c00, c01, cols, false);
      storeRow8(yt + ys, c10, c11, cols, false);
      storeRow8(yt + 2 * ys, c20, c21, cols, false);
      storeRow8(yt + 3 * ys, c30, c31, cols, false);
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
      storeRow8(yt, c0, c1, cols, false);
    }
  }
}
