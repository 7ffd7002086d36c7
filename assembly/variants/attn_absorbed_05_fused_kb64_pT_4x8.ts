// Absorbed decode attention, variant 05 (04 + the block's probabilities transposed to head-major
// pT [Hp, KB] before P^T kv, so a 4-head tile's p values are 4 contiguous 256-byte rows in L1
// instead of 64 rows 512 bytes apart that compete with the kv block for L1; a profile of 04 at
// H 128, S 4096 gave scores 12.8 ms (81% of peak), P^T kv 12.3 ms (75%), softmax 1.2 ms).
// The body is _attn_fused.ts (shared with 02-04); this file fixes KB = 64, head panels outer, transposed P.
import { fusedAbsorbed, fusedWorkBytes } from "./_attn_fused";
export { isa as relaxed } from "../common";

const KB: i32 = 64; // 64 x (512 + 64) x 4 B = 144 KiB of cache per block: L2-resident

export function workBytes(H: i32, S: i32, C: i32, dr: i32): usize {
  return fusedWorkBytes(KB, true, H, S, C, dr);
}

export function absorbed(q: usize, kv: usize, pe: usize, o: usize, H: i32, S: i32, C: i32, dr: i32, scale: f32, work: usize): void {
  fusedAbsorbed(KB, true, true, q, kv, pe, o, H, S, C, dr, scale, work);
}
