// The bench's own correctness gate: every benchmarked kernel's output is compared with a float64
// computation before it is timed, so a fast-but-wrong kernel cannot produce a figure.
//
// Linear outputs (y = x W^T, each a K-term dot product in float32, any summation order, FMA or
// not): Higham & Mary's probabilistic bound (SIAM J. Sci. Comput. 2019, Thm 3.1) gives
// |y - y64| <= lambda * sqrt(K) * u * sum_k |x_k w_k| with probability >= 1 - 2K exp(-lambda^2/2),
// u = 2^-24. lambda = 8 makes a false alarm < 1e-9 even at K = 16384; a real bug (a dropped or
// wrong row, column or block) moves y by O(|y|), and for random data |y| ~ sum/sqrt(K), so the
// bound is ~8 K u |y| (<= 0.8% of |y| at K = 16384): >= 100x below such errors. A single dropped
// term out of thousands sits near the bound; the variants' edge-size checks (small K, full
// comparison) catch those. Large outputs are spot-checked (float64 V3 GEMMs take minutes in JS).
//
// Attention outputs (softmax-weighted sums): FlashMLA's cal_diff (src/numerics.ts) against a
// float64 attention. float32 scores and sums land ~1e-6 relative, i.e. cal_diff ~1e-12; any
// wrong key, scale or normalisation gives >= 1e-4. The bar CAL_DIFF_MAX = 1e-8 sits between.
import { calDiff } from "../../src/numerics.js";

export const U32 = 2 ** -24;
export const LINEAR_LAMBDA = 8;
export const CAL_DIFF_MAX = 1e-8;

export interface CheckResult {
  ok: boolean;
  /** Worst |error| / tolerance (linear) or cal_diff (attention). */
  worst: number;
  detail: string;
}

/** Spot-checks y [M, N] = x [M, K] W^T (W [N, K]) at `samples` entries (all if fewer exist). */
export function checkLinear(y: ArrayLike<number>, x: ArrayLike<number>, w: ArrayLike<number>, M: number, N: number, K: number, samples = 256): CheckResult {
  let worst = 0, detail = "";
  const total = M * N;
  const step = total <= samples ? 1 : Math.floor(total / samples) | 1; // odd stride visits rows and columns
  for (let idx = 0, n = 0; idx < total && n < samples; idx += step, n++) {
    const m = Math.floor(idx / N), j = idx % N;
    let ref = 0, mag = 0;
    for (let k = 0; k < K; k++) {
      const t = x[m * K + k] * w[j * K + k];
      ref += t;
      mag += Math.abs(t);
    }
    const tol = LINEAR_LAMBDA * Math.sqrt(K) * U32 * mag + 1e-30;
    const r = Math.abs(y[m * N + j] - ref) / tol;
    if (!(r <= worst)) {
      worst = Number.isNaN(r) ? Infinity : r;
      detail = `y[${m},${j}] = ${y[m * N + j]}, float64 ${ref}, tolerance ${tol.toExponential(2)}`;
    }
  }
  return { ok: worst <= 1, worst, detail };
}

export function checkCalDiff(got: ArrayLike<number>, ref: ArrayLike<number>, what: string): CheckResult {
  const d = calDiff(got, ref);
  const ok = Number.isFinite(d) && d <= CAL_DIFF_MAX && got.length === ref.length;
  return { ok, worst: d, detail: `${what}: cal_diff ${d.toExponential(2)} (max ${CAL_DIFF_MAX})` };
}

export function assertOk(name: string, r: CheckResult): void {
  if (!r.ok) throw new Error(`${name} failed its correctness check: ${r.detail}`);
}

/**
 * float64 absorbed decode attention for heads `heads`: q [H, C+dr], kv [S, C], pe [S, dr] ->
 * o [heads.length, C]. The same math as src/reference (attendRow over latent keys), written
 * here over float32 inputs so a V3-size check does not copy the cache into float64 rows.
 */
export function absorbedAttention64(q: Float32Array, kv: Float32Array, pe: Float32Array, H: number, S: number, C: number, dr: number, scale: number, heads: number[]): Float64Array {
  const D = C + dr;
  const out = new Float64Array(heads.length * C);
  const s = new Float64Array(S);
  heads.forEach((h, i) => {
    let mx = -Infinity;
    for (let t = 0; t < S; t++) {
      let a = 0;
      for (let c = 0; c < C; c++) a += q[h * D + c] * kv[t * C + c];
      for (let r = 0; r < dr; r++) a += q[h * D + C + r] * pe[t * dr + r];
      s[t] = a * scale;
      if (s[t] > mx) mx = s[t];
    }
    let l = 0;
    for (let t = 0; t < S; t++) l += s[t] = Math.exp(s[t] - mx);
    for (let t = 0; t < S; t++) {
      const p = s[t] / l;
      for (let c = 0; c < C; c++) out[i * C + c] += p * kv[t * C + c];
    }
  });
  return out;
}

/** float64 naive decode attention for `heads`: q [H, dqk], k [S, H, dqk], v [S, H, dv] -> [heads.length, dv]. */
export function naiveAttention64(q: Float32Array, k: Float32Array, v: Float32Array, H: number, S: number, dqk: number, dv: number, scale: number, heads: number[]): Float64Array {
  const out = new Float64Array(heads.length * dv);
  const s = new Float64Array(S);
  heads.forEach((h, i) => {
    let mx = -Infinity;
    for (let t = 0; t < S; t++) {
      let a = 0;
      for (let d = 0; d < dqk; d++) a += q[h * dqk + d] * k[(t * H + h) * dqk + d];
      s[t] = a * scale;
      if (s[t] > mx) mx = s[t];
    }
    let l = 0;
    for (let t = 0; t < S; t++) l += s[t] = Math.exp(s[t] - mx);
    for (let t = 0; t < S; t++) {
      const p = s[t] / l;
      for (let d = 0; d < dv; d++) out[i * dv + d] += p * v[(t * H + h) * dv + d];
    }
  });
  return out;
}

/** Rows `heads` of a [H, w] array, as one flat array. */
export function pickRows(a: ArrayLike<number>, w: number, heads: number[]): Float64Array {
  const out = new Float64Array(heads.length * w);
  heads.forEach((h, i) => {
    for (let j = 0; j < w; j++) out[i * w + j] = a[h * w + j];
  });
  return out;
}
