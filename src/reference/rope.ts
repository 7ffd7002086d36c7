// Rotary position embedding as inference/model.py applies it (apply_rotary_emb), float64, over the
// frequency table of src/derived.ts (precompute_freqs_cis). The
// official code builds the angle table in float32, which moves outputs by ~1e-6 (README of the vectors).

import type { RopeLayout } from "../config.js";

/**
 * Rotate x[off .. off+dr) in place by the angles of table row `row`.
 * interleaved (official): pair (x[2i], x[2i+1]); half (HF rotate_half): pair (x[i], x[i+dr/2]).
 * Both: (a, b) -> (a cos - b sin, a sin + b cos) with angle pos * f_i.
 */
export function applyRope(x: Float64Array, off: number, dr: number, table: { cos: Float64Array; sin: Float64Array }, row: number, layout: RopeLayout): void {
  const half = dr / 2;
  for (let i = 0; i < half; i++) {
    const c = table.cos[row * half + i];
    const s = table.sin[row * half + i];
    const ia = layout === "interleaved" ? off + 2 * i : off + i;
    const ib = layout === "interleaved" ? ia + 1 : ia + half;
    const a = x[ia], b = x[ib];
    x[ia] = a * c - b * s;
    x[ib] = a * s + b * c;
  }
}

/** Index map from the interleaved layout to the half layout: element 2i -> i, 2i+1 -> i + dr/2. */
export function interleavedToHalf(dr: number): Int32Array {
  const map = new Int32Array(dr);
  for (let i = 0; i < dr / 2; i++) {
    map[2 * i] = i;
    map[2 * i + 1] = i + dr / 2;
  }
  return map;
}
