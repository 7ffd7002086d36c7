// MLA's recompute path, the picture of the seed text's section 3: only the latent [c | k_pe] is
// cached (the paged pool, any storage format, as the absorbed path keeps it), and every step
// decompresses each cached token's per-head K_nope and V with wkv_b again, fused into the
// attention: per block of KB cached tokens and head h, [K_nope | V] = c W_h^T lands in a KB-row
// tile (64 x (dn+dv) floats, L2-resident), which attendCore reads as a key range (key = [k_nope |
// k_pe], k_pe shared by the heads), continuing head h's online softmax. No K/V larger than one
// block and head exists at any time; the price is H (dn+dv) C multiply-adds per cached token and step.

import { KB, KEYS_RANGE, attendCore, attend_scratch_floats } from "./attention_core";
import { FMT_F32, codec_dequant_tile, codec_token_bytes } from "./codecs";
import { gemm_4x8, packed_size_8 } from "./gemm";

/** Floats of scratch attn_recompute_paged needs: a dequantised latent tile, the K/V tile, attend state per head. */
export function attn_recompute_scratch_floats(s: i32, H: i32, C: i32, dr: i32, dn: i32, dv: i32): i32 {
  return 4 + KB * (C + dr) + 4 + KB * (dn + dv) + H * attend_scratch_floats(s);
}

// @ts-ignore: decorator
@inline function recomputePaged(fmt: i32, s: i32, H: i32, C: i32, dr: i32, dn: i32, dv: i32, startPos: i32,
  q: usize, pool: usize, poolBytes: usize, table: usize, scale: f32, wkvb: usize, o: usize, scratch: usize): void {
  const T = startPos + s, qk = dn + dr, w = dn + dv;
  const bpt = <usize>codec_token_bytes(fmt, C, dr);
  const latT = (scratch + 15) & ~(<usize>15), peT = latT + ((<usize>(KB * C)) << 2);
  const kvT = (peT + ((<usize>(KB * dr)) << 2) + 15) & ~(<usize>15);
  const att = kvT + ((<usize>(KB * w)) << 2), attB = <usize>attend_scratch_floats(s) << 2;
  const wStride = <usize>packed_size_8(w, C) << 2;
  for (let j0 = 0; j0 < T; j0 += KB) {
    const nk = min(KB, T - j0), last = j0 + KB >= T;
    const id = load<i32>(table + (<usize>(j0 / KB) << 2));
    assert(id >= 0 && <usize>(id + 1) * (<usize>KB * bpt) <= poolBytes); // the host checks it too
    const rec = pool + <usize>id * (<usize>KB * bpt);
    let lat: usize, ldl: i32, pe: usize, ldpe: i32;
    if (fmt == FMT_F32) {
      lat = rec; pe = rec + (<usize>C << 2); ldl = <i32>(bpt >> 2); ldpe = ldl;
    } else {
      codec_dequant_tile(fmt, rec, nk, C, dr, latT, C, peT, dr);
      lat = latT; ldl = C; pe = peT; ldpe = dr;
    }
    for (let h = 0; h < H; h++) {
      gemm_4x8(nk, w, C, lat, ldl, wkvb + <usize>h * wStride, kvT, w); // [nk, dn | dv] of head h
      attendCore(KEYS_RANGE, FMT_F32, s, 1, startPos, j0, j0 + nk,
        q + ((<usize>(h * qk)) << 2), H * qk, q + ((<usize>(h * qk + dn)) << 2), H * qk, dn, dr,
        kvT, w, pe, ldpe, kvT + (<usize>dn << 2), w, dv,
        0, 0, 0, 0, 0, scale, o + ((<usize>(h * dv)) << 2), H * dv, att + <usize>h * attB, j0 == 0, last);
    }
  }
}

/**
 * One sequence: q [s, H, qk] (q_nope | roped q_pe per head); its T = startPos + s latent records
 * (new tokens stored) in the pool (poolBytes long) at blocks table[0 .. ceil(T/KB)); wkvb: per head
 * W_h = wkv_b[h*(dn+dv) .. +dn+dv, :] ([dn+dv, C]) packed by pack_nk_8, packed_size_8(dn+dv, C)
 * floats apart. o [s, H, dv]. scratch: attn_recompute_scratch_floats floats.
 */
export function attn_recompute_paged(fmt: i32, s: i32, H: i32, C: i32, dr: i32, dn: i32, dv: i32, startPos: i32,
  q: usize, pool: usize, poolBytes: usize, table: usize, scale: f32, wkvb: usize, o: usize, scratch: usize): void {
  switch (fmt) {
    case FMT_F32: recomputePaged(FMT_F32, s, H, C, dr, dn, dv, startPos, q, pool, poolBytes, table, scale, wkvb, o, scratch); break;
    default: recomputePaged(fmt, s, H, C, dr, dn, dv, startPos, q, pool, poolBytes, table, scale, wkvb, o, scratch); // lossy formats: one dequantised tile per block (beside the block's GEMMs its format branch costs nothing)
  }
}
