// Absorbed decode attention, variant 03: 02 with 256-key blocks (256 x (512 + 64) x 4 B = 576 KiB per block: still inside the 1 MiB L2, 4x fewer softmax updates).
// The body is _attn_fused.ts (shared with 02, 04, 05); this file fixes KB = 256, token tiles outer, token-major P.
import { fusedAbsorbed, fusedWorkBytes } from "./_attn_fused";
export { isa as relaxed } from "../common";

const KB: i32 = 256;

export function workBytes(H: i32, S: i32, C: i32, dr: i32): usize {
  return fusedWorkBytes(KB, false, H, S, C, dr);
}

export function absorbed(q: usize, kv: usize, pe: usize, o: usize, H: i32, S: i32, C: i32, dr: i32, scale: f32, work: usize): void {
  fusedAbsorbed(KB, false, false, q, kv, pe, o, H, S, C, dr, scale, work);
}
