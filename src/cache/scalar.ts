// Scalar conversions between float32 bit patterns and the cache's element types. Everything works
// on integer bit patterns so that the TypeScript and WASM (assembly/codecs.ts) versions perform
// the same integer steps and agree bit for bit. Rounding is IEEE round-to-nearest-even throughout.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0];
}
export function bitsF32(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0];
}

// ---------------------------------------------------------------------------------------------
// bfloat16: the upper half of a float32.

/** f32 bits -> bf16 bits, RNE; NaN -> sign | 0x7FC0 (quiet); overflow rounds to Inf as IEEE does. */
export function bf16FromF32Bits(bits: number): number {
  bits >>>= 0;
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) & 0x8000) | 0x7fc0;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}
/** bf16 bits -> f32 bits (exact). */
export function f32BitsFromBf16(h: number): number {
  return (h << 16) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// IEEE binary16.

/**
 * RNE of float32 bits to a narrow float with m mantissa bits and exponent bias `bias` (the same
 * steps as assembly/codecs.ts narrowFromBits): magnitudes at or above nanFrom give nanCode, at
 * or above overflowFrom overflowCode, below minNormal (a float32 bit pattern) a subnormal
 * round(|x| * subScale), exact in float32. A carry out of the mantissa bumps the exponent.
 */
function narrowFromF32Bits(bits: number, signBit: number, m: number, bias: number, nanFrom: number, nanCode: number, overflowFrom: number, overflowCode: number, minNormal: number, subScale: number): number {
  bits >>>= 0;
  const sign = (bits >>> (31 - signBit)) & (1 << signBit);
  const a = bits & 0x7fffffff;
  if (a >= nanFrom) return sign | nanCode;
  if (a >= overflowFrom) return sign | overflowCode;
  if (a < minNormal) return sign | roundHalfEven(bitsF32(a) * subScale);
  const e = (a >>> 23) - 127 + bias;
  const drop = 23 - m, mant = a & 0x7fffff;
  let r = mant >>> drop;
  const rem = mant & ((1 << drop) - 1), half = 1 << (drop - 1);
  if (rem > half || (rem === half && (r & 1) === 1)) r++;
  return sign | ((e << m) + r);
}

/** f32 bits -> f16 bits, RNE with subnormals (|x| < 2^-14: multiples of 2^-24); |x| >= 65520 (halfway 65504..65536, ties to even) -> Inf; NaN -> sign | 0x7E00. */
export function f16FromF32Bits(bits: number): number {
  return narrowFromF32Bits(bits, 15, 10, 15, 0x7f800001, 0x7e00, 0x477ff000, 0x7c00, 0x38800000, 16777216);
}
/** f16 bits -> f32 bits (exact, subnormals included). */
export function f32BitsFromF16(h: number): number {
  const sign = (h & 0x8000) << 16;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return (sign | 0x7f800000 | (m << 13)) >>> 0;
  if (e !== 0) return (sign | ((e - 15 + 127) << 23) | (m << 13)) >>> 0;
  if (m === 0) return sign >>> 0;
  return (sign | f32Bits(m * 5.960464477539063e-8)) >>> 0; // m * 2^-24, exact
}

// ---------------------------------------------------------------------------------------------
// FP8 E4M3 "fn" (OCP / torch.float8_e4m3fn): bias 7, no Inf, NaN = S.1111.111, max 448,
// smallest subnormal 2^-9.

export const E4M3_MAX = 448;

/**
 * f32 bits -> e4m3 bits, RNE. Finite |x| > 448 saturates to +-448 (the cache's scales keep
 * |x/scale| <= 448 so this is never reached there; torch's cast would give NaN at >= 464).
 * NaN and +-Inf -> NaN (0x7F | sign): the format has no infinity.
 */
export function e4m3FromF32Bits(bits: number): number {
  // |x| < 2^-6: subnormal, a multiple of 2^-9 (code round(|x| * 2^9); 8 -> 0x08, the smallest normal); >= 448 saturates
  return narrowFromF32Bits(bits, 7, 3, 7, 0x7f800000, 0x7f, 0x43e00000, 0x7e, 0x3c800000, 512);
}

/** Value of every e4m3 code as a float32 number (exact); NaN codes 0x7F, 0xFF. */
export const E4M3_VALUES: Float32Array = (() => {
  const t = new Float32Array(256);
  for (let b = 0; b < 256; b++) {
    const s = b & 0x80 ? -1 : 1;
    const e = (b >>> 3) & 0xf;
    const m = b & 7;
    if (e === 15 && m === 7) t[b] = NaN;
    else if (e === 0) t[b] = s * m * 2 ** -9;
    else t[b] = s * (1 + m / 8) * 2 ** (e - 7);
  }
  return t;
})();

// ---------------------------------------------------------------------------------------------

/** Round to nearest integer, ties to even (IEEE roundTiesToEven; WASM f32.nearest). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // ties toward +Inf
  return r - x === 0.5 && (r & 1) !== 0 ? r - 1 : r;
}

/** Smallest power of two >= t, for a positive normal float32 t (exact: from the bits). */
export function pow2Ceil(t: number): number {
  const b = f32Bits(t);
  const e = (b >>> 23) & 0xff;
  return bitsF32(((b & 0x7fffff) === 0 ? e : e + 1) << 23);
}
