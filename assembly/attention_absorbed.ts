// Absorbed MLA attention, fused in one pass over the latent cache: for every (token, head) row,
// score_j = (q_abs . c_j + q_pe . pe_j) * scale with online softmax, o_lat += p_j c_j (the latent
// c_j is both key and value, read once per key block for all heads), then o[h] = o_lat[h] W_UV[h]^T.
// The cache (contiguous float32 rows [T, C] and [T, dr]) is read in exactly one place: the key
// block pointers at the top of attention_core's key loop; another storage format decodes a block there.

import { attend } from "./attention_core";
import { gemm_4x8, packed_size_8 } from "./gemm";
import { linear } from "./mla";

/**
 * One batch row. qabs [s, H, C]; q [s, H, qk] (q_pe = last dr of each head, already roped);
 * kvRow [T, C], peRow [T, dr] with T = startPos + s (new tokens appended); wuv: per head
 * W_UV[h] = wkv_b[h*(dn+dv)+dn .. +dv, :] ([dv, C]) packed by pack_nk_8, packed_size_8(dv, C)
 * floats apart. olat: s*H*C floats of scratch; scratch: attend_scratch_floats(s*H) floats.
 * o [s, H, dv].
 */
export function attn_absorbed_fused(s: i32, H: i32, C: i32, dr: i32, dn: i32, dv: i32, startPos: i32,
  qabs: usize, q: usize, kvRow: usize, peRow: usize, scale: f32, wuv: usize, olat: usize, o: usize, scratch: usize): void {
  const qk = dn + dr;
  attend(s * H, H, startPos,
    qabs, C, q + (<usize>dn << 2), qk, C, dr,
    kvRow, C, peRow, dr,
    kvRow, C, C,
    scale, olat, C, scratch);
  const stride = <usize>packed_size_8(dv, C) << 2;
  for (let h = 0; h < H; h++) {
    const x = olat + ((<usize>h * C) << 2), y = o + ((<usize>h * dv) << 2), w = wuv + <usize>h * stride;
    if (s == 1) linear(1, dv, C, x, C, w, y, dv);
    else gemm_4x8(s, dv, C, x, H * C, w, y, H * dv);
  }
}
