// Absorbed MLA attention read straight from a paged latent cache: the keys [c | k_pe] and values c
// of each 64-token block are dequantised block by block while walking the sequence's block table
// (no contiguous copy of the cache). Float64 arithmetic in the same order as the oracle's
// attendRow (src/reference/attention.ts), so over the same dequantised values the two agree.

import { CacheError } from "../errors.js";
import { softmaxInPlace } from "../reference/softmax.js";
import { decodeTokens } from "./codecs.js";
import { BLOCK_TOKENS } from "./layout.js";
import type { LatentCache } from "./latent-cache.js";

export interface PagedAttendArgs {
  /** Absorbed queries [s, H, C+dr] = [q_abs | q_pe] per head. */
  q: ArrayLike<number>;
  s: number;
  /** Position of q's first token; token t sees keys 0..startPos+t. */
  startPos: number;
  heads: number;
  scale: number;
}

/** o_lat [s, H, C] for sequence seq (which must hold >= startPos + s tokens). */
export function pagedAttend(cache: LatentCache, seq: number, a: PagedAttendArgs): Float64Array {
  const { C, dr } = cache.layout;
  const W = C + dr;
  const { q, s, startPos, heads: H, scale } = a;
  const T = startPos + s;
  const have = cache.length(seq);
  if (!(Number.isInteger(startPos) && startPos >= 0 && Number.isInteger(s) && s >= 1 && T <= have)) {
    throw new CacheError("startPos + s", T, `<= the ${have} tokens cached for sequence ${seq} (startPos >= 0, s >= 1)`);
  }
  const table = cache.blockTable(seq);
  const scores = new Float64Array(s * H * T);
  const o = new Float64Array(s * H * C);
  const keys = new Float32Array(BLOCK_TOKENS * W); // one block, dequantised
  for (let pass = 0; pass < 2; pass++) {
    for (let k = 0; k * BLOCK_TOKENS < T; k++) {
      const j0 = k * BLOCK_TOKENS, m = Math.min(BLOCK_TOKENS, T - j0);
      decodeTokens(cache.layout, cache.pool.storage, cache.pool.offset(table[k]), m, keys, 0); // [m, C+dr]
      for (let t = 0; t < s; t++) {
        const nKeys = startPos + t + 1;
        for (let h = 0; h < H; h++) {
          const row = (t * H + h) * T;
          if (pass === 0) {
            const qOff = (t * H + h) * W;
            for (let j = j0; j < Math.min(j0 + m, nKeys); j++) {
              const kOff = (j - j0) * W;
              let acc = 0;
              for (let d = 0; d < W; d++) acc += q[qOff + d] * keys[kOff + d];
              scores[row + j] = acc * scale;
            }
          } else {
            const oOff = (t * H + h) * C;
            for (let j = j0; j < Math.min(j0 + m, nKeys); j++) {
              const p = scores[row + j];
              const vOff = (j - j0) * W;
              for (let d = 0; d < C; d++) o[oOff + d] += p * keys[vOff + d];
            }
          }
        }
      }
    }
    if (pass === 0) for (let t = 0; t < s; t++) for (let h = 0; h < H; h++) softmaxInPlace(scores, (t * H + h) * T, startPos + t + 1);
  }
  return o;
}
