// y = x W^T, float64 accumulation. The one projection every layer uses.

import { type Counter, NO_COUNT, type WorkTerm } from "./counter.js";

/**
 * x [rows, nIn], W [nOut, nIn] (PyTorch Linear layout, no bias) -> y [rows, nOut].
 * `xOff`/`wOff` let callers project a slice without copying (e.g. one head's block of wkv_b).
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
  let madds = 0;
  for (let r = 0; r < rows; r++) {
    const xr = r * nIn;
    for (let o = 0; o < nOut; o++) {
      const wo = o * nIn;
      let acc = 0;
      for (let i = 0; i < nIn; i++) acc += x[xr + i] * W[wo + i];
      y[r * nOut + o] = acc;
      madds += nIn;
    }
  }
  count.add(term, "madds", madds);
  if (rows > 0) count.add(term, "weightReads", nOut * nIn); // streamed once per call
  return y;
}
