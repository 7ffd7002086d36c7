// The seed text's own formulas (section 2 of the analysis that started the project), implemented exactly as
// stated so they can be printed beside MLA's real figures. h heads, s sequence length, d = d_head,
// r the per-head latent rank. All figures per layer, batch 1, FLOPs = 2 x multiply-adds.

/** "解压缩所有头的整个序列的 K 和 V": 2 * h * s * 2 * d_head * r = 4 h s d r FLOPs. */
export function seedDecompressionFlops(h: number, s: number, d: number, r: number): number {
  return 4 * h * s * d * r;
}

/** "标准注意力计算开销 (忽略 Softmax)": Q K^T and P V, 2 h s d each = 4 h s d FLOPs. */
export function seedAttentionFlops(h: number, s: number, d: number): number {
  return 4 * h * s * d;
}

/** "总计": 4 h s d (r + 1) FLOPs. */
export function seedTotalFlops(h: number, s: number, d: number, r: number): number {
  return seedDecompressionFlops(h, s, d, r) + seedAttentionFlops(h, s, d);
}

/** "总计算开销是标准注意力计算开销的 (r + 1) 倍". */
export function seedComputeRatio(r: number): number {
  return r + 1;
}

/** "压缩比 d_head / r" (cache size and bytes read alike). */
export function seedMemoryRatio(d: number, r: number): number {
  return d / r;
}

/** The seed's cache per token per layer: r values per head for K and for V (its O(b s h r) with the factor 2). */
export function seedCacheElements(h: number, r: number): number {
  return 2 * h * r;
}

/** The ranks the seed text names ("r 通常是 4-16"; examples 4, 8, 16). */
export const SEED_RANKS = [4, 8, 16] as const;
