// Bytes per cached token for each storage format of the latent cache (the cache issue's formats),
// written from their definitions here, not imported from src/cache, so the two can cross-check.
//
// - f32 / bf16 / f16: 4 / 2 / 2 bytes per value.
// - int8: 1 byte per value plus one float32 absmax scale per token (per layer).
// - fp8: FlashMLA's e4m3 cache layout for MLA: C e4m3 latent bytes, one float32 scale per 128
//   latent values (ceil(C/128) of them), then dr rope values kept in bf16. For C = 512, dr = 64:
//   512 + 4*4 + 64*2 = 656 bytes (FlashMLA README / its tests; the cache issue). Schemes without a
//   separate rope part (MHA, GQA, MQA, the naive decompressed cache, the seed scheme) are stored as
//   plain e4m3 with the same one-scale-per-128-values rule.

import { ConfigError } from "../errors.js";

export const CACHE_FORMATS = ["f32", "bf16", "f16", "int8", "fp8"] as const;
export type CacheFormat = (typeof CACHE_FORMATS)[number];

/** Latent values sharing one float32 scale in the fp8 layout (FlashMLA's tile). */
export const FP8_SCALE_GROUP = 128;
const F32 = 4, BF16 = 2, SCALE = 4;

export function checkFormat(format: string, field = "format"): CacheFormat {
  if (!(CACHE_FORMATS as readonly string[]).includes(format)) throw new ConfigError(field, format, `one of ${CACHE_FORMATS.join(", ")}`);
  return format as CacheFormat;
}

/**
 * Bytes per token for a cached token made of `quantised` values (the latent, or every value of a
 * scheme without a rope part) and `rope` values that FlashMLA's fp8 layout keeps in bf16.
 */
export function tokenBytes(format: CacheFormat, quantised: number, rope = 0): number {
  const n = quantised + rope;
  switch (format) {
    case "f32":
      return F32 * n;
    case "bf16":
    case "f16":
      return BF16 * n;
    case "int8":
      return n + SCALE; // one absmax scale per token
    case "fp8":
      return quantised + SCALE * Math.ceil(quantised / FP8_SCALE_GROUP) + BF16 * rope;
  }
}

/** Bytes per element of a dense (unquantised) format; weights and activations use these. */
export function denseBytes(format: "f32" | "bf16" | "f16"): number {
  return format === "f32" ? F32 : BF16;
}
