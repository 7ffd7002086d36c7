// A bound on the float32 error of the attention kernels' outputs for the sizes a test draws, from
// the float64 values of the same computation (Higham, "Accuracy and Stability of Numerical
// Algorithms", 3.1: a float32 dot product of length n is off by at most gamma_n * sum |x_i y_i|,
// gamma_n = n u / (1 - n u), u = 2^-24).
//
// Per query row: each score s_j = scale * q.k_j moves by at most
//   D = |scale| gamma_W max_j sum_d |q_d k_jd| + 4u max_j |s_j|   (dot of length W, the scale, the
// subtraction of the running max), vexp (degree-7 polynomial, truncation 6e-9 < u, ~8 rounded steps) add
// e_exp = 10u relative to each weight, and each of the nb online-softmax rescales (Mathf.exp and
// one multiply) 2u to every weight and to the sum l, so every p_j' / p_j lies in
// [e^-(2D + 2e), e^(2D + 2e)] with e = e_exp + 2(nb + 1)u. With M_i = sum_j p_j |v_ji|, the weighted
// sum of length T adds gamma_T M_i and the final division u |o_i|:
//   |o_lat_i' - o_lat_i| <= expm1(2D + 2e) M_i + gamma_(T+1) M_i (1 + expm1(...)).
// Underflow: vexp returns 0 for an argument <= -87 (just above float32's smallest normal, e^-87.3),
// so a weight whose exact x_j - max lies within 2D of -87 may vanish: its whole share
// F_i = sum_(flushable j) p_j |v_ji| counts as error, times the (1 + expm1(...)) the others get. Products
// and rescales that land among the subnormals round by <= 2^-150 absolute each (n products, nb
// rescales, the division), and l' >= 1 (the max's own weight) keeps that absolute:
//   + (1 + expm1(...)) F_i + (n + nb + 2) 2^-150.
// The output projection o_d = sum_c W_dc o_lat_c (length C) then gives
//   |o_d' - o_d| <= sum_c |W_dc| b_c + gamma_C sum_c |W_dc| (|o_lat_c| + b_c).

const U = 2 ** -24;
/** vexp (assembly/common.ts) returns 0 for arguments <= this. */
const VEXP_FLUSH = -87;
/** Half an ulp among float32's subnormals: the most one rounding there moves a value. */
const SUBNORMAL_HALF_ULP = 2 ** -150;
export const gamma = (n: number): number => (n * U) / (1 - n * U);

/** Bounds on o_lat [s, H, C] for queries q [s, H, W] over keys [T, W], values [T, C] (T = startPos + s; row (t, h) sees keys <= startPos + t). */
export function attentionBound(q: ArrayLike<number>, keys: ArrayLike<number>, vals: ArrayLike<number>, s: number, startPos: number, H: number, W: number, C: number, scale: number, keyBlock: number): Float64Array {
  const out = new Float64Array(s * H * C);
  const T = startPos + s;
  const p = new Float64Array(T);
  for (let t = 0; t < s; t++) {
    const n = startPos + t + 1, nb = Math.ceil(n / keyBlock);
    for (let h = 0; h < H; h++) {
      const qo = (t * H + h) * W;
      let maxAbsDot = 0, maxAbsS = 0, max = -Infinity;
      for (let j = 0; j < n; j++) {
        let dot = 0, absDot = 0;
        for (let d = 0; d < W; d++) {
          dot += q[qo + d] * keys[j * W + d];
          absDot += Math.abs(q[qo + d] * keys[j * W + d]);
        }
        p[j] = dot * scale;
        max = Math.max(max, p[j]);
        maxAbsDot = Math.max(maxAbsDot, absDot);
        maxAbsS = Math.max(maxAbsS, Math.abs(p[j]));
      }
      let sum = 0;
      for (let j = 0; j < n; j++) sum += p[j] = Math.exp(p[j] - max);
      const D = Math.abs(scale) * gamma(W) * maxAbsDot + 4 * U * maxAbsS;
      const e = 10 * U + 2 * (nb + 1) * U;
      const grow = Math.expm1(2 * D + 2 * e);
      const flushable = Math.exp(VEXP_FLUSH + 2 * D + 2 * e); // p_j = e^(x_j - max) at or below this may be flushed
      for (let i = 0; i < C; i++) {
        let M = 0, F = 0;
        for (let j = 0; j < n; j++) {
          const share = (p[j] / sum) * Math.abs(vals[j * C + i]);
          M += share;
          if (p[j] <= flushable) F += share;
        }
        const relative = (grow + gamma(n + 1) * (1 + grow)) * M + (1 + grow) * F;
        out[(t * H + h) * C + i] = relative * (1 + 1e-9) + (n + nb + 2) * SUBNORMAL_HALF_ULP;
      }
    }
  }
  return out;
}

/** Bounds on o [N, H, dv] = o_lat [N, H, C] W_UV[h]^T (W_UV[h] = wkv_b rows h*(dn+dv)+dn ..) given bounds b on o_lat. */
export function projectionBound(oLat: ArrayLike<number>, b: ArrayLike<number>, N: number, H: number, C: number, dn: number, dv: number, wkvb: ArrayLike<number>): Float64Array {
  const out = new Float64Array(N * H * dv);
  for (let r = 0; r < N; r++) {
    for (let h = 0; h < H; h++) {
      for (let d = 0; d < dv; d++) {
        const wRow = (h * (dn + dv) + dn + d) * C;
        let prop = 0, mag = 0;
        for (let c = 0; c < C; c++) {
          const w = Math.abs(wkvb[wRow + c]), i = (r * H + h) * C + c;
          prop += w * b[i];
          mag += w * (Math.abs(oLat[i]) + b[i]);
        }
        out[(r * H + h) * dv + d] = (prop + gamma(C) * mag) * (1 + 1e-9) + 1e-30;
      }
    }
  }
  return out;
}
