// Naive decode: one new token attends over the decompressed per-head K/V cache (MHA). Every
// cached element is read once per step, so this is memory-bound; it is the causal core with one row.

import { attn_causal_4x8 } from "./attention_prefill";

/** q [H, qk], kRow [T, H, qk], vRow [T, H, dv] with T = startPos + 1 (new token appended); o [H, dv]. */
export function attn_decode_naive(H: i32, qk: i32, dv: i32, startPos: i32, q: usize, kRow: usize, vRow: usize, scale: f32, o: usize, scratch: usize): void {
  attn_causal_4x8(1, H, qk, dv, startPos, q, kRow, vRow, scale, o, scratch);
}
