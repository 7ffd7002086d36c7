// The kernel-level MLA decode API in the float64 oracle: what FlashMLA's flash_mla_with_kvcache
// computes (argument correspondence in ./args.ts), readable, one query row at a time. Keys are
// the dequantised records (the cache codecs of src/cache), key = [c | k_pe], value = c.

import { BLOCK_TOKENS, tokenLayout } from "../cache/layout.js";
import { decodeTokens } from "../cache/codecs.js";
import { type MlaDecodeArgs, checkMlaDecodeArgs } from "./args.js";

/** The dequantised [c | k_pe] rows [len, C+dr] of sequence `seq`, along its block table. */
export function gatherSequence(a: MlaDecodeArgs, seq: number): Float32Array {
  const c = a.cache, W = a.C + a.dr, len = c.seqlens[seq];
  const layout = tokenLayout(c.format, a.C, a.dr), bpt = layout.bytesPerToken;
  const rows = new Float32Array(len * W);
  for (let t0 = 0; t0 < len; t0 += BLOCK_TOKENS) {
    const id = c.blockTable[seq * c.maxBlocksPerSeq + t0 / BLOCK_TOKENS];
    decodeTokens(layout, c.pool, id * BLOCK_TOKENS * bpt, Math.min(BLOCK_TOKENS, len - t0), rows, t0 * W);
  }
  return rows;
}

/**
 * o [b, s_q, h, C] and lse [b, h, s_q] in float64: for each query row, scores scale * q . k_j over
 * its keys (dense: 0..seqlens[b]-1, causal: up to its own position; sparse: the indices >= 0),
 * softmax, o = sum p_j c_j, lse = ln sum_j exp(score_j). No key: o = 0, lse = +Infinity.
 */
export function mlaDecodeReference(a: MlaDecodeArgs): { o: Float64Array; lse: Float64Array } {
  checkMlaDecodeArgs(a);
  const { batch: B, seqlenQ: sq, heads: H, C, dr } = a, W = C + dr, topk = a.topk ?? 0;
  const o = new Float64Array(B * sq * H * C), lse = new Float64Array(B * H * sq);
  for (let b = 0; b < B; b++) {
    const rows = gatherSequence(a, b), len = a.cache.seqlens[b];
    for (let t = 0; t < sq; t++) {
      let keys: number[];
      if (a.indices) {
        keys = [];
        for (let i = 0; i < topk; i++) {
          const j = a.indices[(b * sq + t) * topk + i];
          if (j >= 0) keys.push(j);
        }
      } else {
        const visible = a.causal ? len - sq + 1 + t : len;
        keys = Array.from({ length: visible }, (_, j) => j);
      }
      for (let h = 0; h < H; h++) {
        const qo = ((b * sq + t) * H + h) * W, oo = ((b * sq + t) * H + h) * C;
        const s = keys.map((j) => {
          let d = 0;
          for (let i = 0; i < W; i++) d += a.q[qo + i] * rows[j * W + i];
          return d * a.softmaxScale;
        });
        let m = -Infinity;
        for (const x of s) m = Math.max(m, x);
        if (keys.length === 0) {
          lse[(b * H + h) * sq + t] = Infinity; // o stays 0
          continue;
        }
        let l = 0;
        const p = s.map((x) => {
          const e = Math.exp(x - m);
          l += e;
          return e;
        });
        keys.forEach((j, k) => {
          for (let i = 0; i < C; i++) o[oo + i] += (p[k] / l) * rows[j * W + i];
        });
        lse[(b * H + h) * sq + t] = m + Math.log(l);
      }
    }
  }
  return { o, lse };
}
