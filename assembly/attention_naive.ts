// Naive decode: one new token attends over the decompressed per-head K/V cache (MHA). Every
// cached element is read once per step, so this is memory-bound. Per block of KB keys the loops
// walk K and V [T, H, *] as four concurrent streams (keys j, j+KB/4, j+KB/2, j+3KB/4, each in
// memory order, head inner), which keeps more DRAM requests in flight than one stream (as the
// GEMV does), reuses each q_h load for four keys and each o_h load/store for four values;
// online softmax per head.

import { madd, hsum, vexp } from "./common";
import { KB } from "./attention_core";

const KBB: usize = <usize>KB << 2;

/** dot(a, b) over d floats. */
// @ts-ignore: decorator
@inline function dot(a: usize, b: usize, d: i32): f32 {
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
  let o: usize = 0;
  const e8 = <usize>(d & ~7) << 2, e = <usize>d << 2;
  for (; o < e8; o += 32) {
    s0 = madd(v128.load(a + o), v128.load(b + o), s0);
    s1 = madd(v128.load(a + o, 16), v128.load(b + o, 16), s1);
  }
  let s = hsum(f32x4.add(s0, s1));
  for (; o < e; o += 4) s += load<f32>(a + o) * load<f32>(b + o);
  return s;
}

/** dst[0..3] = dot(q, k_s) over d floats for the four keys k0..k3. */
// @ts-ignore: decorator
@inline function dot1x4(q: usize, k0: usize, k1: usize, k2: usize, k3: usize, d: i32, dst: usize, stride: usize): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  const e4 = <usize>(d & ~3) << 2, e = <usize>d << 2;
  let o: usize = 0;
  for (; o < e4; o += 16) {
    const a = v128.load(q + o);
    a0 = madd(a, v128.load(k0 + o), a0);
    a1 = madd(a, v128.load(k1 + o), a1);
    a2 = madd(a, v128.load(k2 + o), a2);
    a3 = madd(a, v128.load(k3 + o), a3);
  }
  let s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
  for (; o < e; o += 4) {
    const a = load<f32>(q + o);
    s0 += a * load<f32>(k0 + o); s1 += a * load<f32>(k1 + o); s2 += a * load<f32>(k2 + o); s3 += a * load<f32>(k3 + o);
  }
  store<f32>(dst, s0); store<f32>(dst + stride, s1); store<f32>(dst + 2 * stride, s2); store<f32>(dst + 3 * stride, s3);
}

/**
 * q [H, qk], kRow [T, H, qk], vRow [T, H, dv] with T = startPos + 1 (new token appended); o [H, dv].
 * scratch: attend_scratch_floats(H) floats (scores [H, KB], m [H], l [H], alpha [H]).
 */
export function attn_decode_naive(H: i32, qk: i32, dv: i32, startPos: i32, q: usize, kRow: usize, vRow: usize, scale: f32, o: usize, scratch: usize): void {
  const T = startPos + 1;
  const S = scratch, mArr = S + <usize>H * KBB, lArr = mArr + (<usize>H << 2), alpha = lArr + (<usize>H << 2);
  const qkB = <usize>qk << 2, dvB = <usize>dv << 2, kStep = <usize>H * qkB, vStep = <usize>H * dvB;
  const dv4 = dv & ~3;
  for (let h = 0; h < H; h++) {
    store<f32>(mArr + (<usize>h << 2), -Infinity);
    store<f32>(lArr + (<usize>h << 2), 0);
  }
  memory.fill(o, 0, <usize>H * dvB);
  const vscale = f32x4.splat(scale);
  for (let j0 = 0; j0 < T; j0 += KB) {
    const nk = min(KB, T - j0), nk4 = (nk + 3) & ~3;
    // scores: four streams of keys (q4 apart), each key's heads in memory order
    const q4 = nk >> 2;
    for (let jj = 0; jj < q4; jj++) {
      let k0 = kRow + <usize>(j0 + jj) * kStep, qh = q, Sh = S + (<usize>jj << 2);
      const st = <usize>q4 * kStep;
      for (let h = 0; h < H; h++) {
        dot1x4(qh, k0, k0 + st, k0 + 2 * st, k0 + 3 * st, qk, Sh, <usize>q4 << 2);
        k0 += qkB; qh += qkB; Sh += KBB;
      }
    }
    for (let jj = 4 * q4; jj < nk; jj++) {
      let kh = kRow + <usize>(j0 + jj) * kStep, qh = q, Sh = S + (<usize>jj << 2);
      for (let h = 0; h < H; h++) {
        store<f32>(Sh, dot(qh, kh, qk));
        kh += qkB; qh += qkB; Sh += KBB;
      }
    }
    // online softmax per head
    for (let h = 0; h < H; h++) {
      const Sh = S + <usize>h * KBB;
      for (let jj = nk; jj < nk4; jj++) store<f32>(Sh + (<usize>jj << 2), -Infinity);
      let vm = f32x4.splat(-Infinity);
      for (let jj = 0; jj < nk4; jj += 4) {
        const x = f32x4.mul(v128.load(Sh + (<usize>jj << 2)), vscale);
        v128.store(Sh + (<usize>jj << 2), x);
        vm = f32x4.max(vm, x);
      }
      const mOld = load<f32>(mArr + (<usize>h << 2));
      const mNew = max(mOld, max(max(f32x4.extract_lane(vm, 0), f32x4.extract_lane(vm, 1)), max(f32x4.extract_lane(vm, 2), f32x4.extract_lane(vm, 3))));
      const a = Mathf.exp(mOld - mNew);
      const vmn = f32x4.splat(mNew);
      let vs = f32x4.splat(0);
      for (let jj = 0; jj < nk4; jj += 4) {
        const e = vexp(f32x4.sub(v128.load(Sh + (<usize>jj << 2)), vmn));
        v128.store(Sh + (<usize>jj << 2), e);
        vs = f32x4.add(vs, e);
      }
      store<f32>(mArr + (<usize>h << 2), mNew);
      store<f32>(lArr + (<usize>h << 2), load<f32>(lArr + (<usize>h << 2)) * a + hsum(vs));
      // o[h] *= alpha before this block's values are added
      if (a != 1) {
        const oh = o + <usize>h * dvB, va = f32x4.splat(a);
        let c = 0;
        for (; c < dv4; c += 4) v128.store(oh + (<usize>c << 2), f32x4.mul(v128.load(oh + (<usize>c << 2)), va));
        for (; c < dv; c++) store<f32>(oh + (<usize>c << 2), load<f32>(oh + (<usize>c << 2)) * a);
      }
    }
    // o[h] += p[h, j] v[j, h]: four streams of values, then the leftover keys one by one
    const st = <usize>q4 * vStep, pst = <usize>q4 << 2;
    for (let jj = 0; jj < q4; jj++) {
      let v0 = vRow + <usize>(j0 + jj) * vStep, oh = o, ph = S + (<usize>jj << 2);
      for (let h = 0; h < H; h++) {
        const p0 = v128.load32_splat(ph), p1 = v128.load32_splat(ph + pst), p2 = v128.load32_splat(ph + 2 * pst), p3 = v128.load32_splat(ph + 3 * pst);
        let c = 0;
        for (; c < dv4; c += 4) {
          const oc = <usize>c << 2;
          let acc = madd(p0, v128.load(v0 + oc), v128.load(oh + oc));
          acc = madd(p1, v128.load(v0 + st + oc), acc);
          acc = madd(p2, v128.load(v0 + 2 * st + oc), acc);
          v128.store(oh + oc, madd(p3, v128.load(v0 + 3 * st + oc), acc));
        }
        for (; c < dv; c++) {
          const oc = <usize>c << 2;
          store<f32>(oh + oc, load<f32>(oh + oc) + load<f32>(ph) * load<f32>(v0 + oc) + load<f32>(ph + pst) * load<f32>(v0 + st + oc)
            + load<f32>(ph + 2 * pst) * load<f32>(v0 + 2 * st + oc) + load<f32>(ph + 3 * pst) * load<f32>(v0 + 3 * st + oc));
        }
        v0 += dvB; oh += dvB; ph += KBB;
      }
    }
    let vj = vRow + <usize>(j0 + 4 * q4) * vStep;
    for (let jj = 4 * q4; jj < nk; jj++) {
      let vh = vj, oh = o, ph = S + (<usize>jj << 2);
      for (let h = 0; h < H; h++) {
        const p = v128.load32_splat(ph);
        const ps = load<f32>(ph);
        let c = 0;
        for (; c < dv4; c += 4) {
          const oc = <usize>c << 2;
          v128.store(oh + oc, madd(p, v128.load(vh + oc), v128.load(oh + oc)));
        }
        for (; c < dv; c++) {
          const oc = <usize>c << 2;
          store<f32>(oh + oc, load<f32>(oh + oc) + ps * load<f32>(vh + oc));
        }
        vh += dvB; oh += dvB; ph += KBB;
      }
      vj += vStep;
    }
  }
  for (let h = 0; h < H; h++) {
    const inv = <f32>1.0 / load<f32>(lArr + (<usize>h << 2));
    const oh = o + <usize>h * dvB, vi = f32x4.splat(inv);
    let c = 0;
    for (; c < dv4; c += 4) v128.store(oh + (<usize>c << 2), f32x4.mul(v128.load(oh + (<usize>c << 2)), vi));
    for (; c < dv; c++) store<f32>(oh + (<usize>c << 2), load<f32>(oh + (<usize>c << 2)) * inv);
  }
}
