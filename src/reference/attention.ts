// Scaled dot-product attention over materialised keys and values, for one batch row.
// Grouped heads cover MHA (Hkv = Hq), GQA (Hkv | Hq) and MQA (Hkv = 1); MLA's naive path is MHA
// over decompressed K/V, and MLA's absorbed path is MQA in the latent space (one key head
// [c | k_pe] of width C+dr, one value head c of width C).

import { type Counter, NO_COUNT } from "./counter.js";
import { softmaxInPlace } from "./softmax.js";

export interface AttendArgs {
  /** q [s, Hq, dqk] for the new tokens of one row. */
  q: ArrayLike<number>;
  /** Keys [T, Hkv, dqk], positions 0..T-1 (T >= startPos + s). */
  k: ArrayLike<number>;
  /** Values [T, Hkv, dv]. */
  v: ArrayLike<number>;
  s: number;
  /** Absolute position of q's first token; token t sees keys 0..startPos+t (causal). */
  startPos: number;
  hq: number;
  hkv: number;
  dqk: number;
  dv: number;
  scale: number;
  count?: Counter;
}

/** Returns o [s, Hq, dv]. Query head h reads key/value head floor(h / (Hq/Hkv)). */
export function attendRow(a: AttendArgs): Float64Array {
  const { q, k, v, s, startPos, hq, hkv, dqk, dv, scale } = a;
  const count = a.count ?? NO_COUNT;
  const group = hq / hkv;
  const o = new Float64Array(s * hq * dv);
  const scores = new Float64Array(startPos + s);
  let scoreMadds = 0, sumMadds = 0, exps = 0;
  for (let t = 0; t < s; t++) {
    const nKeys = startPos + t + 1; // causal: keys 0..startPos+t
    for (let h = 0; h < hq; h++) {
      const g = Math.floor(h / group);
      const qOff = (t * hq + h) * dqk;
      for (let j = 0; j < nKeys; j++) {
        const kOff = (j * hkv + g) * dqk;
        let acc = 0;
        for (let d = 0; d < dqk; d++) acc += q[qOff + d] * k[kOff + d];
        scores[j] = acc * scale;
      }
      scoreMadds += nKeys * dqk;
      exps += softmaxInPlace(scores, 0, nKeys);
      const oOff = (t * hq + h) * dv;
      for (let j = 0; j < nKeys; j++) {
        const p = scores[j];
        const vOff = (j * hkv + g) * dv;
        for (let d = 0; d < dv; d++) o[oOff + d] += p * v[vOff + d];
      }
      sumMadds += nKeys * dv;
    }
  }
  count.add("scores", "madds", scoreMadds);
  count.add("softmax", "exps", exps);
  count.add("weightedSum", "madds", sumMadds);
  return o;
}
