// Absorbed decode attention, variant 05 (04 + the block's probabilities transposed to head-major
// pT [Hp, KB] before P^T kv, so a 4-head tile's p values are 4 contiguous 256-byte rows in L1
// instead of 64 rows 512 bytes apart that compete with the kv block for L1; a profile of 04 at
// H 128, S 4096 gave scores 12.8 ms (81% of peak), P^T kv 12.3 ms (75%), softmax 1.2 ms). ONE pass over the latent cache in key blocks of KB
// tokens, all heads per block (the block is read from memory once and reused by every head while
// it sits in L2), online softmax per head. Per block:
//   scores s[t, h] for the block's KB tokens: 4x8 tiles (4 tokens x 8 heads of a q panel), as in 01;
//   running max m[h], alpha[h] = e^(m_old - m_new), p = e^(scale*s - m_new), l = alpha*l + sum p
//   (token-major s: 4 heads per vector, SIMD exp);
//   o[h, c] = alpha[h] o[h, c] + sum_t p[t, h] kv[t, c]: 4 heads x 8 columns tiles; the rescale
//   is folded into the tile load (no separate pass over o).
// Requires C % 8 == 0 (C = 512 in every official config).
import { madd, vexp } from "../common";
import { padHeads, packQ, scoreTile4x8, scoreTile1x8 } from "./_attn";
export { isa as relaxed } from "../common";

const KB: i32 = 64; // 64 x (512 + 64) x 4 B = 144 KiB of cache per block: L2-resident

export function workBytes(H: i32, S: i32, C: i32, dr: i32): usize {
  const Hp = padHeads(H);
  return (<usize>Hp * (C + dr) + 2 * <usize>KB * Hp + <usize>Hp * 3 + <usize>Hp * C) * 4 + 320;
}

/** o tile [4 heads, 8 cols] = alpha * o + sum over t < nk of p[t, h] kv[t, c..c+7]. */
// @ts-ignore: decorator
@inline function pvTile(p: usize, kv: usize, ow: usize, al: usize, nk: i32, h0: i32, c: i32, C: i32, Hp: i32): void {
  const os = <usize>C << 2;
  const ot = ow + <usize>h0 * os + (<usize>c << 2);
  const s0 = v128.load32_splat(al + (<usize>h0 << 2)), s1 = v128.load32_splat(al + (<usize>h0 << 2), 4);
  const s2 = v128.load32_splat(al + (<usize>h0 << 2), 8), s3 = v128.load32_splat(al + (<usize>h0 << 2), 12);
  let c00 = f32x4.mul(v128.load(ot), s0), c01 = f32x4.mul(v128.load(ot, 16), s0);
  let c10 = f32x4.mul(v128.load(ot + os), s1), c11 = f32x4.mul(v128.load(ot + os, 16), s1);
  let c20 = f32x4.mul(v128.load(ot + 2 * os), s2), c21 = f32x4.mul(v128.load(ot + 2 * os, 16), s2);
  let c30 = f32x4.mul(v128.load(ot + 3 * os), s3), c31 = f32x4.mul(v128.load(ot + 3 * os, 16), s3);
  // p is pT [Hp, KB]: rows h0..h0+3 are 4 streams of nk contiguous floats.
  let p0 = p + <usize>h0 * KB * 4;
  const p1 = <usize>KB * 4, p2 = p1 * 2, p3 = p1 * 3;
  let vv = kv + (<usize>c << 2);
  for (let t = 0; t < nk; t++) {
    const b0 = v128.load(vv), b1 = v128.load(vv, 16);
    const a0 = v128.load32_splat(p0), a1 = v128.load32_splat(p0 + p1);
    c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
    c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
    const a2 = v128.load32_splat(p0 + p2), a3 = v128.load32_splat(p0 + p3);
    c20 = madd(a2, b0, c20); c21 = madd(a2, b1, c21);
    c30 = madd(a3, b0, c30); c31 = madd(a3, b1, c31);
    p0 += 4; vv += os;
  }
  v128.store(ot, c00); v128.store(ot, c01, 16);
  v128.store(ot + os, c10); v128.store(ot + os, c11, 16);
  v128.store(ot + 2 * os, c20); v128.store(ot + 2 * os, c21, 16);
  v128.store(ot + 3 * os, c30); v128.store(ot + 3 * os, c31, 16);
}

export function absorbed(q: usize, kv: usize, pe: usize, o: usize, H: i32, S: i32, C: i32, dr: i32, scale: f32, work: usize): void {
  const Hp = padHeads(H), D = C + dr;
  const qp = (work + 63) & ~(<usize>63);
  const s = qp + <usize>Hp * D * 4; // [KB, Hp]
  const mx = s + <usize>KB * Hp * 4; // running max of scale*score
  const l = mx + <usize>Hp * 4; // running sum
  const al = l + <usize>Hp * 4; // alpha of this block
  const ow = (al + <usize>Hp * 4 + 63) & ~(<usize>63); // [Hp, C]
  const pT = (ow + <usize>Hp * C * 4 + 63) & ~(<usize>63); // [Hp, KB]
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
    // Scores of the block, token-major.
    for (let hp = 0; hp < Hp >> 3; hp++) {
      const panel = qp + <usize>hp * D * 32;
      let t = 0;
      for (; t + 4 <= nk; t += 4) scoreTile4x8(kvb, peb, panel, s, t, C, dr, Hp, hp);
      for (; t < nk; t++) scoreTile1x8(kvb, peb, panel, s, t, C, dr, Hp, hp);
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
    // pT [h, u] = s[u, h].
    for (let u = 0; u < nk; u++) {
      const row = s + <usize>u * Hp * 4;
      for (let h = 0; h < Hp; h++) store<f32>(pT + ((<usize>h * KB + u) << 2), load<f32>(row + (<usize>h << 2)));
    }
    // o = alpha o + P^T kv_block.
    for (let c = 0; c < C; c += 8)
      for (let h = 0; h < Hp; h += 4) pvTile(pT, kvb, ow, al, nk, h, c, C, Hp);
  }
  for (let h = 0; h < H; h++) {
    const inv = f32x4.splat(1.0 / load<f32>(l + (<usize>h << 2)));
    const src = ow + <usize>h * C * 4, dst = o + <usize>h * C * 4;
    for (let c = 0; c < C; c += 4) v128.store(dst + (<usize>c << 2), f32x4.mul(v128.load(src + (<usize>c << 2)), inv));
  }
}
