// Absorbed MLA attention read straight from the paged latent cache (src/cache: 64-token blocks of
// token records in one pool, a block table per sequence) in each storage format. Same math and
// tiling as attn_absorbed_fused (attention_core `attend`: 4 rows x one key block, online softmax,
// o_lat += p c in the latent space, then o[h] = o_lat[h] W_UV[h]^T), but the key loop looks each
// 64-key block up in the block table and reads its records in place:
//   f32:   the records are float32 [c | k_pe] rows already: keys and values point into the pool.
//   other: codec_dequant_tile decodes the block once into a 64 x (C + dr) float32 tile (147 KB
//          at V3 sizes, L2-resident) that every row tile of this block then reads. No float32
//          copy of the cache exists beyond that one block.
// One exported kernel per format (the format a constant, so the dequantiser's branches fold);
// the host names them with the ISA (attn_absorbed_paged_fp8_e4m3_simd128 / _relaxed).

import { KB, accumulateBlock, attend_scratch_floats, normalizeRows, scorePart, softmaxBlock } from "./attention_core";
import { FMT_BF16, FMT_F16, FMT_F32, FMT_FP8, FMT_INT8, codec_dequant_tile, codec_encode, codec_token_bytes } from "./codecs";
import { gemm_4x8, packed_size_8 } from "./gemm";
import { linear } from "./mla";

const KBB: usize = <usize>KB << 2; // bytes of one score row

/** Floats of scratch for R = s*H query rows: attend's scratch, then the dequantised block tile 64 x (C+dr) (16-byte aligned). */
export function attn_paged_scratch_floats(R: i32, C: i32, dr: i32): i32 {
  return attend_scratch_floats(R) + 4 + KB * (C + dr);
}

/** n token rows: latent kv [n, ldkv floats apart] and k_pe pe [n, ldpe] -> n records at dst via codec_encode (row: C+dr floats of scratch). */
export function codec_encode_split(fmt: i32, kv: usize, ldkv: i32, pe: usize, ldpe: i32, n: i32, C: i32, dr: i32, dst: usize, row: usize): void {
  const bpt = <usize>codec_token_bytes(fmt, C, dr);
  for (let t = 0; t < n; t++) {
    memory.copy(row, kv + (<usize>(t * ldkv) << 2), <usize>C << 2);
    memory.copy(row + (<usize>C << 2), pe + (<usize>(t * ldpe) << 2), <usize>dr << 2);
    codec_encode(fmt, row, 1, C, dr, dst + <usize>t * bpt);
  }
}

/**
 * o_lat [R, C] for rows r = (token, head), token t = r / H seeing keys < base + 1 + t.
 * qabs [R, C]; qpe: row r's q_pe at qpe + r*ldq floats; pool + table[k] * 64 * bytesPerToken is
 * block k's first record.
 */
// @ts-ignore: decorator
@inline function attendPaged(fmt: i32, R: i32, H: i32, base: i32, qabs: usize, C: i32, qpe: usize, ldq: i32, dr: i32,
  pool: usize, table: usize, scale: f32, o: usize, scratch: usize): void {
  const S = scratch;
  const mArr = S + (KBB << 2);
  const lArr = mArr + (<usize>R << 2);
  const alpha = lArr + (<usize>R << 2);
  const tileKv = (scratch + (<usize>attend_scratch_floats(R) << 2) + 15) & ~(<usize>15);
  const tilePe = tileKv + (<usize>(KB * C) << 2);
  const bpt = codec_token_bytes(fmt, C, dr);
  const blockBytes = <usize>(KB * bpt);
  const dv = C;
  const ldoB = <usize>C << 2, ldqAB = <usize>C << 2, ldqBB = <usize>ldq << 2;
  // f32 records are [c | k_pe] float32 rows: read in place with a row stride of C + dr floats
  const ldkAB: usize = fmt == FMT_F32 ? <usize>bpt : <usize>C << 2;
  const ldkBB: usize = fmt == FMT_F32 ? <usize>bpt : <usize>dr << 2;
  for (let r = 0; r < R; r++) {
    store<f32>(mArr + (<usize>r << 2), -Infinity);
    store<f32>(lArr + (<usize>r << 2), 0);
    memory.fill(o + <usize>r * ldoB, 0, <usize>C << 2);
  }
  const T = base + 1 + (R - 1) / H;
  for (let j0 = 0; j0 < T; j0 += KB) {
    const jMax = min(j0 + KB, T);
    // The block table lookup and, for compressed formats, the one decode of this block.
    const rec = pool + <usize>load<i32>(table + (<usize>(j0 / KB) << 2)) * blockBytes;
    let kA: usize, kB: usize;
    if (fmt == FMT_F32) {
      kA = rec;
      kB = rec + (<usize>C << 2);
    } else {
      codec_dequant_tile(fmt, rec, jMax - j0, C, dr, tileKv, C, tilePe, dr);
      kA = tileKv;
      kB = tilePe;
    }
    const v = kA, ldvB = ldkAB;
    for (let r0 = 0; r0 < R; r0 += 4) {
      const nr = min(4, R - r0);
      const limLast = base + 1 + (r0 + nr - 1) / H;
      if (limLast <= j0) continue;
      const nk = min(jMax, limLast) - j0;
      scorePart(nr, qabs + <usize>r0 * ldqAB, ldqAB, kA, ldkAB, C, nk, S, false);
      if (dr > 0) scorePart(nr, qpe + <usize>r0 * ldqBB, ldqBB, kB, ldkBB, dr, nk, S, true);
      softmaxBlock(nr, r0, H, base, j0, nk, S, scale, mArr, lArr, alpha);
      accumulateBlock(nr, o + <usize>r0 * ldoB, ldoB, alpha, S, v, ldvB, nk, dv); // o <- alpha o + P V (V = the latent part of the keys)
    }
  }
  normalizeRows(R, o, ldoB, lArr, dv);
}

/** o[h] = o_lat[h] W_UV[h]^T for s tokens (as attn_absorbed_fused). */
function projectOut(s: i32, H: i32, C: i32, dv: i32, wuv: usize, olat: usize, o: usize): void {
  const stride = <usize>packed_size_8(dv, C) << 2;
  for (let h = 0; h < H; h++) {
    const x = olat + ((<usize>h * C) << 2), y = o + ((<usize>h * dv) << 2), w = wuv + <usize>h * stride;
    if (s == 1) linear(1, dv, C, x, C, w, y, dv);
    else gemm_4x8(s, dv, C, x, H * C, w, y, H * dv);
  }
}

/**
 * One sequence (batch row). qabs [s, H, C]; q [s, H, qk] (q_pe = last dr of each head, roped);
 * the sequence's T = startPos + s tokens live in the pool (records codec_token_bytes(fmt) apart,
 * 64 per block) at blocks table[0 .. ceil(T/64)) (i32 block ids); wuv as attn_absorbed_fused;
 * olat: s*H*C floats of scratch; scratch: attn_paged_scratch_floats(s*H, C, dr) floats. o [s, H, dv].
 */
// @ts-ignore: decorator
@inline function absorbedPaged(fmt: i32, s: i32, H: i32, C: i32, dr: i32, dn: i32, dv: i32, startPos: i32,
  qabs: usize, q: usize, pool: usize, table: usize, scale: f32, wuv: usize, olat: usize, o: usize, scratch: usize): void {
  attendPaged(fmt, s * H, H, startPos, qabs, C, q + (<usize>dn << 2), dn + dr, dr, pool, table, scale, olat, scratch);
  projectOut(s, H, C, dv, wuv, olat, o);
}

export function attn_absorbed_paged_f32(s: i32, H: i32, C: i32, dr: i32, dn: i32, dv: i32, startPos: i32,
  qabs: usize, q: usize, pool: usize, table: usize, scale: f32, wuv: usize, olat: usize, o: usize, scratch: usize): void {
  absorbedPaged(FMT_F32, s, H, C, dr, dn, dv, startPos, qabs, q, pool, table, scale, wuv, olat, o, scratch);
}
export function attn_absorbed_paged_bf16(s: i32, H: i32, C: i32, dr: i32, dn: i32, dv: i32, startPos: i32,
  qabs: usize, q: usize, pool: usize, table: usize, scale: f32, wuv: usize, olat: usize, o: usize, scratch: usize): void {
  absorbedPaged(FMT_BF16, s, H, C, dr, dn, dv, startPos, qabs, q, pool, table, scale, wuv, olat, o, scratch);
}
export function attn_absorbed_paged_f16(s: i32, H: i32, C: i32, dr: i32, dn: i32, dv: i32, startPos: i32,
  qabs: usize, q: usize, pool: usize, table: usize, scale: f32, wuv: usize, olat: usize, o: usize, scratch: usize): void {
  absorbedPaged(FMT_F16, s, H, C, dr, dn, dv, startPos, qabs, q, pool, table, scale, wuv, olat, o, scratch);
}
export function attn_absorbed_paged_int8(s: i32, H: i32, C: i32, dr: i32, dn: i32, dv: i32, startPos: i32,
  qabs: usize, q: usize, pool: usize, table: usize, scale: f32, wuv: usize, olat: usize, o: usize, scratch: usize): void {
  absorbedPaged(FMT_INT8, s, H, C, dr, dn, dv, startPos, qabs, q, pool, table, scale, wuv, olat, o, scratch);
}
export function attn_absorbed_paged_fp8_e4m3(s: i32, H: i32, C: i32, dr: i32, dn: i32, dv: i32, startPos: i32,
  qabs: usize, q: usize, pool: usize, table: usize, scale: f32, wuv: usize, olat: usize, o: usize, scratch: usize): void {
  absorbedPaged(FMT_FP8, s, H, C, dr, dn, dv, startPos, qabs, q, pool, table, scale, wuv, olat, o, scratch);
}
