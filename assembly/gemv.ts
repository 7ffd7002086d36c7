// GEMV y = W x for decode (one row) over the packed panels of pack_nk_8: memory-bound for large W.
// Four panels from the four quarters of W are walked together, i.e. four concurrent sequential
// DRAM streams, which keeps more requests in flight than one stream: the bench's variant
// gemv_02_packed8_4stream measured 1.3-1.5x over walking the panels one after another
// (bench/results/variants.json). Per k: one broadcast of x, 8 loads, 8 madds into 8 chains.

import { madd } from "./common";
import { micro1x8, storeRow8 } from "./gemm";

/** y [N] = x [K] W^T with W packed by pack_nk_8. */
export function gemv_1x8(N: i32, K: i32, x: usize, wp: usize, y: usize): void {
  const P = (N + 7) >> 3;
  const Q = P >> 2; // panels per stream
  const pb = <usize>K << 5; // bytes per panel
  const qb = <usize>Q * pb; // bytes between the streams
  for (let i = 0; i < Q; i++) {
    let w = wp + <usize>i * pb;
    let xk = x;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), b0 = f32x4.splat(0), b1 = f32x4.splat(0);
    let c0 = f32x4.splat(0), c1 = f32x4.splat(0), d0 = f32x4.splat(0), d1 = f32x4.splat(0);
    for (let k = 0; k < K; k++) {
      const s = v128.load32_splat(xk);
      a0 = madd(s, v128.load(w), a0); a1 = madd(s, v128.load(w, 16), a1);
      b0 = madd(s, v128.load(w + qb), b0); b1 = madd(s, v128.load(w + qb, 16), b1);
      c0 = madd(s, v128.load(w + 2 * qb), c0); c1 = madd(s, v128.load(w + 2 * qb, 16), c1);
      d0 = madd(s, v128.load(w + 3 * qb), d0); d1 = madd(s, v128.load(w + 3 * qb, 16), d1);
      w += 32; xk += 4;
    }
    storeRow8(y + (<usize>(i * 8) << 2), a0, a1, min(8, N - i * 8), false);
    storeRow8(y + (<usize>((i + Q) * 8) << 2), b0, b1, min(8, N - (i + Q) * 8), false);
    storeRow8(y + (<usize>((i + 2 * Q) * 8) << 2), c0, c1, min(8, N - (i + 2 * Q) * 8), false);
    storeRow8(y + (<usize>((i + 3 * Q) * 8) << 2), d0, d1, min(8, N - (i + 3 * Q) * 8), false);
  }
  for (let p = 4 * Q; p < P; p++) micro1x8(x, wp + <usize>p * pb, K, y + (<usize>(p * 8) << 2), min(8, N - p * 8), false); // leftover panels one by one
}
