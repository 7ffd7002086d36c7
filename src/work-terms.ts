// The vocabulary of work shared by the oracle, which counts work while it runs
// (src/reference/counter.ts), and the cost model, which prices it in closed form (src/analysis).
// It lives apart from both so that neither has to import the other for a list of names.

/**
 * Terms of one MLA (or baseline) call:
 * - query: q projection (wq, or wq_a + q_norm + wq_b) and q rope
 * - compression: wkv_a, kv_norm, k_pe rope (MLA); wk/wv (+ rope) for baselines; W_comp for the seed scheme
 * - decompression: wkv_b applied to latents (naive: new tokens; recompute: every cached token); W_decomp (seed)
 * - absorption: per query token and head, q_nope x W_UK (-> C) and o_lat x W_UV (-> dv)
 * - scores: q . k over cached keys
 * - softmax: exponentials
 * - weightedSum: probabilities x values
 * - output: wo
 * - indexer (DeepSeek-V3.2 sparse attention): its projections (wq_b from qr, wk, weights_proj) and
 *   the new tokens' index keys written to the index key cache
 * - indexScores: the index scores over the cached index keys (read from that cache): per (query,
 *   cached key) pair and index head one FP8 dot product of index_head_dim plus one madd for the head weight
 * - topk: the selection over each query row's visible index scores (counted in `ranked`)
 */
export const WORK_TERMS = ["query", "compression", "decompression", "absorption", "scores", "softmax", "weightedSum", "output", "indexer", "indexScores", "topk"] as const;
export type WorkTerm = (typeof WORK_TERMS)[number];

/** What is counted per term. */
export interface WorkCounts {
  /** Multiply-adds (1 madd = 2 FLOPs). */
  madds: number;
  /** Exponentials evaluated (softmax). */
  exps: number;
  /** Weight elements read: each weight matrix counted once per call (it is streamed once; rows reuse it). */
  weightReads: number;
  /** Cache elements read: each cached element counted once per batch row per call, however many heads read it. */
  cacheReads: number;
  /** Cache elements written. */
  cacheWrites: number;
  /**
   * Candidates a top-k selection ranks: each visible score of a query row counted once. A radix or
   * heap select does a bounded number of operations per candidate, so this is its work up to a
   * constant; it is not a FLOP count (the cost model reports it apart, like `exps`).
   */
  ranked: number;
}

export type WorkField = keyof WorkCounts;

export const zeroCounts = (): WorkCounts => ({ madds: 0, exps: 0, weightReads: 0, cacheReads: 0, cacheWrites: 0, ranked: 0 });
