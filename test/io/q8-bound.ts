// How far a Q8_0 value may lie from the float it encodes (ggml's rule, src/io/gguf.ts): d = amax/127,
// q = round(x / d) (|x - q d| <= d/2, plus the float32 roundings of 1/d and x/d: a few 2^-24
// relative), the stored scale fp16(d) within half an ulp of d (2^-11 relative for normal float16,
// 2^-25 absolute among float16 subnormals, below 2^-14), so |q fp16(d) - q d| <= 127 max(2^-11 d,
// 2^-25), and the product rounded to float32 (2^-24 relative).
export function q8Bound(amax: number): number {
  const d = amax / 127;
  return d / 2 + 127 * Math.max(d * 2 ** -11, 2 ** -25) + 4 * 2 ** -24 * amax;
}
