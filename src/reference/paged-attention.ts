// Absorbed MLA attention over a paged latent cache (src/cache): the sequence's T token records
// are read along its block table and dequantised (LatentCache.read), then attended as the
// oracle's attendRow attends MQA in the latent space: one key head [c | k_pe] of width C+dr, one
// value head c of width C. Over the same dequantised values the two agree bit for bit; what a
// storage format changes is only the values.

import { CacheError } from "../errors.js";
import type { LatentCache } from "../cache/latent-cache.js";
import { attendRow } from "./attention.js";
import { type Counter, NO_COUNT } from "./counter.js";

export interface PagedAttendArgs {
  /** Absorbed queries [s, H, C+dr] = [q_abs | q_pe] per head (latentQuery). */
  q: ArrayLike<number>;
  s: number;
  /** Position of q's first token; token t sees keys 0..startPos+t. */
  startPos: number;
  heads: number;
  scale: number;
  /** Receives the work: the cache elements read (scores) and attendRow's madds and exps. */
  count?: Counter;
}

/** o_lat [s, H, C] for sequence seq (which must hold >= startPos + s tokens). */
export function pagedAttend(cache: LatentCache, seq: number, a: PagedAttendArgs): Float64Array {
  const { C, dr } = cache.layout;
  const W = C + dr;
  const { q, s, startPos, heads: H, scale } = a;
  const count = a.count ?? NO_COUNT;
  const T = startPos + s;
  const have = cache.length(seq);
  if (!(Number.isInteger(startPos) && startPos >= 0 && Number.isInteger(s) && s >= 1 && T <= have)) {
    throw new CacheError("startPos + s", T, `<= the ${have} tokens cached for sequence ${seq} (startPos >= 0, s >= 1)`);
  }
  const keys = cache.read(seq, 0, T); // [T, C+dr] = [c | k_pe], dequantised block by block
  count.add("scores", "cacheReads", keys.length); // read once for all heads, reused by the weighted sum
  const values = new Float64Array(T * C); // c [T, C]
  for (let t = 0; t < T; t++) values.set(keys.subarray(t * W, t * W + C), t * C);
  return attendRow({ q, k: keys, v: values, s, startPos, hq: H, hkv: 1, dqk: W, dv: C, scale, count });
}
