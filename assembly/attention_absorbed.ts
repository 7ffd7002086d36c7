// Absorbed MLA attention over the paged latent cache (src/cache: 64-token blocks of token records
// in one pool, a block table per sequence), in each storage format: for every (token, head) row,
// score_j = (q_abs . c_j + q_pe . pe_j) * scale with online softmax, o_lat += p_j c_j (the latent
// c_j is both key and value, read once per key block for all heads: MQA in the latent space),
// then o[h] = o_lat[h] W_UV[h]^T. The loop is attention_core's attendCore with KEYS_PAGED.

import { KEYS_PAGED, attendCore } from "./attention_core";
import { FMT_BF16, FMT_F16, FMT_F32, FMT_FP8, FMT_INT8 } from "./codecs";
import { WF_F32, head_stride_w, linear_heads_w } from "./weights";

/** o[h] = o_lat[h] W_UV[h]^T for s tokens: olat [s, H, C] -> o [s, H, dv] (wuv as attn_absorbed_paged takes it). */
export function mla_project_uv(s: i32, H: i32, C: i32, dv: i32, wuv: usize, olat: usize, o: usize): void {
  mla_project_uv_heads(s, H, 0, H, C, dv, wuv, olat, o);
}

/** mla_project_uv for heads h0 .. h1-1 only (a thread's share; each head is its own GEMV/GEMM: the same bits). */
export function mla_project_uv_heads(s: i32, H: i32, h0: i32, h1: i32, C: i32, dv: i32, wuv: usize, olat: usize, o: usize): void {
  mla_project_uv_heads_w(WF_F32, 0, s, H, h0, h1, C, dv, wuv, 0, 0, olat, o);
}

/** mla_project_uv_heads over W_UV in weight format fmt (scales suv, sStride bytes per head, k-group KG). */
export function mla_project_uv_heads_w(fmt: i32, KG: i32, s: i32, H: i32, h0: i32, h1: i32, C: i32, dv: i32, wuv: usize, suv: usize, sStride: i32, olat: usize, o: usize): void {
  linear_heads_w(fmt, KG, s, h0, h1, dv, C, olat, H * C, C, wuv, <usize>head_stride_w(fmt, dv, C), suv, <usize>sStride, o, H * dv, dv, false);
}

/** Attention over the latent cache only (o_lat [s, H, C]), for a W_UV the caller applies itself. */
export function attn_absorbed_paged_latent(fmt: i32, s: i32, H: i32, C: i32, dr: i32, dn: i32, startPos: i32,
  qabs: usize, q: usize, pool: usize, poolBytes: usize, table: usize, scale: f32, olat: usize, scratch: usize): void {
  switch (fmt) {
    case FMT_F32: latentPaged(FMT_F32, s, H, C, dr, dn, startPos, qabs, q, pool, poolBytes, table, scale, olat, scratch); break;
    case FMT_BF16: latentPaged(FMT_BF16, s, H, C, dr, dn, startPos, qabs, q, pool, poolBytes, table, scale, olat, scratch); break;
    case FMT_F16: latentPaged(FMT_F16, s, H, C, dr, dn, startPos, qabs, q, pool, poolBytes, table, scale, olat, scratch); break;
    case FMT_INT8: latentPaged(FMT_INT8, s, H, C, dr, dn, startPos, qabs, q, pool, poolBytes, table, scale, olat, scratch); break;
    case FMT_FP8: latentPaged(FMT_FP8, s, H, C, dr, dn, startPos, qabs, q, pool, poolBytes, table, scale, olat, scratch); break;
    default: unreachable();
  }
}

// @ts-ignore: decorator
@inline function latentPaged(fmt: i32, s: i32, H: i32, C: i32, dr: i32, dn: i32, startPos: i32,
  qabs: usize, q: usize, pool: usize, poolBytes: usize, table: usize, scale: f32, olat: usize, scratch: usize): void {
  attendCore(KEYS_PAGED, fmt, s * H, H, startPos, 0, startPos + s,
    qabs, C, q + (<usize>dn << 2), dn + dr, C, dr,
    0, 0, 0, 0, 0, 0, C,
    pool, poolBytes, table, 0, 0, scale, olat, C, scratch, true, true);
}

// @ts-ignore: decorator
@inline function absorbedPaged(fmt: i32, s: i32, H: i32, C: i32, dr: i32, dn: i32, dv: i32, startPos: i32,
  qabs: usize, q: usize, pool: usize, poolBytes: usize, table: usize, scale: f32, wuv: usize, olat: usize, o: usize, scratch: usize): void {
  latentPaged(fmt, s, H, C, dr, dn, startPos, qabs, q, pool, poolBytes, table, scale, olat, scratch);
  mla_project_uv(s, H, C, dv, wuv, olat, o);
}

/**
 * One sequence (batch row), cache format fmt (FMT_* of codecs.ts). qabs [s, H, C]; q [s, H, qk]
 * (q_pe = the last dr of each head, roped); the sequence's T = startPos + s tokens (new ones
 * already stored) live in the pool (poolBytes long), records codec_token_bytes(fmt) apart, 64 per block, at blocks
 * table[0 .. ceil(T/64)) (i32 ids); wuv: per head W_UV[h] = wkv_b[h*(dn+dv)+dn .. +dv, :] ([dv, C])
 * packed by pack_nk_8, packed_size_8(dv, C) floats apart; olat: s*H*C floats of scratch;
 * scratch: attend_paged_scratch_floats(s*H, C, dr) floats. o [s, H, dv].
 * The format is switched once, outside the loop: each case is its own specialised loop.
 */
export function attn_absorbed_paged(fmt: i32, s: i32, H: i32, C: i32, dr: i32, dn: i32, dv: i32, startPos: i32,
  qabs: usize, q: usize, pool: usize, poolBytes: usize, table: usize, scale: f32, wuv: usize, olat: usize, o: usize, scratch: usize): void {
  switch (fmt) {
    case FMT_F32: absorbedPaged(FMT_F32, s, H, C, dr, dn, dv, startPos, qabs, q, pool, poolBytes, table, scale, wuv, olat, o, scratch); break;
    case FMT_BF16: absorbedPaged(FMT_BF16, s, H, C, dr, dn, dv, startPos, qabs, q, pool, poolBytes, table, scale, wuv, olat, o, scratch); break;
    case FMT_F16: absorbedPaged(FMT_F16, s, H, C, dr, dn, dv, startPos, qabs, q, pool, poolBytes, table, scale, wuv, olat, o, scratch); break;
    case FMT_INT8: absorbedPaged(FMT_INT8, s, H, C, dr, dn, dv, startPos, qabs, q, pool, poolBytes, table, scale, wuv, olat, o, scratch); break;
    case FMT_FP8: absorbedPaged(FMT_FP8, s, H, C, dr, dn, dv, startPos, qabs, q, pool, poolBytes, table, scale, wuv, olat, o, scratch); break;
    default: unreachable();
  }
}
