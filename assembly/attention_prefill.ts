// Causal attention of the naive path (MHA over decompressed K/V), tiled 4 query rows x KB keys
// with online softmax (attention_core). Serves prefill (s > 1) and, with s = 1, naive decode.

import { attend } from "./attention_core";
import { attn_decode_naive } from "./attention_naive";

/**
 * One batch row. q [s, H, qk] (head h of token t at (t*H + h)*qk); kRow [T, H, qk] and vRow
 * [T, H, dv] hold cached positions 0..startPos+s-1 (the new tokens already appended);
 * o [s, H, dv]. Token t sees keys 0..startPos+t. scratch: attend_scratch_floats(max(s, H)) floats.
 */
export function attn_causal_4x8(s: i32, H: i32, qk: i32, dv: i32, startPos: i32, q: usize, kRow: usize, vRow: usize, scale: f32, o: usize, scratch: usize): void {
  if (s < 4) {
    // Fewer tokens than a row tile: the per-head loop below would read K/V at a stride of H*qk
    // floats with no reuse; one streaming decode pass per token reads them in memory order.
    for (let t = 0; t < s; t++) {
      attn_decode_naive(H, qk, dv, startPos + t, q + ((<usize>t * H * qk) << 2), kRow, vRow, scale, o + ((<usize>t * H * dv) << 2), scratch);
    }
    return;
  }
  for (let h = 0; h < H; h++) {
    attend(s, 1, startPos,
      q + ((<usize>h * qk) << 2), H * qk, 0, 0, qk, 0,
      kRow + ((<usize>h * qk) << 2), H * qk, 0, 0,
      vRow + ((<usize>h * dv) << 2), H * dv, dv,
      scale, o + ((<usize>h * dv) << 2), H * dv, scratch);
  }
}
