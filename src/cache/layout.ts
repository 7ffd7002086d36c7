// Byte layout of one cached token in each storage format. A token record holds the normalised
// latent c (C values) and the roped k_pe (dr values); records are packed back to back inside a
// block (no padding), little-endian. See docs/cache.md for the tables.

import type { ScaleFmt } from "../config.js";
import { CacheError } from "../errors.js";
import { type Fp8Rule } from "./fp8-rules.js";

/** The formats of any MLA layer's latent (the WASM codecs have each of them). */
export type StorageFormat = "f32" | "bf16" | "f16" | "int8" | "fp8_e4m3";
export const STORAGE_FORMATS: readonly StorageFormat[] = ["f32", "bf16", "f16", "int8", "fp8_e4m3"];

/**
 * DeepSeek-V3.2's latent record: the FP8 KV-cache simulation of its model.py (act_quant of the
 * latent per 128 values with the config's scale_fmt), k_pe in bf16. Only for a V3.2 config (the
 * scales follow its scale_fmt); TypeScript codec only (no WASM codec yet).
 */
export type DsaStorageFormat = "fp8_e4m3_v32";
export const DSA_STORAGE_FORMATS: readonly DsaStorageFormat[] = ["fp8_e4m3_v32"];

/** Every format a LatentCache can hold. */
export type LatentFormat = StorageFormat | DsaStorageFormat;
export const LATENT_FORMATS: readonly LatentFormat[] = [...STORAGE_FORMATS, ...DSA_STORAGE_FORMATS];

/** Numeric codes used in persisted files and by the WASM codecs (assembly/codecs.ts FMT_*). */
export const FORMAT_CODE: Readonly<Record<StorageFormat, number>> = { f32: 0, bf16: 1, f16: 2, int8: 3, fp8_e4m3: 4 };

/** FlashMLA's FP8 cache groups the latent in tiles of 128 values, one float32 scale per tile. */
export const FP8_TILE = 128;

/** Tokens per block of the paged pool (as vLLM / FlashMLA page_block_size = 64). */
export const BLOCK_TOKENS = 64;

/**
 * The range of one element type: a float32 value x (the cache first rounds to float32) is held
 * finitely iff (f32Bits(x) & 0x7fffffff) < bits. Above it f16 and bf16 round to Inf and f32 is
 * Inf already; int8 and the fp8 latent scale their values, so any finite float32 fits them.
 */
export interface RangeLimit {
  /** The smallest |float32| bit pattern the element type cannot hold. */
  bits: number;
  /** The same limit for messages: |x| must stay below this after rounding. */
  magnitude: string;
}

/** Any finite float32 (f32 elements, and the scaled int8 / fp8 latent). */
export const F32_RANGE: RangeLimit = { bits: 0x7f800000, magnitude: "3.4028e38" };
/** bf16: from (2 - 2^-8) * 2^127 on, RNE to 8 significant bits rounds to Inf. */
export const BF16_RANGE: RangeLimit = { bits: 0x7f7f8000, magnitude: "3.3961e38" };
/** f16: from 65520 (halfway between 65504 and 65536) on, RNE rounds to Inf. */
export const F16_RANGE: RangeLimit = { bits: 0x477ff000, magnitude: "65520" };

/**
 * Which range the latent c and the rope k_pe of each format must stay in (fp8 stores k_pe as bf16;
 * fp8_e4m3_v32 also reads its latent as bf16 before quantising, as act_quant does).
 */
export const FORMAT_RANGES: Readonly<Record<LatentFormat, { latent: RangeLimit; rope: RangeLimit }>> = {
  f32: { latent: F32_RANGE, rope: F32_RANGE },
  bf16: { latent: BF16_RANGE, rope: BF16_RANGE },
  f16: { latent: F16_RANGE, rope: F16_RANGE },
  int8: { latent: F32_RANGE, rope: F32_RANGE },
  fp8_e4m3: { latent: F32_RANGE, rope: BF16_RANGE },
  fp8_e4m3_v32: { latent: BF16_RANGE, rope: BF16_RANGE },
};

/** How an fp8 format computes its tile scales (fp8-rules.ts): the rule and the scale format. */
export interface Fp8Quantiser {
  rule: Fp8Rule;
  scaleFmt: ScaleFmt | null;
}

/** fp8_e4m3's quantiser: FlashMLA's test rule with power-of-two (ue8m0) scales. */
export const FP8_E4M3_QUANTISER: Readonly<Fp8Quantiser> = Object.freeze({ rule: "flashmla_test", scaleFmt: "ue8m0" });
/** fp8_e4m3_v32's rule: act_quant, with the config's scale_fmt. */
export const FP8_E4M3_V32_RULE: Fp8Rule = "act_quant";

export interface TokenLayout<F extends LatentFormat = StorageFormat> {
  format: F;
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
  /** Range the latent values must stay in (FORMAT_RANGES). */
  latentLimit: RangeLimit;
  /** Range the rope values must stay in (FORMAT_RANGES). */
  ropeLimit: RangeLimit;
  /** The fp8 formats' scale rule (null for the others). */
  quantiser: Fp8Quantiser | null;
}

export function checkStorageFormat(format: unknown, field = "format"): StorageFormat {
  if (typeof format !== "string" || !(STORAGE_FORMATS as readonly string[]).includes(format)) {
    throw new CacheError(field, format, `one of ${STORAGE_FORMATS.join(", ")}`);
  }
  return format as StorageFormat;
}

/** Any format a LatentCache holds (the dense ones and DeepSeek-V3.2's). */
export function checkLatentFormat(format: unknown, field = "format"): LatentFormat {
  if (typeof format !== "string" || !(LATENT_FORMATS as readonly string[]).includes(format)) {
    throw new CacheError(field, format, `one of ${LATENT_FORMATS.join(", ")}`);
  }
  return format as LatentFormat;
}

export function isDsaStorageFormat(format: LatentFormat): format is DsaStorageFormat {
  return (DSA_STORAGE_FORMATS as readonly string[]).includes(format);
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
 *  fp8_e4m3_v32  the fp8_e4m3 layout, C a multiple of 128                C + 4 C/128 + 2dr
 * fp8_e4m3 with C = 512, dr = 64 is FlashMLA's "FP8 with scale" record: 512 + 16 + 128 = 656; so
 * is fp8_e4m3_v32 (V3.2's model.py quantises the same 128-value tiles by its own rule).
 * fp8_e4m3_v32 takes the config's scale_fmt (scaleFmt; required, null allowed).
 */
export function tokenLayout(format: StorageFormat, C: number, dr: number): TokenLayout;
export function tokenLayout(format: LatentFormat, C: number, dr: number, scaleFmt?: ScaleFmt | null): TokenLayout<LatentFormat>;
export function tokenLayout(format: LatentFormat, C: number, dr: number, scaleFmt?: ScaleFmt | null): TokenLayout<LatentFormat> {
  checkLatentFormat(format);
  if (!Number.isInteger(C) || C < 1) throw new CacheError("kv_lora_rank", C, "a positive integer");
  if (!Number.isInteger(dr) || dr < 0) throw new CacheError("qk_rope_head_dim", dr, "a non-negative integer");
  const base = { format, C, dr, latentOffset: 0, latentLimit: FORMAT_RANGES[format].latent, ropeLimit: FORMAT_RANGES[format].rope, quantiser: null };
  switch (format) {
    case "f32":
      return { ...base, bytesPerToken: 4 * (C + dr), latentElemBytes: 4, latentScaleOffset: -1, latentScales: 0, ropeOffset: 4 * C, ropeElemBytes: 4, ropeScaleOffset: -1 };
    case "bf16":
    case "f16":
      return { ...base, bytesPerToken: 2 * (C + dr), latentElemBytes: 2, latentScaleOffset: -1, latentScales: 0, ropeOffset: 2 * C, ropeElemBytes: 2, ropeScaleOffset: -1 };
    case "int8":
      return { ...base, bytesPerToken: C + dr + 8, latentElemBytes: 1, latentScaleOffset: C, latentScales: 1, ropeOffset: C + 4, ropeElemBytes: 1, ropeScaleOffset: C + 4 + dr };
    case "fp8_e4m3":
      return { ...fp8Record(C, dr), ...base, quantiser: FP8_E4M3_QUANTISER };
    case "fp8_e4m3_v32": {
      if (C % FP8_TILE !== 0) throw new CacheError("kv_lora_rank", C, `a multiple of ${FP8_TILE} for format fp8_e4m3_v32 (act_quant quantises whole 128-value groups)`);
      if (scaleFmt !== null && scaleFmt !== "ue8m0") throw new CacheError("scale_fmt", scaleFmt, 'null or "ue8m0" for format fp8_e4m3_v32 (a DeepSeek-V3.2 config\'s scale_fmt)');
      return { ...fp8Record(C, dr), ...base, quantiser: { rule: FP8_E4M3_V32_RULE, scaleFmt } };
    }
  }
}

/** [c e4m3 x C][ceil(C/128) f32 scales][pe bf16 x dr], the two fp8 formats' record. */
function fp8Record(C: number, dr: number) {
  const tiles = Math.ceil(C / FP8_TILE);
  return { bytesPerToken: C + 4 * tiles + 2 * dr, latentElemBytes: 1, latentScaleOffset: C, latentScales: tiles, ropeOffset: C + 4 * tiles, ropeElemBytes: 2, ropeScaleOffset: -1 };
}
