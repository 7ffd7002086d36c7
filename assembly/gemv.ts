// GEMV y = W x for decode (one row): streams the packed panels (pack_nk_8) once; memory-bound for
// large W, so the loop keeps eight independent accumulator chains (4 k-phases x 2 halves) and lets
// the loads run at the memory's pace.

import { madd } from "./common";
import { storeRow8 } from "./gemm";

/** y [N] = x [K] W^T with W packed by pack_nk_8. */
export function gemv_1x8(N: i32, K: i32, x: usize, wp: usize, y: usize): void {
  const panels = (N + 7) >> 3;
  const K4 = K & ~3;
  for (let p = 0; p < panels; p++) {
    let w = wp + ((<usize>(p * K)) << 5);
    let xk = x;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), b0 = f32x4.splat(0), b1 = f32x4.splat(0);
    let c0 = f32x4.splat(0), c1 = f32x4.splat(0), d0 = f32x4.splat(0), d1 = f32x4.splat(0);
    let k = 0;
    for (; k < K4; k += 4) {
      let s = v128.load32_splat(xk);
      a0 = madd(s, v128.load(w), a0); a1 = madd(s, v128.load(w, 16), a1);
      s = v128.load32_splat(xk, 4);
      b0 = madd(s, v128.load(w, 32), b0); b1 = madd(s, v128.load(w, 48), b1);
      s = v128.load32_splat(xk, 8);
      c0 = madd(s, v128.load(w, 64), c0); c1 = madd(s, v128.load(w, 80), c1);
      s = v128.load32_splat(xk, 12);
      d0 = madd(s, v128.load(w, 96), d0); d1 = madd(s, v128.load(w, 112), d1);
      xk += 16; w += 128;
    }
    for (; k < K; k++) {
      const s = v128.load32_splat(xk);
      a0 = madd(s, v128.load(w), a0); a1 = madd(s, v128.load(w, 16), a1);
      xk += 4; w += 32;
    }
    const lo = f32x4.add(f32x4.add(a0, b0), f32x4.add(c0, d0));
    const hi = f32x4.add(f32x4.add(a1, b1), f32x4.add(c1, d1));
    storeRow8(y + (<usize>(p * 8) << 2), lo, hi, min(8, N - p * 8), false);
  }
}
