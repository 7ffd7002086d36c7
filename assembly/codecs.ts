// Cache codecs: float32 token rows [c (C) | k_pe (dr)] <-> token records of the
// storage formats in src/cache/layout.ts, bit-identical to src/cache/codecs.ts (TypeScript).
// Pointers and sizes only: no allocation, no policy. Little-endian records, packed, unaligned
// loads (WASM allows them).
//
// Record layouts (bytes, per token):
//   FMT_F32  0  [c f32 x C][pe f32 x dr]                              4C + 4dr
//   FMT_BF16 1  [c bf16 x C][pe bf16 x dr]                            2C + 2dr
//   FMT_F16  2  [c f16 x C][pe f16 x dr]                              2C + 2dr
//   FMT_INT8 3  [c i8 x C][scale_c f32][pe i8 x dr][scale_pe f32]     C + dr + 8
//   FMT_FP8  4  [c e4m3 x C][ceil(C/128) x f32 scale][pe bf16 x dr]   C + 4 ceil(C/128) + 2dr
// FMT_FP8 with C = 512, dr = 64 is FlashMLA's 656-byte "FP8 with scale" record (FlashMLA
// README, tests/quant.py quantize_k_cache V32_FP8Sparse; formulas only, no code copied).
//
// For a decode kernel (dequantise in registers, no full-precision copy of the cache):
//   rec = block_base + slot * codec_token_bytes(fmt, C, dr)
//   latent c[i..i+4):  dq4_latent_<fmt>(rec, C, i)      i % 4 == 0, i + 4 <= C   -> f32x4
//   rope k_pe[j..j+4): dq4_rope_<fmt>(rec, C, dr, j)    j % 4 == 0, j + 4 <= dr  -> f32x4
//   tails:             dq1_latent(fmt, rec, C, i), dq1_rope(fmt, rec, C, dr, j)   -> f32
//   or a whole key block at once into an L1/L2-resident float32 tile:
//                      codec_dequant_tile(fmt, rec, n, C, dr, kv, ldkv, pe, ldpe)
// The functions are @inline: call them with the format fixed per kernel instantiation (one
// kernel per format, or a switch outside the token loop) so no branch sits in the inner loop.
// int8 kernels may instead take the scale out of the dot product: s * sum(q_i * x_i).

export const FMT_F32: i32 = 0;
export const FMT_BF16: i32 = 1;
export const FMT_F16: i32 = 2;
export const FMT_INT8: i32 = 3;
export const FMT_FP8: i32 = 4;

// ---------------------------------------------------------------------------------------------
// Layout

@inline function fp8Tiles(C: i32): i32 {
  return (C + 127) >> 7;
}

/** Bytes of one token record. */
export function codec_token_bytes(fmt: i32, C: i32, dr: i32): i32 {
  if (fmt == FMT_F32) return 4 * (C + dr);
  if (fmt == FMT_BF16 || fmt == FMT_F16) return 2 * (C + dr);
  if (fmt == FMT_INT8) return C + dr + 8;
  return C + 4 * fp8Tiles(C) + 2 * dr;
}

/** Byte offset of k_pe inside a record. */
export function codec_rope_offset(fmt: i32, C: i32): i32 {
  if (fmt == FMT_F32) return 4 * C;
  if (fmt == FMT_BF16 || fmt == FMT_F16) return 2 * C;
  if (fmt == FMT_INT8) return C + 4;
  return C + 4 * fp8Tiles(C);
}

// ---------------------------------------------------------------------------------------------
// Scalar conversions on bit patterns (same integer steps as src/cache/scalar.ts)

@inline function isFiniteBits(b: u32): bool {
  return (b & 0x7f800000) != 0x7f800000;
}

function bf16FromBits(bits: u32): u32 {
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >> 16) & 0x8000) | 0x7fc0;
  return ((bits + 0x7fff + ((bits >> 16) & 1)) >> 16) & 0xffff;
}

/**
 * Round-to-nearest-even of float32 bits to a narrow float with m mantissa bits and exponent bias
 * `bias`: NaN at or above nanFrom gives nanCode, magnitudes at or above overflowFrom give
 * overflowCode (Inf for f16, the largest finite value for e4m3, which has no Inf), magnitudes
 * below minNormal (a float32 bit pattern) are subnormal: nearest(|x| * subScale).
 */
// @ts-ignore: decorator
@inline function narrowFromBits(bits: u32, signBit: u32, m: u32, bias: i32, nanFrom: u32, nanCode: u32, overflowFrom: u32, overflowCode: u32, minNormal: u32, subScale: f32): u32 {
  const sign = (bits >> (31 - signBit)) & (<u32>1 << signBit);
  const a = bits & 0x7fffffff;
  if (a >= nanFrom) return sign | nanCode;
  if (a >= overflowFrom) return sign | overflowCode;
  if (a < minNormal) return sign | <u32>nearest<f32>(reinterpret<f32>(a) * subScale);
  const e = <u32>((a >> 23) - 127 + bias);
  const drop = 23 - m, mant = a & 0x7fffff;
  let r = mant >> drop;
  const rem = mant & ((<u32>1 << drop) - 1), halfway = <u32>1 << (drop - 1);
  if (rem > halfway || (rem == halfway && (r & 1) == 1)) r++;
  return sign | ((e << m) + r);
}

function f16FromBits(bits: u32): u32 {
  return narrowFromBits(bits, 15, 10, 15, 0x7f800001, 0x7e00, 0x477ff000, 0x7c00, 0x38800000, 16777216.0);
}

function f32BitsFromF16(h: u32): u32 {
  const sign = (h & 0x8000) << 16;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e == 0x1f) return sign | 0x7f800000 | (m << 13);
  // normal and subnormal alike: the f32 with exponent field e and mantissa m<<13, times 2^112
  return sign | reinterpret<u32>(reinterpret<f32>((e << 23) | (m << 13)) * 5.192296858534828e33);
}

function e4m3FromBits(bits: u32): u32 {
  return narrowFromBits(bits, 7, 3, 7, 0x7f800000, 0x7f, 0x43e00000, 0x7e, 0x3c800000, 512.0);
}

/** e4m3 code -> f32 value (exact): bits (b & 0x7F) << 20 are the value times 2^-120. */
@inline function e4m3ToF32(b: u32): f32 {
  const mag = b & 0x7f;
  if (mag == 0x7f) return reinterpret<f32>(((b & 0x80) << 24) | 0x7fc00000);
  return reinterpret<f32>(((b & 0x80) << 24) | (mag << 20)) * 1.329227995784916e36; // 2^120
}

// ---------------------------------------------------------------------------------------------
// Encode

function absMax(src: usize, n: i32): f32 {
  let m: f32 = 0;
  for (let i = 0; i < n; i++) {
    const b = load<u32>(src + (<usize>i << 2));
    if (!isFiniteBits(b)) continue;
    const a = reinterpret<f32>(b & 0x7fffffff);
    if (a > m) m = a;
  }
  return m;
}

function encodeInt8(src: usize, n: i32, dst: usize, scaleAt: usize): void {
  const s: f32 = absMax(src, n) / 127.0;
  store<f32>(scaleAt, s);
  for (let i = 0; i < n; i++) {
    const b = load<u32>(src + (<usize>i << 2));
    let q: i32 = 0;
    if (!isFiniteBits(b)) q = (b & 0x7fffff) != 0 ? 0 : (b >> 31) != 0 ? -127 : 127;
    else if (s != 0) q = <i32>min<f32>(127.0, max<f32>(-127.0, nearest<f32>(reinterpret<f32>(b) / s)));
    store<u8>(dst + <usize>i, <u8>q);
  }
}

/** n tokens: src f32 [n, C+dr] -> dst records (codec_token_bytes apart). */
export function codec_encode(fmt: i32, src: usize, n: i32, C: i32, dr: i32, dst: usize): void {
  const W = C + dr;
  const bpt = codec_token_bytes(fmt, C, dr);
  const ro = codec_rope_offset(fmt, C);
  for (let t = 0; t < n; t++) {
    const s0 = src + (<usize>(t * W) << 2);
    const d0 = dst + <usize>(t * bpt);
    if (fmt == FMT_F32) {
      memory.copy(d0, s0, <usize>W << 2);
    } else if (fmt == FMT_BF16) {
      for (let i = 0; i < W; i++) store<u16>(d0 + (<usize>i << 1), <u16>bf16FromBits(load<u32>(s0 + (<usize>i << 2))));
    } else if (fmt == FMT_F16) {
      for (let i = 0; i < W; i++) store<u16>(d0 + (<usize>i << 1), <u16>f16FromBits(load<u32>(s0 + (<usize>i << 2))));
    } else if (fmt == FMT_INT8) {
      encodeInt8(s0, C, d0, d0 + <usize>C);
      encodeInt8(s0 + (<usize>C << 2), dr, d0 + <usize>ro, d0 + <usize>(ro + dr));
    } else {
      const tiles = fp8Tiles(C);
      for (let tile = 0; tile < tiles; tile++) {
        const i0 = tile << 7;
        const len = min<i32>(128, C - i0);
        const inv = max<f32>(absMax(s0 + (<usize>i0 << 2), len) / 448.0, <f32>1e-4);
        const ib = reinterpret<u32>(inv);
        const e = (ib >> 23) & 0xff;
        const s = reinterpret<f32>(((ib & 0x7fffff) == 0 ? e : e + 1) << 23);
        store<f32>(d0 + <usize>(C + 4 * tile), s);
        for (let i = 0; i < len; i++) {
          const b = load<u32>(s0 + (<usize>(i0 + i) << 2));
          const code = isFiniteBits(b) ? e4m3FromBits(reinterpret<u32>(reinterpret<f32>(b) / s)) : ((b >> 24) & 0x80) | 0x7f;
          store<u8>(d0 + <usize>(i0 + i), <u8>code);
        }
      }
      for (let i = 0; i < dr; i++) store<u16>(d0 + <usize>(ro + 2 * i), <u16>bf16FromBits(load<u32>(s0 + (<usize>(C + i) << 2))));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Dequantise: one value (scalar tails) and four values (SIMD, in registers)

/** Latent value c[i] of the record at rec. */
@inline export function dq1_latent(fmt: i32, rec: usize, C: i32, i: i32): f32 {
  if (fmt == FMT_F32) return load<f32>(rec + (<usize>i << 2));
  if (fmt == FMT_BF16) return reinterpret<f32>(<u32>load<u16>(rec + (<usize>i << 1)) << 16);
  if (fmt == FMT_F16) return reinterpret<f32>(f32BitsFromF16(load<u16>(rec + (<usize>i << 1))));
  if (fmt == FMT_INT8) return <f32>load<i8>(rec + <usize>i) * load<f32>(rec + <usize>C);
  return e4m3ToF32(load<u8>(rec + <usize>i)) * load<f32>(rec + <usize>(C + 4 * (i >> 7)));
}

/** Rope value k_pe[j] of the record at rec. */
@inline export function dq1_rope(fmt: i32, rec: usize, C: i32, dr: i32, j: i32): f32 {
  const p = rec + <usize>codec_rope_offset(fmt, C);
  if (fmt == FMT_F32) return load<f32>(p + (<usize>j << 2));
  if (fmt == FMT_F16) return reinterpret<f32>(f32BitsFromF16(load<u16>(p + (<usize>j << 1))));
  if (fmt == FMT_INT8) return <f32>load<i8>(p + <usize>j) * load<f32>(p + <usize>dr);
  return reinterpret<f32>(<u32>load<u16>(p + (<usize>j << 1)) << 16); // bf16 (FMT_BF16 and FMT_FP8)
}

@inline function bf16x4(p: usize): v128 {
  return i32x4.shl(v128.load16x4_u(p), 16);
}

@inline function f16x4(p: usize): v128 {
  const u = v128.load16x4_u(p);
  const sign = i32x4.shl(v128.and(u, i32x4.splat(0x8000)), 16);
  const em = v128.and(u, i32x4.splat(0x7fff));
  const bits = i32x4.shl(em, 13);
  const finite = f32x4.mul(bits, f32x4.splat(5.192296858534828e33)); // * 2^112: exact for normals and subnormals
  const special = v128.or(bits, i32x4.splat(0x70000000)); // Inf / NaN: exponent all ones, mantissa kept
  const isSpecial = i32x4.ge_u(em, i32x4.splat(0x7c00));
  return v128.or(v128.bitselect(special, finite, isSpecial), sign);
}

@inline function int8x4(p: usize, scale: f32): v128 {
  const q = i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(p)));
  return f32x4.mul(f32x4.convert_i32x4_s(q), f32x4.splat(scale));
}

@inline function e4m3x4(p: usize, scale: f32): v128 {
  const b = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(p)));
  const sign = i32x4.shl(v128.and(b, i32x4.splat(0x80)), 24);
  const mag = v128.and(b, i32x4.splat(0x7f));
  const v = v128.or(f32x4.mul(i32x4.shl(mag, 20), f32x4.splat(1.329227995784916e36)), sign); // * 2^120, exact
  const scaled = f32x4.mul(v, f32x4.splat(scale));
  const nan = v128.or(sign, i32x4.splat(0x7fc00000));
  return v128.bitselect(nan, scaled, i32x4.eq(mag, i32x4.splat(0x7f)));
}

/** Four finite e4m3 codes (lanes of i32 0..255, none 0x7f/0xff) -> their float32 values: bits (b & 0x7F) << 20 are the value times 2^-120. */
// @ts-ignore: decorator
@inline function e4m3FiniteX4(b: v128): v128 {
  const sign = i32x4.shl(v128.and(b, i32x4.splat(0x80)), 24);
  return v128.or(f32x4.mul(i32x4.shl(v128.and(b, i32x4.splat(0x7f)), 20), f32x4.splat(1.329227995784916e36)), sign);
}

/**
 * n e4m3 codes at src -> their float32 values at dst (exact), sixteen per v128 load. The codes
 * must be finite (the NaN codes 0x7f/0xff decode as 480): the cache stores no others.
 */
export function e4m3RowToF32(src: usize, n: i32, dst: usize): void {
  const n16 = n & ~15;
  for (let i = 0; i < n16; i += 16) {
    const b = v128.load(src + <usize>i), d = dst + (<usize>i << 2);
    const lo = i16x8.extend_low_i8x16_u(b), hi = i16x8.extend_high_i8x16_u(b);
    v128.store(d, e4m3FiniteX4(i32x4.extend_low_i16x8_u(lo)));
    v128.store(d, e4m3FiniteX4(i32x4.extend_high_i16x8_u(lo)), 16);
    v128.store(d, e4m3FiniteX4(i32x4.extend_low_i16x8_u(hi)), 32);
    v128.store(d, e4m3FiniteX4(i32x4.extend_high_i16x8_u(hi)), 48);
  }
  for (let i = n16; i < n; i++) store<f32>(dst + (<usize>i << 2), e4m3ToF32(load<u8>(src + <usize>i)));
}

@inline export function dq4_latent_f32(rec: usize, C: i32, i: i32): v128 {
  return v128.load(rec + (<usize>i << 2));
}
@inline export function dq4_latent_bf16(rec: usize, C: i32, i: i32): v128 {
  return bf16x4(rec + (<usize>i << 1));
}
@inline export function dq4_latent_f16(rec: usize, C: i32, i: i32): v128 {
  return f16x4(rec + (<usize>i << 1));
}
@inline export function dq4_latent_int8(rec: usize, C: i32, i: i32): v128 {
  return int8x4(rec + <usize>i, load<f32>(rec + <usize>C));
}
/** i % 4 == 0, so the four values share one 128-value tile and its scale. */
@inline export function dq4_latent_fp8(rec: usize, C: i32, i: i32): v128 {
  return e4m3x4(rec + <usize>i, load<f32>(rec + <usize>(C + 4 * (i >> 7))));
}

@inline export function dq4_rope_f32(rec: usize, C: i32, dr: i32, j: i32): v128 {
  return v128.load(rec + <usize>(4 * C) + (<usize>j << 2));
}
@inline export function dq4_rope_bf16(rec: usize, C: i32, dr: i32, j: i32): v128 {
  return bf16x4(rec + <usize>(2 * C) + (<usize>j << 1));
}
@inline export function dq4_rope_f16(rec: usize, C: i32, dr: i32, j: i32): v128 {
  return f16x4(rec + <usize>(2 * C) + (<usize>j << 1));
}
@inline export function dq4_rope_int8(rec: usize, C: i32, dr: i32, j: i32): v128 {
  const p = rec + <usize>(C + 4);
  return int8x4(p + <usize>j, load<f32>(p + <usize>dr));
}
@inline export function dq4_rope_fp8(rec: usize, C: i32, dr: i32, j: i32): v128 {
  return bf16x4(rec + <usize>(C + 4 * fp8Tiles(C)) + (<usize>j << 1));
}

// ---------------------------------------------------------------------------------------------
// Decode whole records (tests, persistence checks, kernels that prefer an f32 tile in L1)

/** n records at src -> dst f32 [n, C+dr], one value at a time. */
export function codec_decode(fmt: i32, src: usize, n: i32, C: i32, dr: i32, dst: usize): void {
  const W = C + dr;
  const bpt = codec_token_bytes(fmt, C, dr);
  for (let t = 0; t < n; t++) {
    const rec = src + <usize>(t * bpt);
    const d0 = dst + (<usize>(t * W) << 2);
    for (let i = 0; i < C; i++) store<f32>(d0 + (<usize>i << 2), dq1_latent(fmt, rec, C, i));
    for (let j = 0; j < dr; j++) store<f32>(d0 + (<usize>(C + j) << 2), dq1_rope(fmt, rec, C, dr, j));
  }
}

/** Same as codec_decode through codec_dequant_tile (the dq4_* SIMD dequantisers a decode kernel uses, tails scalar). */
export function codec_decode_simd(fmt: i32, src: usize, n: i32, C: i32, dr: i32, dst: usize): void {
  const W = C + dr;
  codec_dequant_tile(fmt, src, n, C, dr, dst, W, dst + (<usize>C << 2), W);
}

/**
 * Dequantise one tile of n token records (one 64-token block: n <= 64) into float32 latent rows
 * kv[n, C] (ldkv floats apart) and rope rows pe[n, dr] (ldpe floats apart): the layout the fused
 * absorbed attention reads per key block (attention_core `attend`, KB = 64 keys). The tile stays
 * L1/L2-resident (64 x 576 floats = 147 KB); the cache itself is never copied to float32.
 */
export function codec_dequant_tile(fmt: i32, rec: usize, n: i32, C: i32, dr: i32, kv: usize, ldkv: i32, pe: usize, ldpe: i32): void {
  const bpt = codec_token_bytes(fmt, C, dr);
  for (let t = 0; t < n; t++) {
    const r = rec + <usize>(t * bpt);
    const kr = kv + (<usize>(t * ldkv) << 2), pr = pe + (<usize>(t * ldpe) << 2);
    if (fmt == FMT_F32) dequantRow(FMT_F32, r, C, dr, kr, pr);
    else if (fmt == FMT_BF16) dequantRow(FMT_BF16, r, C, dr, kr, pr);
    else if (fmt == FMT_F16) dequantRow(FMT_F16, r, C, dr, kr, pr);
    else if (fmt == FMT_INT8) dequantRow(FMT_INT8, r, C, dr, kr, pr);
    else dequantRow(FMT_FP8, r, C, dr, kr, pr);
  }
}

/** One record -> latent row kr[C], rope row pr[dr]; fmt is a constant at every call site, so the format branches fold away. */
@inline function dequantRow(fmt: i32, rec: usize, C: i32, dr: i32, kr: usize, pr: usize): void {
  let i = 0;
  for (; i + 4 <= C; i += 4) {
    let v: v128;
    if (fmt == FMT_F32) v = dq4_latent_f32(rec, C, i);
    else if (fmt == FMT_BF16) v = dq4_latent_bf16(rec, C, i);
    else if (fmt == FMT_F16) v = dq4_latent_f16(rec, C, i);
    else if (fmt == FMT_INT8) v = dq4_latent_int8(rec, C, i);
    else v = dq4_latent_fp8(rec, C, i);
    v128.store(kr + (<usize>i << 2), v);
  }
  for (; i < C; i++) store<f32>(kr + (<usize>i << 2), dq1_latent(fmt, rec, C, i));
  let j = 0;
  for (; j + 4 <= dr; j += 4) {
    let v: v128;
    if (fmt == FMT_F32) v = dq4_rope_f32(rec, C, dr, j);
    else if (fmt == FMT_BF16) v = dq4_rope_bf16(rec, C, dr, j);
    else if (fmt == FMT_F16) v = dq4_rope_f16(rec, C, dr, j);
    else if (fmt == FMT_INT8) v = dq4_rope_int8(rec, C, dr, j);
    else v = dq4_rope_fp8(rec, C, dr, j);
    v128.store(pr + (<usize>j << 2), v);
  }
  for (; j < dr; j++) store<f32>(pr + (<usize>j << 2), dq1_rope(fmt, rec, C, dr, j));
}

/** n token rows: latent kv [n, ldkv floats apart] and k_pe pe [n, ldpe] -> n records at dst (row: C+dr floats of scratch). */
export function codec_encode_split(fmt: i32, kv: usize, ldkv: i32, pe: usize, ldpe: i32, n: i32, C: i32, dr: i32, dst: usize, row: usize): void {
  const bpt = <usize>codec_token_bytes(fmt, C, dr);
  for (let t = 0; t < n; t++) {
    memory.copy(row, kv + (<usize>(t * ldkv) << 2), <usize>C << 2);
    memory.copy(row + (<usize>C << 2), pe + (<usize>(t * ldpe) << 2), <usize>dr << 2);
    codec_encode(fmt, row, 1, C, dr, dst + <usize>t * bpt);
  }
}
