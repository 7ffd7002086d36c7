// RoPE on dr-wide slices, in place: (a, b) -> (a cos - b sin, a sin + b cos). Tables come from the
// host (src/wasm builds them from src/derived.ts ropeFrequencies): cos/sin [s, dr/2], table row t
// for the t-th new token; row r of x is token r % s of its batch row.
// interleaved (official apply_rotary_emb): pairs (x[2i], x[2i+1]); half (HF rotate_half): (x[i], x[i+dr/2]).
// Work is O(H*dr) per token against O(H*dr*D) for the projections, so the loops stay scalar.

/** Rotate rows x heads slices in place; slice (r, h) starts at x + (r*ldx + h*headStride) floats; element i pairs with i + pairStride, the i-th pair at i * pairStep. */
// @ts-ignore: decorator
@inline function rotate(rows: i32, heads: i32, x: usize, ldx: i32, headStride: i32, dr: i32, cos: usize, sin: usize, s: i32, pairStep: i32, pairStride: i32): void {
  const half = dr >> 1;
  for (let r = 0; r < rows; r++) {
    const t = <usize>((r % s) * half) << 2;
    for (let h = 0; h < heads; h++) {
      const base = x + ((<usize>r * ldx + <usize>h * headStride) << 2);
      for (let i = 0; i < half; i++) {
        const c = load<f32>(cos + t + (<usize>i << 2)), sn = load<f32>(sin + t + (<usize>i << 2));
        const pa = base + (<usize>(i * pairStep) << 2), pb = pa + (<usize>pairStride << 2);
        const a = load<f32>(pa), b = load<f32>(pb);
        store<f32>(pa, a * c - b * sn);
        store<f32>(pb, a * sn + b * c);
      }
    }
  }
}

/** Interleaved pairs (x[2i], x[2i+1]): the official layout. */
export function rope_interleaved(rows: i32, heads: i32, x: usize, ldx: i32, headStride: i32, dr: i32, cos: usize, sin: usize, s: i32): void {
  rotate(rows, heads, x, ldx, headStride, dr, cos, sin, s, 2, 1);
}

/** Half-split pairs (x[i], x[i+dr/2]): HF rotate_half. */
export function rope_half(rows: i32, heads: i32, x: usize, ldx: i32, headStride: i32, dr: i32, cos: usize, sin: usize, s: i32): void {
  rotate(rows, heads, x, ldx, headStride, dr, cos, sin, s, 1, dr >> 1);
}

/** layout 0 = interleaved, 1 = half. */
export function rope(layout: i32, rows: i32, heads: i32, x: usize, ldx: i32, headStride: i32, dr: i32, cos: usize, sin: usize, s: i32): void {
  if (layout == 0) rope_interleaved(rows, heads, x, ldx, headStride, dr, cos, sin, s);
  else rope_half(rows, heads, x, ldx, headStride, dr, cos, sin, s);
}
