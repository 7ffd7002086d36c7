// Building blocks of the absorbed-attention variants. Layouts:
//   q  [H, C+dr] = [q_abs | q_pe] per head;  kv [S, C];  pe [S, dr];  o [H, C].
//   qp: q transposed into 8-head panels: qp[(hp*(C+dr) + k)*8 + j] = q[hp*8+j, k] (heads padded).
//   scores/probabilities token-major: s[t*Hp + h], so softmax over t runs across heads in lanes.
import { madd } from "../common";

export function padHeads(H: i32): i32 {
  return (H + 7) & ~7;
}

/** qp <- q [H, D] as 8-head panels (zero for padded heads). */
export function packQ(q: usize, qp: usize, H: i32, D: i32): void {
  const Hp = padHeads(H);
  for (let hp = 0; hp < Hp >> 3; hp++)
    for (let k = 0; k < D; k++)
      for (let j = 0; j < 8; j++) {
        const h = hp * 8 + j;
        store<f32>(qp + ((<usize>(hp * D + k) * 8 + j) << 2), h < H ? load<f32>(q + ((<usize>h * D + k) << 2)) : 0);
      }
}

/**
 * s[t, h] for tokens t0..t0+3 and the 8 heads of one panel: sum over k < C of kv[t,k] q[h,k] plus
 * sum over k < dr of pe[t,k] q[h,C+k]. 4x8 tile, 8 accumulators. Stores into s (stride Hp).
 */
// @ts-ignore: decorator
@inline export function scoreTile4x8(kv: usize, pe: usize, panel: usize, s: usize, t0: i32, C: i32, dr: i32, Hp: i32, hp: i32): void {
  const ks = <usize>C << 2, ps = <usize>dr << 2;
  const k0 = kv + <usize>t0 * ks, k1 = k0 + ks, k2 = k1 + ks, k3 = k2 + ks;
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  let b = panel;
  for (let k = 0; k < C; k++) {
    const b0 = v128.load(b), b1 = v128.load(b, 16);
    const o = <usize>k << 2;
    const a0 = v128.load32_splat(k0 + o), a1 = v128.load32_splat(k1 + o);
    c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
    c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
    const a2 = v128.load32_splat(k2 + o), a3 = v128.load32_splat(k3 + o);
    c20 = madd(a2, b0, c20); c21 = madd(a2, b1, c21);
    c30 = madd(a3, b0, c30); c31 = madd(a3, b1, c31);
    b += 32;
  }
  const p0 = pe + <usize>t0 * ps, p1 = p0 + ps, p2 = p1 + ps, p3 = p2 + ps;
  for (let k = 0; k < dr; k++) {
    const b0 = v128.load(b), b1 = v128.load(b, 16);
    const o = <usize>k << 2;
    const a0 = v128.load32_splat(p0 + o), a1 = v128.load32_splat(p1 + o);
    c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
    c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
    const a2 = v128.load32_splat(p2 + o), a3 = v128.load32_splat(p3 + o);
    c20 = madd(a2, b0, c20); c21 = madd(a2, b1, c21);
    c30 = madd(a3, b0, c30); c31 = madd(a3, b1, c31);
    b += 32;
  }
  const ss = <usize>Hp << 2;
  const st = s + <usize>t0 * ss + (<usize>hp << 5);
  v128.store(st, c00); v128.store(st, c01, 16);
  v128.store(st + ss, c10); v128.store(st + ss, c11, 16);
  v128.store(st + 2 * ss, c20); v128.store(st + 2 * ss, c21, 16);
  v128.store(st + 3 * ss, c30); v128.store(st + 3 * ss, c31, 16);
}

/** One token's scores for one 8-head panel (the t % 4 tail). */
// @ts-ignore: decorator
@inline export function scoreTile1x8(kv: usize, pe: usize, panel: usize, s: usize, t: i32, C: i32, dr: i32, Hp: i32, hp: i32): void {
  const k0 = kv + <usize>t * (<usize>C << 2), p0 = pe + <usize>t * (<usize>dr << 2);
  let c0 = f32x4.splat(0), c1 = c0;
  let b = panel;
  for (let k = 0; k < C; k++) {
    const a = v128.load32_splat(k0 + (<usize>k << 2));
    c0 = madd(a, v128.load(b), c0); c1 = madd(a, v128.load(b, 16), c1);
    b += 32;
  }
  for (let k = 0; k < dr; k++) {
    const a = v128.load32_splat(p0 + (<usize>k << 2));
    c0 = madd(a, v128.load(b), c0); c1 = madd(a, v128.load(b, 16), c1);
    b += 32;
  }
  const st = s + <usize>t * (<usize>Hp << 2) + (<usize>hp << 5);
  v128.store(st, c0); v128.store(st, c1, 16);
}

/**
 * o[h, c..c+7] (+)= sum over t in [t0, t1) of p[t, h] kv[t, c..c+7] for heads h0..h0+3.
 * 4x8 tile; `first` starts from zero instead of the stored tile.
 */
// @ts-ignore: decorator
@inline export function pvTile4x8(p: usize, kv: usize, o: usize, t0: i32, t1: i32, h0: i32, c: i32, C: i32, Hp: i32, first: bool): void {
  const os = <usize>C << 2;
  const ot = o + <usize>h0 * os + (<usize>c << 2);
  let c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128;
  if (first) {
    c00 = f32x4.splat(0); c01 = c00; c10 = c00; c11 = c00; c20 = c00; c21 = c00; c30 = c00; c31 = c00;
  } else {
    c00 = v128.load(ot); c01 = v128.load(ot, 16);
    c10 = v128.load(ot + os); c11 = v128.load(ot + os, 16);
    c20 = v128.load(ot + 2 * os); c21 = v128.load(ot + 2 * os, 16);
    c30 = v128.load(ot + 3 * os); c31 = v128.load(ot + 3 * os, 16);
  }
  const ps = <usize>Hp << 2;
  let pp = p + <usize>t0 * ps + (<usize>h0 << 2);
  let vv = kv + <usize>t0 * os + (<usize>c << 2);
  for (let t = t0; t < t1; t++) {
    const b0 = v128.load(vv), b1 = v128.load(vv, 16);
    const a0 = v128.load32_splat(pp), a1 = v128.load32_splat(pp + 4);
    c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
    c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
    const a2 = v128.load32_splat(pp + 8), a3 = v128.load32_splat(pp + 12);
    c20 = madd(a2, b0, c20); c21 = madd(a2, b1, c21);
    c30 = madd(a3, b0, c30); c31 = madd(a3, b1, c31);
    pp += ps; vv += os;
  }
  v128.store(ot, c00); v128.store(ot, c01, 16);
  v128.store(ot + os, c10); v128.store(ot + os, c11, 16);
  v128.store(ot + 2 * os, c20); v128.store(ot + 2 * os, c21, 16);
  v128.store(ot + 3 * os, c30); v128.store(ot + 3 * os, c31, 16);
}
