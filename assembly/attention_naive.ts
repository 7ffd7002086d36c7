// Naive decode: one new token attends over the decompressed per-head K/V cache (MHA). Every
// cached element is read once per step, so this is memory-bound: the loops walk K and V
// [T, H, *] in memory order (key outer, head inner) so the hardware prefetchers stream them,
// in blocks of KB keys with an online softmax per head.

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
    // scores, key-major: k[j, h] for h = 0.. is contiguous
    let kj = kRow + <usize>j0 * kStep;
    for (let jj = 0; jj < nk; jj++) {
      let kh = kj, qh = q, Sh = S + (<usize>jj << 2);
      for (let h = 0; h < H; h++) {
        store<f32>(Sh, dot(qh, kh, qk));
        kh += qkB; qh += qkB; Sh += KBB;
      }
      kj += kStep;
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
    // o[h] += p[h, j] v[j, h], key-major
    let vj = vRow + <usize>j0 * vStep;
    for (let jj = 0; jj < nk; jj++) {
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
