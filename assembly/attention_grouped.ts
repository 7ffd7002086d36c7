// Attention of G key/value heads shared by H = G * hpg query heads (MHA: G = H, GQA, MQA: G = 1),
// over a cached K/V [T, G, *], and the seed text's per-head low-rank scheme, whose cache holds r
// latents per kv head and token that every step decompresses block by block (never the whole
// cache) before it attends. Both are attention_core's attendCore: per kv head g the query rows
// are its hpg heads of each token, key j is K[j, g] (or the block's reconstruction).
//
// Query rows of one group must be one stride apart for attendCore's row tiles: with s == 1 or
// G == 1 they already are; otherwise q is copied into group-major order [G, s, hpg, hd] (and o
// back), O(s H hd) work beside the attention's O(s T H hd).

import { KB, KEYS_CONTIG, KEYS_RANGE, attendCore, attend_scratch_floats } from "./attention_core";
import { FMT_F32 } from "./codecs";
import { attn_causal_4x8 } from "./attention_prefill";
import { attn_decode_grouped } from "./attention_naive";
import { gemm_4x8 } from "./gemm";

/** Rows q [s, H, d] -> dst [G, s, hpg, d] (toGroups) or back (fromGroups). */
function regroup(s: i32, H: i32, G: i32, d: i32, src: usize, dst: usize, toGroups: bool): void {
  const hpg = H / G, rowB = <usize>(hpg * d) << 2;
  for (let t = 0; t < s; t++) {
    for (let g = 0; g < G; g++) {
      const tokenMajor = ((<usize>(t * H + g * hpg) * d) << 2), groupMajor = ((<usize>((g * s + t) * hpg) * d) << 2);
      if (toGroups) memory.copy(dst + groupMajor, src + tokenMajor, rowB);
      else memory.copy(dst + tokenMajor, src + groupMajor, rowB);
    }
  }
}

/**
 * How the rows of one group are laid out: with s == 1 or G == 1 they are one head apart
 * (stride d), with hpg == 1 one token apart (stride H*d); otherwise they need the group-major copy.
 */
// @ts-ignore: decorator
@inline function needsRegroup(s: i32, H: i32, G: i32): bool {
  return s > 1 && G > 1 && G < H;
}

/** First row of group g and the row stride (floats), in q/o [s, H, d] or, when regrouped, in [G, s, hpg, d]. */
// @ts-ignore: decorator
@inline function groupRows(s: i32, H: i32, G: i32, d: i32, g: i32, rows: usize, regrouped: bool): usize {
  const hpg = H / G;
  return regrouped ? rows + ((<usize>(g * s * hpg * d)) << 2) : rows + ((<usize>(g * hpg * d)) << 2);
}
// @ts-ignore: decorator
@inline function groupStride(s: i32, H: i32, G: i32, d: i32, regrouped: bool): i32 {
  return !regrouped && G == H && s > 1 ? H * d : d;
}

/** Floats of scratch attn_gqa needs. */
export function attn_gqa_scratch_floats(s: i32, H: i32, G: i32, hd: i32, dv: i32): i32 {
  const regroupFloats = needsRegroup(s, H, G) ? s * H * (hd + dv) : 0;
  return regroupFloats + attend_scratch_floats(max(s * (H / G), max(s, H)));
}

/**
 * One batch row: q [s, H, hd] (roped), k [T, G, hd] and v [T, G, dv] holding positions
 * 0 .. startPos+s-1 (the new tokens already appended), o [s, H, dv]. Query head h reads kv head
 * h / hpg (heads of a group adjacent, as repeat_interleave orders them). Token t sees keys <= startPos + t.
 */
export function attn_gqa(s: i32, H: i32, G: i32, hd: i32, dv: i32, startPos: i32, q: usize, k: usize, v: usize, scale: f32, o: usize, scratch: usize): void {
  if (G == H) {
    attn_causal_4x8(s, H, hd, dv, startPos, q, k, v, scale, o, scratch); // MHA: the naive MLA kernel's layout
    return;
  }
  if (s < 4 && G > 1) {
    // Decode-sized calls: stream K/V in memory order for all groups at once (see attention_naive).
    for (let t = 0; t < s; t++) {
      attn_decode_grouped(H, G, hd, dv, startPos + t, q + ((<usize>(t * H * hd)) << 2), k, v, scale, o + ((<usize>(t * H * dv)) << 2), scratch);
    }
    return;
  }
  const hpg = H / G, R = s * hpg;
  const rg = needsRegroup(s, H, G);
  const qg = scratch, og = qg + ((<usize>(s * H * hd)) << 2);
  const att = rg ? og + ((<usize>(s * H * dv)) << 2) : scratch;
  if (rg) regroup(s, H, G, hd, q, qg, true);
  for (let g = 0; g < G; g++) {
    attendCore(KEYS_CONTIG, FMT_F32, R, hpg, startPos, 0, startPos + s,
      groupRows(s, H, G, hd, g, rg ? qg : q, rg), groupStride(s, H, G, hd, rg), 0, 0, hd, 0,
      k + ((<usize>(g * hd)) << 2), G * hd, 0, 0, v + ((<usize>(g * dv)) << 2), G * dv, dv,
      0, 0, 0, 0, 0, scale, groupRows(s, H, G, dv, g, rg ? og : o, rg), groupStride(s, H, G, dv, rg), att, true, true);
  }
  if (rg) regroup(s, H, G, dv, og, o, false);
}

/** Floats of scratch attn_seed_lowrank needs: regrouped q/o, one block's K and V tiles, attend state per group. */
export function attn_seed_scratch_floats(s: i32, H: i32, G: i32, hd: i32, dv: i32): i32 {
  const regroupFloats = needsRegroup(s, H, G) ? s * H * (hd + dv) : 0;
  return regroupFloats + KB * (hd + dv) + 4 + G * attend_scratch_floats(s * (H / G));
}

/**
 * The seed's scheme, one batch row: q [s, H, hd] (roped); lk, lv [T, G, r] the cached latents
 * (new tokens appended); wdk = W_decomp_K [r, hd] and wdv = W_decomp_V [r, dv] packed by
 * pack_kn_8 (y = x B). Per block of KB cached tokens and kv head g: K' = L_K W_decomp_K and
 * V' = L_V W_decomp_V into a KB-row tile (L2-resident), then attendCore on that range,
 * continuing each group's online softmax. o [s, H, dv].
 */
export function attn_seed_lowrank(s: i32, H: i32, G: i32, hd: i32, dv: i32, r: i32, startPos: i32, q: usize,
  lk: usize, lv: usize, wdk: usize, wdv: usize, scale: f32, o: usize, scratch: usize): void {
  const hpg = H / G, R = s * hpg, T = startPos + s;
  const rg = needsRegroup(s, H, G);
  const qg = scratch, og = qg + (rg ? (<usize>(s * H * hd)) << 2 : 0);
  const kT = (og + (rg ? (<usize>(s * H * dv)) << 2 : 0) + 15) & ~(<usize>15), vT = kT + ((<usize>(KB * hd)) << 2);
  const att = vT + ((<usize>(KB * dv)) << 2), attB = <usize>attend_scratch_floats(R) << 2;
  if (rg) regroup(s, H, G, hd, q, qg, true);
  for (let j0 = 0; j0 < T; j0 += KB) {
    const nk = min(KB, T - j0), last = j0 + KB >= T;
    for (let g = 0; g < G; g++) {
      const lat = (<usize>(j0 * G + g) * r) << 2; // latents of token j0, kv head g; tokens G*r floats apart
      gemm_4x8(nk, hd, r, lk + lat, G * r, wdk, kT, hd);
      gemm_4x8(nk, dv, r, lv + lat, G * r, wdv, vT, dv);
      attendCore(KEYS_RANGE, FMT_F32, R, hpg, startPos, j0, j0 + nk,
        groupRows(s, H, G, hd, g, rg ? qg : q, rg), groupStride(s, H, G, hd, rg), 0, 0, hd, 0,
        kT, hd, 0, 0, vT, dv, dv,
        0, 0, 0, 0, 0, scale, groupRows(s, H, G, dv, g, rg ? og : o, rg), groupStride(s, H, G, dv, rg), att + <usize>g * attB, j0 == 0, last);
    }
  }
  if (rg) regroup(s, H, G, dv, og, o, false);
}
