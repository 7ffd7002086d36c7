// Absorbed decode attention, variant 01: two passes over the latent cache, all heads per pass.
// Pass 1: scores s[t, h] = (q_abs[h].kv[t] + q_pe[h].pe[t]) as a GEMM [S, C+dr] x [C+dr, Hp]
// with q packed into 8-head panels (4x8 tiles: 4 tokens x 8 heads). Softmax over t per head runs
// across heads in the lanes (token-major s), with a SIMD exp. Pass 2: o = P^T kv as a GEMM
// [Hp, S] x [S, C], 4 heads x 8 latent columns per tile, tokens in L2-sized blocks.
// Requires C % 8 == 0 (C = 512 in every official config).
import { vexp } from "../common";
import { padHeads, packQ, scoreTile4x8, scoreTile1x8, pvTile4x8 } from "./_attn";
export { isa as relaxed } from "../common";

const TB: i32 = 256; // tokens per pass-2 block: 256 x 512 x 4 B = 512 KiB of kv, inside the 1 MiB L2

export function workBytes(H: i32, S: i32, C: i32, dr: i32): usize {
  const Hp = padHeads(H);
  return (<usize>Hp * (C + dr) + <usize>S * Hp + <usize>Hp * 2 + <usize>Hp * C) * 4 + 256;
}

export function absorbed(q: usize, kv: usize, pe: usize, o: usize, H: i32, S: i32, C: i32, dr: i32, scale: f32, work: usize): void {
  const Hp = padHeads(H), D = C + dr;
  const qp = (work + 63) & ~(<usize>63);
  const s = qp + <usize>Hp * D * 4;
  const mx = s + <usize>S * Hp * 4;
  const l = mx + <usize>Hp * 4;
  const ow = l + <usize>Hp * 4;
  packQ(q, qp, H, D);
  // Pass 1: raw scores.
  for (let hp = 0; hp < Hp >> 3; hp++) {
    const panel = qp + <usize>hp * D * 32;
    let t = 0;
    for (; t + 4 <= S; t += 4) scoreTile4x8(kv, pe, panel, s, t, C, dr, Hp, hp);
    for (; t < S; t++) scoreTile1x8(kv, pe, panel, s, t, C, dr, Hp, hp);
  }
  // Softmax over t, 4 heads per lane group: max, then p = exp(scale*(s - max)), l = sum p.
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
  // Pass 2: ow [Hp, C] = P^T kv, token blocks outer so each kv block is reused by every head.
  for (let t0 = 0; t0 < S; t0 += TB) {
    const t1 = min(S, t0 + TB);
    for (let c = 0; c < C; c += 8)
      for (let h = 0; h < Hp; h += 4) pvTile4x8(s, kv, ow, t0, t1, h, c, C, Hp, t0 == 0);
  }
  // o[h] = ow[h] / l[h] for the real heads.
  for (let h = 0; h < H; h++) {
    const inv = f32x4.splat(1.0 / load<f32>(l + (<usize>h << 2)));
    const src = ow + <usize>h * C * 4, dst = o + <usize>h * C * 4;
    for (let c = 0; c < C; c += 4) v128.store(dst + (<usize>c << 2), f32x4.mul(v128.load(src + (<usize>c << 2)), inv));
  }
}
