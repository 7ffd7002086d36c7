// Work counting for the oracle: the reference adds up, as it runs, the multiply-adds it performs
// and the distinct elements it touches, per term of the cost model (src/analysis). Property tests
// compare these counts with the closed-form formulas, so the formulas are checked, not assumed.

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
 */
export const WORK_TERMS = ["query", "compression", "decompression", "absorption", "scores", "softmax", "weightedSum", "output"] as const;
export type WorkTerm = (typeof WORK_TERMS)[number];

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
}

export type WorkField = keyof WorkCounts;

const zero = (): WorkCounts => ({ madds: 0, exps: 0, weightReads: 0, cacheReads: 0, cacheWrites: 0 });

export class WorkCounter {
  readonly terms: Record<WorkTerm, WorkCounts>;
  constructor() {
    this.terms = Object.fromEntries(WORK_TERMS.map((t) => [t, zero()])) as Record<WorkTerm, WorkCounts>;
  }
  add(term: WorkTerm, field: WorkField, n: number): void {
    this.terms[term][field] += n;
  }
  total(): WorkCounts {
    const t = zero();
    for (const term of WORK_TERMS) for (const f of Object.keys(t) as WorkField[]) t[f] += this.terms[term][f];
    return t;
  }
  reset(): void {
    for (const term of WORK_TERMS) this.terms[term] = zero();
  }
}

/** A counter that ignores everything, so hot loops need no null checks. */
export const NO_COUNT: Pick<WorkCounter, "add"> = { add() {} };
export type Counter = Pick<WorkCounter, "add">;
