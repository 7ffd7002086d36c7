// A bound on the float32 error of what a WASM layer caches from one input row: the latent
// c = kv_norm(x wkv_a[:C]) (absorbed and recompute paths) and the naive path's K_nope and V, which
// decompress it with wkv_b. RMSNorm is ill-conditioned when a row's pre-norm values are small
// against sqrt(eps) (C = 1 makes that common: c = w p / sqrt(p^2 + eps)), so the projection's
// float32 error is amplified far past the fixed F32_ORACLE_TOL; the bound follows it.
//
// Derivation (u = 2^-24, gamma_n = n u / (1 - n u), Higham 3.1, any summation order):
//   p_j = sum_d x_d A_jd, float32 |p'_j - p_j| <= e_j = gamma_D sum_d |x_d A_jd| + u |p_j|.
//   r^2 = mean_k p_k^2 + eps; |r'^2 - r^2| <= Dr = mean_k (2 |p_k| e_k + e_k^2), so with
//   r_lo = sqrt(max(eps, r^2 - Dr)) and |r' - r| <= Dr / (r + r_lo):
//   |c'_j - c_j| <= |w_j| (e_j / r_lo + |p_j| |r' - r| / (r r_lo)) + (C + 6) u |c_j|
//   (the last term: the norm's own float32 sum of squares, mean, eps, sqrt, divide and scale).
// Decompression y_i = sum_c B_ic c_c in float32 adds sum_c |B_ic| b_c + gamma_C sum_c |B_ic c_c| + u |y_i|.

import type { MlaConfig } from "../../src/config.js";
import { RMSNORM_EPS } from "../../src/derived.js";
import type { MlaWeights } from "../../src/weights.js";
import { gamma } from "./f32-attention-bound.js";

const U = 2 ** -24;

/** Bounds on the cached latent c [C] of one input row x [D], and the float64 c itself. */
export function latentBound(cfg: MlaConfig, w: MlaWeights, x: ArrayLike<number>): { c: Float64Array; bound: Float64Array } {
  const D = cfg.dim, C = cfg.kv_lora_rank;
  const p = new Float64Array(C), e = new Float64Array(C);
  for (let j = 0; j < C; j++) {
    let s = 0, a = 0;
    for (let d = 0; d < D; d++) {
      const t = x[d] * w.wkv_a[j * D + d];
      s += t;
      a += Math.abs(t);
    }
    p[j] = s;
    e[j] = gamma(D) * a + U * Math.abs(s);
  }
  let ss = 0, dr = 0;
  for (let k = 0; k < C; k++) {
    ss += p[k] * p[k];
    dr += 2 * Math.abs(p[k]) * e[k] + e[k] * e[k];
  }
  const r2 = ss / C + RMSNORM_EPS, r = Math.sqrt(r2), rLo = Math.sqrt(Math.max(RMSNORM_EPS, r2 - dr / C));
  const dR = dr / C / (r + rLo);
  const c = new Float64Array(C), bound = new Float64Array(C);
  for (let j = 0; j < C; j++) {
    const wj = w.kv_norm[j];
    c[j] = (wj * p[j]) / r;
    bound[j] = Math.abs(wj) * (e[j] / rLo + (Math.abs(p[j]) * dR) / (r * rLo)) + (C + 6) * U * Math.abs(c[j]);
  }
  return { c, bound };
}

/** Bounds on the naive path's per-head K_nope [H, dn] and V [H, dv] decompressed from that latent. */
export function decompressedBound(cfg: MlaConfig, w: MlaWeights, lat: { c: Float64Array; bound: Float64Array }): { kNope: Float64Array; v: Float64Array } {
  const H = cfg.n_heads, C = cfg.kv_lora_rank, dn = cfg.qk_nope_head_dim, dv = cfg.v_head_dim, wd = dn + dv;
  const kNope = new Float64Array(H * dn), v = new Float64Array(H * dv);
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < wd; i++) {
      const row = (h * wd + i) * C;
      let prop = 0, mag = 0, y = 0;
      for (let k = 0; k < C; k++) {
        const b = w.wkv_b[row + k];
        prop += Math.abs(b) * lat.bound[k];
        mag += Math.abs(b * lat.c[k]);
        y += b * lat.c[k];
      }
      const bnd = prop + gamma(C) * mag + U * Math.abs(y);
      if (i < dn) kNope[h * dn + i] = bnd;
      else v[h * dv + i - dn] = bnd;
    }
  }
  return { kNope, v };
}
