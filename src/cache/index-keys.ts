// The key cache of DeepSeek-V3.2's lightning indexer, as its model.py simulates it: per token one
// key of DI = index_head_dim values (LayerNorm'd, roped, Hadamard-rotated; one key shared by every
// index head) quantised by act_quant in one group of DI values with the config's scale_fmt
// (fp8-rules.ts rule "act_quant"), stored as DI e4m3 codes and one float32 scale: 132 bytes per
// token and layer at DI 128. The values fp8_index reads are the e4m3 values; the scale multiplies
// the whole score (model.py's Indexer.k_cache and k_scale_cache).
//
// In a LatentCache block they follow the 64 latent records, codes first and then scales, each
// token-major (vLLM's indexer cache block has the same order):
//   [64 x latent record][64 x DI e4m3][64 x f32 scale]
// so the latent records keep their place and stride, and a scan of the keys reads one contiguous
// run of 64 DI bytes per block.

import { type MlaConfig, type ScaleFmt, isDsaConfig } from "../config.js";
import { CacheError } from "../errors.js";
import { type Fp8Quantiser, fp8QuantiseGroup } from "./fp8-rules.js";
import { BF16_RANGE, BLOCK_TOKENS, type LatentFormat, type RangeLimit, type TokenLayout } from "./layout.js";
import { E4M3_VALUES } from "./scalar.js";

export interface IndexKeyLayout {
  /** DI: values per key (index_head_dim). */
  dim: number;
  /** act_quant's scale format (the config's scale_fmt). */
  scaleFmt: ScaleFmt | null;
  /** DI codes + one float32 scale. */
  bytesPerToken: number;
  /** act_quant reads bf16: a key value must stay finite in bf16. */
  limit: RangeLimit;
}

/** The index key layout of a DeepSeek-V3.2 config; a CacheError naming `field` for any other config. */
export function indexKeyLayout(cfg: MlaConfig, field = "options.indexKeys"): IndexKeyLayout {
  if (!isDsaConfig(cfg)) throw new CacheError(field, true, "a DeepSeek-V3.2 config (index_n_heads, index_head_dim, index_topk, scale_fmt; e.g. preset deepseek-v3.2): only its indexer has keys to cache");
  return { dim: cfg.index_head_dim, scaleFmt: cfg.scale_fmt, bytesPerToken: cfg.index_head_dim + 4, limit: BF16_RANGE };
}

/** Where each part of a token sits inside a pool block. */
export interface BlockLayout {
  /** Bytes of one block (64 tokens: latent records, then the index keys if any). */
  blockBytes: number;
  /** Bytes per token of every part together (the accounting's bytesPerToken). */
  tokenBytes: number;
  /** Latent record stride (the TokenLayout's bytesPerToken). */
  recordBytes: number;
  /** Byte offset in the block of the 64 x DI index key codes (-1 without index keys). */
  keysOffset: number;
  /** Byte offset in the block of the 64 float32 index key scales (-1 without index keys). */
  scalesOffset: number;
  index: IndexKeyLayout | null;
}

export function blockLayout(latent: TokenLayout<LatentFormat>, index: IndexKeyLayout | null): BlockLayout {
  const rec = latent.bytesPerToken, recs = BLOCK_TOKENS * rec;
  if (index === null) return { blockBytes: recs, tokenBytes: rec, recordBytes: rec, keysOffset: -1, scalesOffset: -1, index };
  return { blockBytes: BLOCK_TOKENS * (rec + index.bytesPerToken), tokenBytes: rec + index.bytesPerToken, recordBytes: rec, keysOffset: recs, scalesOffset: recs + BLOCK_TOKENS * index.dim, index };
}

/** The byte ranges [start, end) inside a block that hold slots from..to-1 of every part. */
export function slotRanges(b: BlockLayout, from: number, to: number): [number, number][] {
  const r: [number, number][] = [[from * b.recordBytes, to * b.recordBytes]];
  if (b.index) r.push([b.keysOffset + from * b.index.dim, b.keysOffset + to * b.index.dim], [b.scalesOffset + 4 * from, b.scalesOffset + 4 * to]);
  return r;
}

/**
 * Quantise n keys src[srcOff .. srcOff + n*DI) (float32) with act_quant: codes to dst from keysAt
 * (n*DI bytes), scales (float32, little-endian) from scalesAt (4n bytes).
 */
export function encodeIndexKeys(l: IndexKeyLayout, src: Float32Array, srcOff: number, n: number, dst: Uint8Array, keysAt: number, scalesAt: number): void {
  const q: Fp8Quantiser = { rule: "act_quant", scaleFmt: l.scaleFmt };
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const dv = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  for (let t = 0; t < n; t++) dv.setFloat32(scalesAt + 4 * t, fp8QuantiseGroup(q, bits, srcOff + t * l.dim, l.dim, dst, keysAt + t * l.dim), true);
}

/** n keys at keysAt / scalesAt -> their e4m3 values [n, DI] (from valuesOff) and scales [n] (from scalesOff). */
export function decodeIndexKeys(l: IndexKeyLayout, src: Uint8Array, keysAt: number, scalesAt: number, n: number, values: Float32Array, valuesOff: number, scales: Float32Array, scalesOff: number): void {
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let t = 0; t < n; t++) {
    for (let d = 0; d < l.dim; d++) values[valuesOff + t * l.dim + d] = E4M3_VALUES[src[keysAt + t * l.dim + d]];
    scales[scalesOff + t] = dv.getFloat32(scalesAt + 4 * t, true);
  }
}
