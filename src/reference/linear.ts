// y = x W^T, float64 accumulation. The one projection every layer uses.

import { type Counter, NO_COUNT, type WorkTerm } from "./counter.js";

/**
 * Copy W[off .. off+n) into `into` and return n: how the oracle reads a weight row. Each row is
 * read once per call and reused for every input row (a weight is streamed once), so the count of
 * weight elements read is the sum of what this returns.
 */
export function readWeightRow(W: ArrayLike<number>, off: number, n: number, into: Float64Array): number {
  for (let i = 0; i < n; i++) into[i] = W[off + i];
  return n;
}

/**
 * x [rows, nIn], W [nOut, nIn] (PyTorch Linear layout, no bias) -> y [rows, nOut].
 * Counts the multiply-adds and the weight elements read, as they happen.
 */
export function linear(
  x: ArrayLike<number>,
  rows: number,
  W: ArrayLike<number>,
  nOut: number,
  nIn: number,
  count: Counter = NO_COUNT,
  term: WorkTerm = "query",
): Float64Array {
  const y = new Float64Array(rows * nOut);
  if (rows === 0) return y;
  const w = new Float64Array(nIn); // weight row o
  let madds = 0, reads = 0;
  for (let o = 0; o < nOut; o++) {
    reads += readWeightRow(W, o * nIn, nIn, w);
    for (let r = 0; r < rows; r++) {
      const xr = r * nIn;
      let acc = 0;
      for (let i = 0; i < nIn; i++) acc += x[xr + i] * w[i];
      y[r * nOut + o] = acc;
      madds += nIn;
    }
  }
  count.add(term, "madds", madds);
  count.add(term, "weightReads", reads);
  return y;
}
