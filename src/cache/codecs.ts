// Token codecs: float32 [c (C) | k_pe (dr)] <-> one token record of a storage format (layout.ts).
// Bit-identical to assembly/codecs.ts (test/cache/codecs-wasm.test.ts checks it).
//
// Scales:
//  int8      per token and part: s = f32(amax / 127); q = clamp(rne(f32(x / s)), -127, 127);
//            s = 0 (all zero, or amax < 127 * 2^-150) stores q = 0. Dequantised: f32(q * s).
//  fp8_e4m3  per tile of 128 latent values (the last tile holds C mod 128 values when 128 does not
//            divide C): s = 2^ceil(log2(max(f32(amax / 448), f32(1e-4)))), the power-of-two ("ue8m0")
//            scale of FlashMLA's tests/quant.py (quantize_k_cache, V32_FP8Sparse layout,
//            _cast_scale_inv_to_ue8m0): fp8-rules.ts rule "flashmla_test"; q = e4m3(f32(x / s))
//            with RNE; k_pe stored as bf16.
//  fp8_e4m3_v32  the same record, quantised as DeepSeek-V3.2's model.py simulates its FP8 cache:
//            act_quant per 128 values (fp8-rules.ts rule "act_quant": bf16 read, amax floored at
//            1e-4, s = f32(amax * f32(1/448)), the config's scale_fmt); k_pe stored as bf16.
//            TypeScript only (no WASM codec).
//            mlakit takes ceil(log2) from the float's bits, exactly; torch evaluates log2 in float32,
//            which can round log2(t) down to an integer for t a few ulps above a power of two and then
//            picks the smaller scale (|x/s| up to 448 + a few ulps, still rounding to 448). Decoding
//            is the same either way: value = e4m3 * scale, exact in float32.
// Non-finite input (the cache rejects it before it gets here; codecs stay total, never trap):
//  bf16/f16 keep Inf and map NaN to a quiet NaN; int8 ignores non-finite values for amax and stores
//  NaN as 0, +-Inf as +-127; fp8 ignores them for amax and stores them as the e4m3 NaN code.

import { fp8QuantiseGroup } from "./fp8-rules.js";
import { FP8_TILE, type LatentFormat, type TokenLayout } from "./layout.js";
import { E4M3_VALUES, bf16FromF32Bits, bitsF32, f16FromF32Bits, f32BitsFromBf16, f32BitsFromF16, roundHalfEven } from "./scalar.js";

function isFiniteBits(b: number): boolean {
  return (b & 0x7f800000) !== 0x7f800000;
}

/** amax over the finite values of bits[off .. off+n). */
function absMax(bits: Uint32Array, off: number, n: number): number {
  let m = 0;
  for (let i = 0; i < n; i++) {
    const b = bits[off + i];
    if (!isFiniteBits(b)) continue;
    const a = bitsF32(b & 0x7fffffff);
    if (a > m) m = a;
  }
  return m;
}

function encodeInt8(bits: Uint32Array, off: number, n: number, dst: Uint8Array, dv: DataView, at: number, scaleAt: number): void {
  const s = Math.fround(absMax(bits, off, n) / 127);
  dv.setFloat32(scaleAt, s, true);
  for (let i = 0; i < n; i++) {
    const b = bits[off + i];
    let q = 0;
    if (!isFiniteBits(b)) q = (b & 0x7fffff) !== 0 ? 0 : b >>> 31 ? -127 : 127;
    else if (s !== 0) q = Math.min(127, Math.max(-127, roundHalfEven(Math.fround(bitsF32(b) / s))));
    dst[at + i] = q & 0xff;
  }
}

/** One format's record codec: a float32 row (as bits and values) <-> the record at byte `at`. */
interface RecordCodec {
  encode(l: TokenLayout<LatentFormat>, bits: Uint32Array, row: number, dst: Uint8Array, dv: DataView, at: number): void;
  decode(l: TokenLayout<LatentFormat>, src: Uint8Array, dv: DataView, at: number, bits: Uint32Array, vals: Float32Array, row: number): void;
}

/** 2-byte halves (bf16, f16) for every value of the row. */
function halves(fromBits: (b: number) => number, toBits: (h: number) => number): RecordCodec {
  return {
    encode: (l, bits, row, _dst, dv, at) => {
      for (let i = 0; i < l.C + l.dr; i++) dv.setUint16(at + 2 * i, fromBits(bits[row + i]), true);
    },
    decode: (l, _src, dv, at, bits, _vals, row) => {
      for (let i = 0; i < l.C + l.dr; i++) bits[row + i] = toBits(dv.getUint16(at + 2 * i, true));
    },
  };
}

/** The fp8 record: e4m3 tiles of 128 latent values, each with its scale (the layout's quantiser), k_pe as bf16. */
function fp8Codec(): RecordCodec {
  return {
    encode: (l, bits, row, dst, dv, at) => {
      for (let tile = 0; tile < l.latentScales; tile++) {
        const i0 = tile * FP8_TILE, len = Math.min(FP8_TILE, l.C - i0);
        const s = fp8QuantiseGroup(l.quantiser!, bits, row + i0, len, dst, at + l.latentOffset + i0);
        dv.setFloat32(at + l.latentScaleOffset + 4 * tile, s, true);
      }
      for (let i = 0; i < l.dr; i++) dv.setUint16(at + l.ropeOffset + 2 * i, bf16FromF32Bits(bits[row + l.C + i]), true);
    },
    decode: (l, src, dv, at, bits, vals, row) => {
      for (let i = 0; i < l.C; i++) {
        const s = dv.getFloat32(at + l.latentScaleOffset + 4 * (i >> 7), true);
        vals[row + i] = Math.fround(E4M3_VALUES[src[at + l.latentOffset + i]] * s);
      }
      for (let i = 0; i < l.dr; i++) bits[row + l.C + i] = f32BitsFromBf16(dv.getUint16(at + l.ropeOffset + 2 * i, true));
    },
  };
}

const CODECS: Record<LatentFormat, RecordCodec> = {
  f32: {
    encode: (l, bits, row, _dst, dv, at) => {
      for (let i = 0; i < l.C + l.dr; i++) dv.setUint32(at + 4 * i, bits[row + i], true);
    },
    decode: (l, _src, dv, at, bits, _vals, row) => {
      for (let i = 0; i < l.C + l.dr; i++) bits[row + i] = dv.getUint32(at + 4 * i, true);
    },
  },
  bf16: halves(bf16FromF32Bits, f32BitsFromBf16),
  f16: halves(f16FromF32Bits, f32BitsFromF16),
  int8: {
    encode: (l, bits, row, dst, dv, at) => {
      encodeInt8(bits, row, l.C, dst, dv, at + l.latentOffset, at + l.latentScaleOffset);
      encodeInt8(bits, row + l.C, l.dr, dst, dv, at + l.ropeOffset, at + l.ropeScaleOffset);
    },
    decode: (l, _src, dv, at, _bits, vals, row) => {
      const sc = dv.getFloat32(at + l.latentScaleOffset, true);
      for (let i = 0; i < l.C; i++) vals[row + i] = Math.fround(dv.getInt8(at + l.latentOffset + i) * sc);
      const sp = dv.getFloat32(at + l.ropeScaleOffset, true);
      for (let i = 0; i < l.dr; i++) vals[row + l.C + i] = Math.fround(dv.getInt8(at + l.ropeOffset + i) * sp);
    },
  },
  fp8_e4m3: fp8Codec(),
  fp8_e4m3_v32: fp8Codec(),
};

/**
 * Encode n tokens. src holds [n, C+dr] float32 (each row c then k_pe) from srcOff; records go to
 * dst from dstOff, one every layout.bytesPerToken bytes.
 */
export function encodeTokens(layout: TokenLayout<LatentFormat>, src: Float32Array, srcOff: number, n: number, dst: Uint8Array, dstOff: number): void {
  const codec = CODECS[layout.format], W = layout.C + layout.dr;
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const dv = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  for (let t = 0; t < n; t++) codec.encode(layout, bits, srcOff + t * W, dst, dv, dstOff + t * layout.bytesPerToken);
}

/** Decode n records from src (from srcOff) into dst [n, C+dr] float32 from dstOff. */
export function decodeTokens(layout: TokenLayout<LatentFormat>, src: Uint8Array, srcOff: number, n: number, dst: Float32Array, dstOff: number): void {
  const codec = CODECS[layout.format], W = layout.C + layout.dr;
  const bits = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let t = 0; t < n; t++) codec.decode(layout, src, dv, srcOff + t * layout.bytesPerToken, bits, dst, dstOff + t * W);
}
