// How far split-KV decode attention (attn_mla_decode_range per key range, then attn_mla_combine)
// may lie from the one-range kernel (attn_mla_decode), both in float32, for one call's inputs.
// Both are float32 approximations of the same exact value, so
//   |o_split - o_one| <= B_one + B_split,   |lse_split - lse_one| <= E_one + E_split.
// Notation as test/wasm/f32-attention-bound.ts (Higham 3.1; u = 2^-24, gamma_n = n u / (1 - n u)).
// Per query row with exact scaled scores x_j over its visible keys, p_j = softmax weights,
// M_c = sum_j p_j |v_jc|:
//   D    = |scale| gamma_W max_j sum_d |q_d k_jd| + 4u max_j |x_j|   (a score's error, as there)
//   e(nb) = 10u + 2(nb + 1)u                                          (vexp, nb online rescales)
//   g(nb) = expm1(2D + 2e(nb))                                        (bound on p_j' / p_j - 1)
// One range over n keys in nb blocks (attentionBound's terms plus 2u for o * (1/l)):
//   B(n, nb) = (g + gamma_(n+1) (1 + g) + 2u) M_c.
//   Its lse = m + ln l: moving every score by <= D moves the log-sum-exp by <= D; l carries
//   e(nb) + gamma_n relative error; the log and the add round: u |lse| + 2u ln n. So
//   E(n, nb) = D + e(nb) + gamma_n + u |lse| + 2u ln n.
// The split (ranges s with n_s keys in nb_s blocks, exact partials o_s, lse_s, pi_s their
// exact share e^(lse_s - lse) of the row's sum) adds the combine's reordering:
//   w_s = e^(lse_s' - M'): relative error eta_s <= E_s + E_max + u |lse_s - M| + 2u (the exponent's
//   two inputs, the subtraction, expf), eta = max_s eta_s; the normalised weights w_s / sum w lie
//   within e^(+-(2 eta + gamma_n)) of pi_s; the weighted sum of n partials and the multiply by
//   1 / sum w round by gamma_(n+1) + 2u. With sum_s pi_s |o_s,c| <= M_c:
//   B_split = expm1(2 eta + gamma_n) M_c + e^(2 eta + gamma_n) sum_s pi_s B_s,c
//             + (gamma_(n+1) + 2u) e^(2 eta + gamma_n) (M_c + sum_s pi_s B_s,c)
//   E_split = E_max + eta + gamma_n + u |lse| + 2u ln n   (lse = M' + ln sum w).
// A range in which the row sees no key has pi_s = 0 and weight exactly 0 (lse_s = -Infinity).
import { BLOCK_TOKENS } from "../../../src/cache/layout.js";
import { gamma } from "../f32-attention-bound.js";

const U = 2 ** -24;

export interface SplitCase {
  sq: number;
  H: number;
  C: number;
  dr: number;
  /** keys [len, C + dr] as the kernel reads them (dequantised); values are their first C floats */
  keys: Float32Array;
  q: Float32Array;
  scale: number;
  /** keys of row (t, h) as indices into `keys`, in the order the kernel visits them (dense: 0..visible-1; sparse: the selection's slots, -1 skipped) */
  visible: (t: number) => Int32Array;
  /** the key ranges (in visit positions, before skipping -1 slots) and the slot list for sparse */
  ranges: { jBegin: number; jEnd: number }[];
  /** sparse: the slots of token t (with -1); dense: undefined */
  slots?: (t: number) => Int32Array;
}

/** Bounds on |o_split - o_one| [sq, H, C] and |lse_split - lse_one| [H, sq]. */
export function splitBound(c: SplitCase): { o: Float64Array; lse: Float64Array } {
  const { sq, H, C, dr, keys, q, scale } = c, W = C + dr;
  const o = new Float64Array(sq * H * C), lse = new Float64Array(H * sq);
  for (let t = 0; t < sq; t++) {
    // the visit positions of this token's keys, and which range each falls in
    const slots = c.slots ? c.slots(t) : c.visible(t);
    const pos: number[] = [], idx: number[] = [];
    for (let j = 0; j < slots.length; j++) if (slots[j] >= 0) (pos.push(j), idx.push(slots[j]));
    const n = idx.length;
    for (let h = 0; h < H; h++) {
      const r = t * H + h, qo = r * W;
      const x = new Float64Array(n);
      let maxAbsDot = 0, maxAbsX = 0, mx = -Infinity;
      for (let i = 0; i < n; i++) {
        let dot = 0, abs = 0;
        const ko = idx[i] * W;
        for (let d = 0; d < W; d++) {
          dot += q[qo + d] * keys[ko + d];
          abs += Math.abs(q[qo + d] * keys[ko + d]);
        }
        x[i] = dot * scale;
        mx = Math.max(mx, x[i]);
        maxAbsDot = Math.max(maxAbsDot, abs);
        maxAbsX = Math.max(maxAbsX, Math.abs(x[i]));
      }
      if (n === 0) continue; // o = 0, lse = +Infinity on both paths: exact
      const D = Math.abs(scale) * gamma(W) * maxAbsDot + 4 * U * maxAbsX;
      const e = (nb: number) => 10 * U + 2 * (nb + 1) * U;
      const g = (nb: number) => Math.expm1(2 * D + 2 * e(nb));
      const Bcoef = (nk: number, nb: number) => g(nb) + gamma(nk + 1) * (1 + g(nb)) + 2 * U;
      const E = (nk: number, nb: number, l: number) => D + e(nb) + gamma(nk) + U * Math.abs(l) + 2 * U * Math.log(Math.max(nk, 1));
      let sum = 0;
      const p = new Float64Array(n);
      for (let i = 0; i < n; i++) sum += p[i] = Math.exp(x[i] - mx);
      const lseAll = mx + Math.log(sum);
      // per range: keys, blocks, exact share and lse
      const R = c.ranges.length;
      const nk = new Array<number>(R).fill(0), share = new Float64Array(R), lseS = new Float64Array(R).fill(-Infinity);
      const partOf = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        let s = 0;
        while (!(pos[i] >= c.ranges[s].jBegin && pos[i] < c.ranges[s].jEnd)) s++;
        partOf[i] = s;
        nk[s]++;
        share[s] += p[i] / sum;
      }
      for (let s = 0; s < R; s++) if (share[s] > 0) lseS[s] = lseAll + Math.log(share[s]);
      const nbAll = Math.ceil((pos[n - 1] + 1) / BLOCK_TOKENS);
      const nbS = c.ranges.map((rg) => Math.ceil((rg.jEnd - rg.jBegin) / BLOCK_TOKENS));
      const Es = nk.map((k, s) => (k > 0 ? E(k, nbS[s], lseS[s]) : 0));
      let sMax = 0;
      for (let s = 1; s < R; s++) if (lseS[s] > lseS[sMax]) sMax = s;
      let eta = 0;
      for (let s = 0; s < R; s++) if (nk[s] > 0) eta = Math.max(eta, Es[s] + Es[sMax] + U * Math.abs(lseS[s] - lseS[sMax]) + 2 * U);
      const spread = 2 * eta + gamma(R);
      for (let col = 0; col < C; col++) {
        let M = 0;
        const Ms = new Float64Array(R);
        for (let i = 0; i < n; i++) {
          const v = Math.abs(keys[idx[i] * W + col]) * (p[i] / sum);
          M += v;
          Ms[partOf[i]] += v; // = pi_s * (part s's own M_s,c)
        }
        let piB = 0;
        for (let s = 0; s < R; s++) if (nk[s] > 0) piB += Bcoef(nk[s], nbS[s]) * Ms[s];
        const bOne = Bcoef(n, nbAll) * M;
        const bSplit = Math.expm1(spread) * M + Math.exp(spread) * piB + (gamma(R + 1) + 2 * U) * Math.exp(spread) * (M + piB);
        o[r * C + col] = (bOne + bSplit) * (1 + 1e-9) + 1e-30;
      }
      const eOne = E(n, nbAll, lseAll);
      const eSplit = Es[sMax] + eta + gamma(R) + U * Math.abs(lseAll) + 2 * U * Math.log(R);
      lse[h * sq + t] = (eOne + eSplit) * (1 + 1e-9) + 1e-30;
    }
  }
  return { o, lse };
}
