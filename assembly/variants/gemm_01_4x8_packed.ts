// GEMM variant 01: y [M, N] = x [M, K] W^T, W [N, K] packed once into the core's 8-row panels
// (_pack8.ts: panel p, step k holds W[8p..8p+7, k] contiguously: two v128 loads per k). Micro-kernel
// 4 rows x 8 columns: 8 accumulators, 4 x-broadcasts (load32_splat) + 2 panel loads per 8 madds.
// Loop order: panel outer, 4-row block inner, full K per tile (no K blocking).
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
      for (let k = 0; k < K; k++) {
        const b0 = v128.load(b), b1 = v128.load(b, 16);
        const ko = <usize>k << 2;
        const a0 = v128.load32_splat(x0 + ko), a1 = v128.load32_splat(x1 + ko);
        c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
        c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
        const a2 = v128.load32_splat(x2 + ko), a3 = v128.load32_splat(x3 + ko);
        c20 = madd(a2, b0, c20); c21 = madd(a2, b1, c21);
        c30 = madd(a3, b0, c30); c31 = madd(a3, b1, c31);
        b += 32;
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
