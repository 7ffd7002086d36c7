// Work counting for the oracle: the reference adds up, as it runs, the multiply-adds it performs
// and the distinct elements it touches, per term of the cost model (src/analysis). Property tests
// compare these counts with the closed-form formulas, so the formulas are checked, not assumed.

// The term list and the counted fields are shared with the cost model (src/work-terms.ts);
// re-exported here so the oracle's users keep importing them from the reference.
import { WORK_TERMS, type WorkCounts, type WorkField, type WorkTerm, zeroCounts } from "../work-terms.js";
export { WORK_TERMS, type WorkCounts, type WorkField, type WorkTerm };

export class WorkCounter {
  readonly terms: Record<WorkTerm, WorkCounts>;
  constructor() {
    this.terms = Object.fromEntries(WORK_TERMS.map((t) => [t, zeroCounts()])) as Record<WorkTerm, WorkCounts>;
  }
  add(term: WorkTerm, field: WorkField, n: number): void {
    this.terms[term][field] += n;
  }
  total(): WorkCounts {
    const t = zeroCounts();
    for (const term of WORK_TERMS) for (const f of Object.keys(t) as WorkField[]) t[f] += this.terms[term][f];
    return t;
  }
  reset(): void {
    for (const term of WORK_TERMS) this.terms[term] = zeroCounts();
  }
}

/** A counter that ignores everything, so hot loops need no null checks. */
export const NO_COUNT: Pick<WorkCounter, "add"> = { add() {} };
export type Counter = Pick<WorkCounter, "add">;
