// Absorbed decode attention, variant 02: ONE pass over the latent cache in key blocks of 64 tokens (64 x (512 + 64) x 4 B = 144 KiB per block: L2-resident), all heads per block (the block is read once and reused by every head while it sits in L2), online softmax per head.
// The body is _attn_fused.ts (shared with 03-05); this file fixes KB = 64, token tiles outer, token-major P.
import { fusedAbsorbed, fusedWorkBytes } from "./_attn_fused";
export { isa as relaxed } from "../common";

const KB: i32 = 64;

export function workBytes(H: i32, S: i32, C: i32, dr: i32): usize {
  return fusedWorkBytes(KB, false, H, S, C, dr);
}

export function absorbed(q: usize, kv: usize, pe: usize, o: usize, H: i32, S: i32, C: i32, dr: i32, scale: f32, work: usize): void {
  fusedAbsorbed(KB, false, false, q, kv, pe, o, H, S, C, dr, scale, work);
}
