// Byte layout of one cached token in each storage format. A token record holds the normalised
// latent c (C values) and the roped k_pe (dr values); records are packed back to back inside a
// block (no padding), little-endian. See docs/cache.md for the tables.

import { CacheError } from "../errors.js";

export type StorageFormat = "f32" | "bf16" | "f16" | "int8" | "fp8_e4m3";
export const STORAGE_FORMATS: readonly StorageFormat[] = ["f32", "bf16", "f16", "int8", "fp8_e4m3"];

/** Numeric codes used in persisted files and by the WASM codecs (assembly/codecs.ts FMT_*). */
export const FORMAT_CODE: Readonly<Record<StorageFormat, number>> = { f32: 0, bf16: 1, f16: 2, int8: 3, fp8_e4m3: 4 };

/** FlashMLA's FP8 cache groups the latent in tiles of 128 values, one float32 scale per tile. */
export const FP8_TILE = 128;

/** Tokens per block of the paged pool (as vLLM / FlashMLA page_block_size = 64). */
export const BLOCK_TOKENS = 64;

export interface TokenLayout {
  format: StorageFormat;
  C: number;
  dr: number;
  /** Bytes of one token record. */
  bytesPerToken: number;
  /** Byte offset of the latent values c[0..C). */
  latentOffset: number;
  /** Bytes per latent value (4, 2, 2, 1, 1). */
  latentElemBytes: number;
  /** Byte offset of the latent's float32 scales (int8: 1 scale, fp8: ceil(C/128)), -1 if none. */
  latentScaleOffset: number;
  /** Number of latent scales (0 for f32/bf16/f16). */
  latentScales: number;
  /** Byte offset of the rope values k_pe[0..dr). */
  ropeOffset: number;
  /** Bytes per rope value (4 f32, 2 bf16/f16/fp8 (bf16), 1 int8). */
  ropeElemBytes: number;
  /** Byte offset of the rope's float32 scale (int8 only), -1 if none. */
  ropeScaleOffset: number;
}

export function checkStorageFormat(format: unknown, field = "format"): StorageFormat {
  if (typeof format !== "string" || !(STORAGE_FORMATS as readonly string[]).includes(format)) {
    throw new CacheError(field, format, `one of ${STORAGE_FORMATS.join(", ")}`);
  }
  return format as StorageFormat;
}

export function formatFromCode(code: number): StorageFormat | undefined {
  return STORAGE_FORMATS.find((f) => FORMAT_CODE[f] === code);
}

/**
 * Layouts (offsets in bytes, per token):
 *  f32       [c f32 x C][pe f32 x dr]                                   4C + 4dr
 *  bf16/f16  [c x C][pe x dr], 2 bytes each                              2C + 2dr
 *  int8      [c i8 x C][scale_c f32][pe i8 x dr][scale_pe f32]           C + dr + 8
 *  fp8_e4m3  [c e4m3 x C][ceil(C/128) scales f32][pe bf16 x dr]          C + 4 ceil(C/128) + 2dr
 * fp8_e4m3 with C = 512, dr = 64 is FlashMLA's "FP8 with scale" record: 512 + 16 + 128 = 656.
 */
export function tokenLayout(format: StorageFormat, C: number, dr: number): TokenLayout {
  checkStorageFormat(format);
  if (!Number.isInteger(C) || C < 1) throw new CacheError("kv_lora_rank", C, "a positive integer");
  if (!Number.isInteger(dr) || dr < 0) throw new CacheError("qk_rope_head_dim", dr, "a non-negative integer");
  const base = { format, C, dr, latentOffset: 0 };
  switch (format) {
    case "f32":
      return { ...base, bytesPerToken: 4 * (C + dr), latentElemBytes: 4, latentScaleOffset: -1, latentScales: 0, ropeOffset: 4 * C, ropeElemBytes: 4, ropeScaleOffset: -1 };
    case "bf16":
    case "f16":
      return { ...base, bytesPerToken: 2 * (C + dr), latentElemBytes: 2, latentScaleOffset: -1, latentScales: 0, ropeOffset: 2 * C, ropeElemBytes: 2, ropeScaleOffset: -1 };
    case "int8":
      return { ...base, bytesPerToken: C + dr + 8, latentElemBytes: 1, latentScaleOffset: C, latentScales: 1, ropeOffset: C + 4, ropeElemBytes: 1, ropeScaleOffset: C + 4 + dr };
    case "fp8_e4m3": {
      const tiles = Math.ceil(C / FP8_TILE);
      return { ...base, bytesPerToken: C + 4 * tiles + 2 * dr, latentElemBytes: 1, latentScaleOffset: C, latentScales: tiles, ropeOffset: C + 4 * tiles, ropeElemBytes: 2, ropeScaleOffset: -1 };
    }
  }
}
