// Naive decode attention, variant 02 (01 with 4 accumulator chains per dot product, so one
// (token, head) dot of 192 floats is not bound by one chain's FMA latency): q [H, dqk] over the decompressed cache k [S, H, dqk],
// v [S, H, dv] -> o [H, dv]. Memory-bound (each cached float is used once per step), so both
// passes walk the cache in storage order (token outer, head inner) as one contiguous stream.
// Pass 1: s[t, h] = q[h].k[t, h] (token-major). Softmax per head across lanes with a SIMD exp.
// Pass 2: o[h] += p[t, h] v[t, h], o kept in L1/L2. Requires dqk % 4 == 0 and dv % 4 == 0.
import { madd, hsum, vexp } from "../common";
export { isa as relaxed } from "../common";

function padH(H: i32): i32 {
  return (H + 3) & ~3;
}

export function workBytes(H: i32, S: i32, dqk: i32, dv: i32): usize {
  return (<usize>S * padH(H) + <usize>padH(H)) * 4 + 64;
}

export function naive(q: usize, k: usize, v: usize, o: usize, H: i32, S: i32, dqk: i32, dv: i32, scale: f32, work: usize): void {
  const Hp = padH(H);
  const s = (work + 15) & ~(<usize>15);
  const l = s + <usize>S * Hp * 4;
  const qs = <usize>dqk << 2;
  // Pass 1.
  let kp = k;
  for (let t = 0; t < S; t++) {
    const srow = s + <usize>t * Hp * 4;
    for (let h = 0; h < H; h++) {
      const qh = q + <usize>h * qs;
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
      let d = 0;
      for (; d + 16 <= dqk; d += 16) {
        const off = <usize>d << 2;
        a0 = madd(v128.load(kp + off), v128.load(qh + off), a0);
        a1 = madd(v128.load(kp + off, 16), v128.load(qh + off, 16), a1);
        a2 = madd(v128.load(kp + off, 32), v128.load(qh + off, 32), a2);
        a3 = madd(v128.load(kp + off, 48), v128.load(qh + off, 48), a3);
      }
      for (; d < dqk; d += 4) a0 = madd(v128.load(kp + (<usize>d << 2)), v128.load(qh + (<usize>d << 2)), a0);
      store<f32>(srow + (<usize>h << 2), hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3))));
      kp += qs;
    }
    for (let h = H; h < Hp; h++) store<f32>(srow + (<usize>h << 2), 0);
  }
  // Softmax over t, 4 heads per vector.
  const sc = f32x4.splat(scale);
  for (let h = 0; h < Hp; h += 4) {
    let m = f32x4.splat(-Infinity);
    for (let t = 0; t < S; t++) m = f32x4.max(m, v128.load(s + ((<usize>t * Hp + h) << 2)));
    let sum = f32x4.splat(0);
    for (let t = 0; t < S; t++) {
      const a = s + ((<usize>t * Hp + h) << 2);
      const p = vexp(f32x4.mul(f32x4.sub(v128.load(a), m), sc));
      v128.store(a, p);
      sum = f32x4.add(sum, p);
    }
    v128.store(l + (<usize>h << 2), sum);
  }
  // Pass 2.
  const vs = <usize>dv << 2;
  memory.fill(o, 0, <usize>H * vs);
  let vp = v;
  for (let t = 0; t < S; t++) {
    const prow = s + <usize>t * Hp * 4;
    for (let h = 0; h < H; h++) {
      const p = v128.load32_splat(prow + (<usize>h << 2));
      const oh = o + <usize>h * vs;
      let d = 0;
      for (; d + 16 <= dv; d += 16) {
        const off = <usize>d << 2;
        v128.store(oh + off, madd(p, v128.load(vp + off), v128.load(oh + off)));
        v128.store(oh + off, madd(p, v128.load(vp + off, 16), v128.load(oh + off, 16)), 16);
        v128.store(oh + off, madd(p, v128.load(vp + off, 32), v128.load(oh + off, 32)), 32);
        v128.store(oh + off, madd(p, v128.load(vp + off, 48), v128.load(oh + off, 48)), 48);
      }
      for (; d < dv; d += 4) {
        const off = <usize>d << 2;
        v128.store(oh + off, madd(p, v128.load(vp + off), v128.load(oh + off)));
      }
      vp += vs;
    }
  }
  for (let h = 0; h < H; h++) {
    const inv = f32x4.splat(1.0 / load<f32>(l + (<usize>h << 2)));
    const oh = o + <usize>h * vs;
    for (let d = 0; d < dv; d += 4) v128.store(oh + (<usize>d << 2), f32x4.mul(v128.load(oh + (<usize>d << 2)), inv));
  }
}
