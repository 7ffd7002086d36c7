// Numerically safe softmax: subtracting the row max changes nothing mathematically
// (exp(a-m)/sum exp(b-m) = exp(a)/sum exp(b)) and keeps exp() from overflowing.

/** In place over a[off .. off+n). Returns the number of exponentials evaluated (n). */
export function softmaxInPlace(a: Float64Array, off: number, n: number): number {
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (a[off + i] > max) max = a[off + i];
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(a[off + i] - max);
    a[off + i] = e;
    sum += e;
  }
  const inv = 1 / sum;
  for (let i = 0; i < n; i++) a[off + i] *= inv;
  return n;
}
