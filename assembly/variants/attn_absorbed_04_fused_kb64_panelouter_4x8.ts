// Absorbed decode attention, variant 04 (02 with the score loops swapped: head panel outer, so
// the panel (18 KiB) stays in L1 while the block's keys stream from L2). ONE pass over the latent
// cache in key blocks of 64 tokens, all heads per block, online softmax per head.
// The body is _attn_fused.ts (shared with 02, 03, 05); this file fixes KB = 64, head panels outer, token-major P.
import { fusedAbsorbed, fusedWorkBytes } from "./_attn_fused";
export { isa as relaxed } from "../common";

const KB: i32 = 64; // 64 x (512 + 64) x 4 B = 144 KiB of cache per block: L2-resident

export function workBytes(H: i32, S: i32, C: i32, dr: i32): usize {
  return fusedWorkBytes(KB, false, H, S, C, dr);
}

export function absorbed(q: usize, kv: usize, pe: usize, o: usize, H: i32, S: i32, C: i32, dr: i32, scale: f32, work: usize): void {
  fusedAbsorbed(KB, true, false, q, kv, pe, o, H, S, C, dr, scale, work);
}
