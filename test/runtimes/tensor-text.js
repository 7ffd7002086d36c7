// @ts-check
// Tensors as text between a runtime and the harness: float64 little-endian bytes as base64 (exact
// for float32 and float64 results alike).

/** @param {ArrayLike<number>} t */
export function encodeTensor(t) {
  const f = Float64Array.from(t);
  const u8 = new Uint8Array(f.buffer);
  let s = "";
  for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode.apply(null, /** @type {any} */ (u8.subarray(i, i + 0x8000)));
  return btoa(s);
}
