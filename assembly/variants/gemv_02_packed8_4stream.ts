// GEMV variant 02 (decode): y [N] = W [N, K] x over W packed in 8-row panels (the core's pack_nk_8
// layout, _pack8.ts, so it can share the prefill GEMM's packed weights). Walking the panels one
// after another is ONE sequential DRAM stream; here four panels from the four quarters of W are
// walked together: four concurrent streams (a GEMV that reads several places at once, like
// XNNPACK's, beat one stream in this project's runs; the core's gemv_1x8 is this variant promoted).
// Per k: one x broadcast, 8 panel loads, 8 madds into 8 accumulators (one chain each).
import { madd } from "../common";
import { storeRow8 } from "../gemm";
export { isa as relaxed } from "../common";
export { packedBytes, pack } from "./_pack8";

/** One panel alone (the P % 4 remainder). */
function panel1(x: usize, wp: usize, y: usize, p: i32, N: i32, K: i32): void {
  let w = wp + <usize>p * K * 32;
  let a0 = f32x4.splat(0), a1 = a0, b0 = a0, b1 = a0;
  let k = 0;
  for (; k + 2 <= K; k += 2) {
    const s0 = v128.load32_splat(x + (<usize>k << 2)), s1 = v128.load32_splat(x + (<usize>k << 2), 4);
    a0 = madd(s0, v128.load(w), a0); a1 = madd(s0, v128.load(w, 16), a1);
    b0 = madd(s1, v128.load(w, 32), b0); b1 = madd(s1, v128.load(w, 48), b1);
    w += 64;
  }
  if (k < K) {
    const s0 = v128.load32_splat(x + (<usize>k << 2));
    a0 = madd(s0, v128.load(w), a0); a1 = madd(s0, v128.load(w, 16), a1);
  }
  storeRow8(y + (<usize>(p * 8) << 2), f32x4.add(a0, b0), f32x4.add(a1, b1), min(8, N - p * 8), false);
}

export function gemv(x: usize, wp: usize, y: usize, N: i32, K: i32): void {
  const P = (N + 7) >> 3;
  const Q = P >> 2; // panels per stream
  const ps = <usize>K * 32; // bytes per panel
  for (let i = 0; i < Q; i++) {
    let w0 = wp + <usize>i * ps, w1 = w0 + <usize>Q * ps, w2 = w1 + <usize>Q * ps, w3 = w2 + <usize>Q * ps;
    let a0 = f32x4.splat(0), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, d0 = a0, d1 = a0;
    let xk = x;
    for (let k = 0; k < K; k++) {
      const s = v128.load32_splat(xk);
      a0 = madd(s, v128.load(w0), a0); a1 = madd(s, v128.load(w0, 16), a1);
      b0 = madd(s, v128.load(w1), b0); b1 = madd(s, v128.load(w1, 16), b1);
      c0 = madd(s, v128.load(w2), c0); c1 = madd(s, v128.load(w2, 16), c1);
      d0 = madd(s, v128.load(w3), d0); d1 = madd(s, v128.load(w3, 16), d1);
      w0 += 32; w1 += 32; w2 += 32; w3 += 32; xk += 4;
    }
    storeRow8(y + (<usize>(i * 8) << 2), a0, a1, min(8, N - i * 8), false);
    storeRow8(y + (<usize>((i + Q) * 8) << 2), b0, b1, min(8, N - (i + Q) * 8), false);
    storeRow8(y + (<usize>((i + 2 * Q) * 8) << 2), c0, c1, min(8, N - (i + 2 * Q) * 8), false);
    storeRow8(y + (<usize>((i + 3 * Q) * 8) << 2), d0, d1, min(8, N - (i + 3 * Q) * 8), false);
  }
  for (let p = 4 * Q; p < P; p++) panel1(x, wp, y, p, N, K);
}
