// GEMV variant 01 (decode, one token): y [N] = W [N, K] x, W row-major as stored (no packing).
// 4 rows per pass share each x load: 1 x load + 4 weight loads per 4 madds; W streams once
// from memory in 4 concurrent row streams. Horizontal sums once per row at the end.
import { madd, hsum } from "../common";
export { isa as relaxed } from "../common";

export function packedBytes(N: i32, K: i32): usize {
  return <usize>N * K * 4;
}
export function pack(w: usize, wp: usize, N: i32, K: i32): void {
  memory.copy(wp, w, <usize>N * K * 4);
}

export function gemv(x: usize, w: usize, y: usize, N: i32, K: i32): void {
  const rs = <usize>K << 2;
  const K4 = K & ~3;
  let n = 0;
  for (; n + 4 <= N; n += 4) {
    const w0 = w + <usize>n * rs, w1 = w0 + rs, w2 = w1 + rs, w3 = w2 + rs;
    let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0;
    for (let k = 0; k < K4; k += 4) {
      const o = <usize>k << 2;
      const xv = v128.load(x + o);
      s0 = madd(v128.load(w0 + o), xv, s0);
      s1 = madd(v128.load(w1 + o), xv, s1);
      s2 = madd(v128.load(w2 + o), xv, s2);
      s3 = madd(v128.load(w3 + o), xv, s3);
    }
    let r0 = hsum(s0), r1 = hsum(s1), r2 = hsum(s2), r3 = hsum(s3);
    for (let k = K4; k < K; k++) {
      const o = <usize>k << 2;
      const xk = load<f32>(x + o);
      r0 += load<f32>(w0 + o) * xk; r1 += load<f32>(w1 + o) * xk;
      r2 += load<f32>(w2 + o) * xk; r3 += load<f32>(w3 + o) * xk;
    }
    store<f32>(y + (<usize>n << 2), r0); store<f32>(y + (<usize>n << 2), r1, 4);
    store<f32>(y + (<usize>n << 2), r2, 8); store<f32>(y + (<usize>n << 2), r3, 12);
  }
  for (; n < N; n++) {
    const w0 = w + <usize>n * rs;
    let s0 = f32x4.splat(0);
    for (let k = 0; k < K4; k += 4) s0 = madd(v128.load(w0 + (<usize>k << 2)), v128.load(x + (<usize>k << 2)), s0);
    let r0 = hsum(s0);
    for (let k = K4; k < K; k++) r0 += load<f32>(w0 + (<usize>k << 2)) * load<f32>(x + (<usize>k << 2));
    store<f32>(y + (<usize>n << 2), r0);
  }
}
