// The one-pass fused absorbed decode attention of variants 02-05, with what they vary as parameters:
// the key-block size KB, the score loop order (panelOuter) and whether the block's probabilities
// are transposed before P^T kv (transposeP). Each variant calls it with literals, so -O3 inlines
// and specialises it (one body keeps their comparison honest: only the varied step differs).
// Algorithm (per block of KB tokens, all heads per block, online softmax per head):
//   scores s[t, h]: 4x8 tiles (4 tokens x 8 heads of a q panel);
//   running max m[h], alpha[h] = e^(m_old - m_new), p = e^(scale*s - m_new), l = alpha*l + sum p
//   (token-major s: 4 heads per vector, SIMD exp);
//   o[h, c] = alpha[h] o[h, c] + sum_t p[t, h] kv[t, c]: 4 heads x 8 columns tiles; the rescale
//   is folded into the tile load (no separate pass over o).
// Requires C % 8 == 0 (C = 512 in every official config).
import { madd, vexp } from "../common";
import { padHeads, packQ, scoreTile4x8, scoreTile1x8 } from "./_attn";

// @ts-ignore: decorator
@inline export function fusedWorkBytes(KB: i32, transposeP: bool, H: i32, S: i32, C: i32, dr: i32): usize {
  const Hp = padHeads(H);
  const bytes = (<usize>Hp * (C + dr) + <usize>KB * Hp + <usize>Hp * 3 + <usize>Hp * C) * 4 + 256;
  return transposeP ? bytes + <usize>KB * Hp * 4 + 64 : bytes;
}

/**
 * o tile [4 heads, 8 cols] = alpha * o + sum over t < nk of p[t, h] kv[t, c..c+7]. p is the
 * block's token-major s [KB, Hp] (the 4 heads' values adjacent: immediate load offsets), or with
 * headMajor its transpose pT [Hp, KB] (a 4-head tile's p values are 4 contiguous rows in L1
 * instead of nk rows Hp*4 bytes apart that compete with the kv block for L1).
 */
// @ts-ignore: decorator
@inline function pvTile(headMajor: bool, KB: i32, p: usize, kv: usize, ow: usize, al: usize, nk: i32, h0: i32, c: i32, C: i32, Hp: i32): void {
  const os = <usize>C << 2;
  const ot = ow + <usize>h0 * os + (<usize>c << 2);
  const s0 = v128.load32_splat(al + (<usize>h0 << 2)), s1 = v128.load32_splat(al + (<usize>h0 << 2), 4);
  const s2 = v128.load32_splat(al + (<usize>h0 << 2), 8), s3 = v128.load32_splat(al + (<usize>h0 << 2), 12);
  let c00 = f32x4.mul(v128.load(ot), s0), c01 = f32x4.mul(v128.load(ot, 16), s0);
  let c10 = f32x4.mul(v128.load(ot + os), s1), c11 = f32x4.mul(v128.load(ot + os, 16), s1);
  let c20 = f32x4.mul(v128.load(ot + 2 * os), s2), c21 = f32x4.mul(v128.load(ot + 2 * os, 16), s2);
  let c30 = f32x4.mul(v128.load(ot + 3 * os), s3), c31 = f32x4.mul(v128.load(ot + 3 * os, 16), s3);
  const hs: usize = headMajor ? <usize>KB << 2 : 4; // bytes from one head's p to the next
  const ts: usize = headMajor ? 4 : <usize>Hp << 2; // bytes from one token's p to the next
  let pp = p + <usize>h0 * hs;
  let vv = kv + (<usize>c << 2);
  for (let t = 0; t < nk; t++) {
    const b0 = v128.load(vv), b1 = v128.load(vv, 16);
    const a0 = v128.load32_splat(pp), a1 = headMajor ? v128.load32_splat(pp + hs) : v128.load32_splat(pp, 4);
    c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
    c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
    const a2 = headMajor ? v128.load32_splat(pp + 2 * hs) : v128.load32_splat(pp, 8);
    const a3 = headMajor ? v128.load32_splat(pp + 3 * hs) : v128.load32_splat(pp, 12);
    c20 = madd(a2, b0, c20); c21 = madd(a2, b1, c21);
    c30 = madd(a3, b0, c30); c31 = madd(a3, b1, c31);
    pp += ts; vv += os;
  }
  v128.store(ot, c00); v128.store(ot, c01, 16);
  v128.store(ot + os, c10); v128.store(ot + os, c11, 16);
  v128.store(ot + 2 * os, c20); v128.store(ot + 2 * os, c21, 16);
  v128.store(ot + 3 * os, c30); v128.store(ot + 3 * os, c31, 16);
}

// @ts-ignore: decorator
@inline export function fusedAbsorbed(KB: i32, panelOuter: bool, transposeP: bool, q: usize, kv: usize, pe: usize, o: usize, H: i32, S: i32, C: i32, dr: i32, scale: f32, work: usize): void {
  const Hp = padHeads(H), D = C + dr;
  const qp = (work + 63) & ~(<usize>63);
  const s = qp + <usize>Hp * D * 4; // [KB, Hp]
  const mx = s + <usize>KB * Hp * 4; // running max of scale*score
  const l = mx + <usize>Hp * 4; // running sum
  const al = l + <usize>Hp * 4; // alpha of this block
  const ow = (al + <usize>Hp * 4 + 63) & ~(<usize>63); // [Hp, C]
  const pT: usize = transposeP ? (ow + <usize>Hp * C * 4 + 63) & ~(<usize>63) : 0; // [Hp, KB]
  packQ(q, qp, H, D);
  for (let h = 0; h < Hp; h++) {
    store<f32>(mx + (<usize>h << 2), -Infinity);
    store<f32>(l + (<usize>h << 2), 0);
  }
  memory.fill(ow, 0, <usize>Hp * C * 4);
  const sc = f32x4.splat(scale);
  for (let j0 = 0; j0 < S; j0 += KB) {
    const nk = min(KB, S - j0);
    const kvb = kv + <usize>j0 * C * 4, peb = pe + <usize>j0 * dr * 4;
    // Scores of the block, token-major. panelOuter: head panel outer, so the panel (18 KiB at
    // C 512) stays in L1 while the block's keys stream from L2; else token tiles outer.
    if (panelOuter) {
      for (let hp = 0; hp < Hp >> 3; hp++) {
        const panel = qp + <usize>hp * D * 32;
        let t = 0;
        for (; t + 4 <= nk; t += 4) scoreTile4x8(kvb, peb, panel, s, t, C, dr, Hp, hp);
        for (; t < nk; t++) scoreTile1x8(kvb, peb, panel, s, t, C, dr, Hp, hp);
      }
    } else {
      let t = 0;
      for (; t + 4 <= nk; t += 4)
        for (let hp = 0; hp < Hp >> 3; hp++) scoreTile4x8(kvb, peb, qp + <usize>hp * D * 32, s, t, C, dr, Hp, hp);
      for (; t < nk; t++)
        for (let hp = 0; hp < Hp >> 3; hp++) scoreTile1x8(kvb, peb, qp + <usize>hp * D * 32, s, t, C, dr, Hp, hp);
    }
    // Online softmax update, 4 heads per vector.
    for (let h = 0; h < Hp; h += 4) {
      const hb = <usize>h << 2;
      let m = f32x4.splat(-Infinity);
      for (let u = 0; u < nk; u++) m = f32x4.max(m, v128.load(s + <usize>u * Hp * 4 + hb));
      const mOld = v128.load(mx + hb);
      const mNew = f32x4.max(mOld, f32x4.mul(m, sc));
      const alpha = vexp(f32x4.sub(mOld, mNew)); // e^-inf = 0 on the first block
      let sum = f32x4.splat(0);
      for (let u = 0; u < nk; u++) {
        const a = s + <usize>u * Hp * 4 + hb;
        const p = vexp(f32x4.sub(f32x4.mul(v128.load(a), sc), mNew));
        v128.store(a, p);
        sum = f32x4.add(sum, p);
      }
      v128.store(mx + hb, mNew);
      v128.store(l + hb, madd(v128.load(l + hb), alpha, sum));
      v128.store(al + hb, alpha);
    }
    // o = alpha o + P^T kv_block.
    if (transposeP) {
      for (let u = 0; u < nk; u++) {
        const row = s + <usize>u * Hp * 4;
        for (let h = 0; h < Hp; h++) store<f32>(pT + ((<usize>h * KB + u) << 2), load<f32>(row + (<usize>h << 2)));
      }
      for (let c = 0; c < C; c += 8)
        for (let h = 0; h < Hp; h += 4) pvTile(true, KB, pT, kvb, ow, al, nk, h, c, C, Hp);
    } else {
      for (let c = 0; c < C; c += 8)
        for (let h = 0; h < Hp; h += 4) pvTile(false, KB, s, kvb, ow, al, nk, h, c, C, Hp);
    }
  }
  for (let h = 0; h < H; h++) {
    const inv = f32x4.splat(1.0 / load<f32>(l + (<usize>h << 2)));
    const src = ow + <usize>h * C * 4, dst = o + <usize>h * C * 4;
    for (let c = 0; c < C; c += 4) v128.store(dst + (<usize>c << 2), f32x4.mul(v128.load(src + (<usize>c << 2)), inv));
  }
}
