// RMSNorm as the official code (and torch's F.rms_norm) computes it: x * rsqrt(mean(x^2) + eps) * w.

import { RMSNORM_EPS } from "../derived.js";

/**
 * x [rows, n] -> [rows, n]; w [n]. Reads x at xOff with row stride `stride` (default n).
 * `overflow(r, ss)` is called (and may throw) when row r's sum of squares is not finite: the
 * row would come out as zeros (1/sqrt(Inf)) or NaN, a wrong result that can look finite.
 */
export function rmsNorm(
  x: ArrayLike<number>,
  rows: number,
  n: number,
  w: ArrayLike<number>,
  eps = RMSNORM_EPS,
  xOff = 0,
  stride = n,
  overflow?: (row: number, ss: number) => void,
): Float64Array {
  const y = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    const base = xOff + r * stride;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += x[base + i] * x[base + i];
    if (overflow && !Number.isFinite(ss)) overflow(r, ss);
    const inv = 1 / Math.sqrt(ss / n + eps);
    for (let i = 0; i < n; i++) y[r * n + i] = x[base + i] * inv * w[i];
  }
  return y;
}
