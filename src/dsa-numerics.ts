// How far a float32 DSA indexer may be from the float64 oracle, and when two top-k selections
// count as the same. The oracle computes each index score exactly (e4m3 dot products are exact
// in float64) and rounds once; a float32 kernel (the WASM core, a GPU's FP8 MMA) rounds its sums,
// so where two keys' scores nearly tie at the k-th place the selections may legitimately differ.

import { gamma32, F32_U } from "./numerics.js";

/**
 * Per-score bound |S32[m, n] - S[m, n]| for the float32 index score of query row m (q8 [HI, DI]
 * from qOff, w [HI] from wOff) and key n (k8 [T, DI], ks [T]), all inputs float32 values shared
 * by both sides. Derivation (Higham, Accuracy and Stability of Numerical Algorithms, 3.1):
 * products of e4m3 values are exact in float32, so each head's dot errs by <= gamma_DI A_h with
 * A_h = sum_d |q_hd k_d|; ReLU is 1-Lipschitz; the head sum sum_h w_h r_h (HI terms, multiply-add)
 * adds gamma_(HI+1) sum_h |w_h| (r_h + gamma_DI A_h); the key scale one rounding of the result:
 *   bound = ks (gamma_DI + gamma_(HI+1) (1 + gamma_DI)) (1 + u) sum_h |w_h| A_h + u |S|.
 * Returns [T] for row m.
 */
export function indexScoreBound(q8: ArrayLike<number>, qOff: number, w: ArrayLike<number>, wOff: number, k8: ArrayLike<number>, ks: ArrayLike<number>, T: number, HI: number, DI: number, exact: ArrayLike<number>, exactOff: number): Float64Array {
  const out = new Float64Array(T);
  const g = (gamma32(DI) + gamma32(HI + 1) * (1 + gamma32(DI))) * (1 + F32_U);
  for (let n = 0; n < T; n++) {
    let wa = 0;
    for (let h = 0; h < HI; h++) {
      let A = 0;
      for (let d = 0; d < DI; d++) A += Math.abs(q8[qOff + h * DI + d] * k8[n * DI + d]);
      wa += Math.abs(w[wOff + h]) * A;
    }
    out[n] = Math.abs(ks[n]) * g * wa * (1 + 1e-12) + F32_U * Math.abs(exact[exactOff + n]);
  }
  return out;
}

export interface TopkAgreement {
  agree: boolean;
  /** Why not, in words (undefined when they agree). */
  reason?: string;
}

/**
 * Do two top-k selections of one row agree up to float32 rounding? `reference` is the oracle's
 * selection from the exact scores (scores[off .. off+visible)), `ours` one made from scores that
 * may each be off by bound[n]. Entries < 0 and keys >= visible are ignored. They agree when both
 * select min(k, visible) distinct visible keys and every key selected by only one of them has an
 * exact score within bound[key] + max(bound) of the reference's k-th score tau: if ours took x
 * where the reference took y, then s_y >= tau >= s_x (the reference's order) and
 * s_x + bound[x] >= s_y - bound[y] (ours), so both lie within bound[x] + bound[y] of tau.
 * Equal sets always agree.
 */
export function topkSetsAgree(scores: ArrayLike<number>, off: number, visible: number, k: number, ours: ArrayLike<number>, reference: ArrayLike<number>, bound: ArrayLike<number>): TopkAgreement {
  const keep = (sel: ArrayLike<number>) => new Set(Array.from(sel).filter((j) => j >= 0 && j < visible));
  const a = keep(ours), b = keep(reference), want = Math.min(k, visible);
  if (a.size !== want) return { agree: false, reason: `ours selects ${a.size} distinct visible keys, expected ${want}` };
  if (b.size !== want) return { agree: false, reason: `the reference selects ${b.size} distinct visible keys, expected ${want}` };
  let tau = Infinity, emax = 0;
  for (const j of b) tau = Math.min(tau, scores[off + j]);
  for (let n = 0; n < visible; n++) emax = Math.max(emax, bound[n]);
  for (const [set, other, who] of [[a, b, "ours"], [b, a, "the reference"]] as const) {
    for (const j of set) {
      if (other.has(j)) continue;
      const gap = Math.abs(scores[off + j] - tau), allowed = bound[j] + emax;
      if (!(gap <= allowed)) return { agree: false, reason: `key ${j} is selected only by ${who}; its score ${scores[off + j]} is ${gap} from the k-th score ${tau}, more than the float32 bound ${allowed}` };
    }
  }
  return { agree: true };
}
