// LayerNorm as the indexer's k_norm computes it (model.py LayerNorm = F.layer_norm, eps 1e-6):
// (x - mean) / sqrt(var + eps) * w + b, var the biased variance (mean of squared deviations).

import { LAYERNORM_EPS } from "../../derived.js";
import { NonFiniteError } from "../../errors.js";

/** x [rows, n] -> [rows, n]; w, b [n]. */
export function layerNorm(x: ArrayLike<number>, rows: number, n: number, w: ArrayLike<number>, b: ArrayLike<number>, eps = LAYERNORM_EPS): Float64Array {
  const y = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += x[r * n + i];
    mean /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (x[r * n + i] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / n + eps);
    for (let i = 0; i < n; i++) y[r * n + i] = (x[r * n + i] - mean) * inv * w[i] + b[i];
  }
  return y;
}

/**
 * A norm's input rows [rows, n] must have a finite sum of squares: otherwise RMSNorm/LayerNorm
 * return zeros (x / sqrt(Inf)) or NaN, a wrong result that can look finite. NonFiniteError
 * naming `name[r]` (r = b*s + t) when a finite input overflowed float64 there.
 */
export function checkNormInput(name: string, x: ArrayLike<number>, rows: number, n: number): void {
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < n; i++) ss += x[r * n + i] * x[r * n + i];
    if (!Number.isFinite(ss)) throw new NonFiniteError(`${name}[${r}]`, ss, "a finite sum of squares before the norm (the inputs were finite; float64 overflowed in the projection)");
  }
}
