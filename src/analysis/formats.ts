// Bytes per cached token for each storage format of the latent cache (src/cache/layout.ts formats),
// written from their definitions here, not imported from src/cache; test/analysis cross-checks the
// two. A cached token is made of streams (MLA: the latent c and the rope key k_pe; the baselines and
// the seed scheme: K and V).
//
// - f32 / bf16 / f16: 4 / 2 / 2 bytes per value.
// - int8: 1 byte per value plus one float32 absmax scale per stream of the token (src/cache keeps one
//   for the latent and one for the rope part: 512 + 4 + 64 + 4 = 584 bytes for C 512, dr 64).
// - fp8: FlashMLA's e4m3 cache layout for MLA: C e4m3 latent bytes, one float32 scale per 128
//   latent values (ceil(C/128) of them), then dr rope values kept in bf16. For C = 512, dr = 64:
//   512 + 4*4 + 64*2 = 656 bytes (FlashMLA README and its tests). Schemes without a
//   rope part are stored as e4m3 with the same one-scale-per-128-values rule per stream.

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

/** Bytes per token of MLA's latent cache: `latent` values (quantised) and `rope` values (fp8 keeps them in bf16). */
export function tokenBytes(format: CacheFormat, latent: number, rope = 0): number {
  switch (format) {
    case "f32":
      return F32 * (latent + rope);
    case "bf16":
    case "f16":
      return BF16 * (latent + rope);
    case "int8":
      return latent + SCALE + (rope > 0 ? rope + SCALE : 0); // one absmax scale per part
    case "fp8":
      return latent + SCALE * Math.ceil(latent / FP8_SCALE_GROUP) + BF16 * rope;
  }
}

/** Bytes per token of a cache made of plain streams (K and V, ...) of the given widths. */
export function streamBytes(format: CacheFormat, widths: readonly number[]): number {
  let n = 0;
  for (const w of widths) {
    if (w <= 0) continue;
    n += format === "f32" ? F32 * w : format === "int8" ? w + SCALE : format === "fp8" ? w + SCALE * Math.ceil(w / FP8_SCALE_GROUP) : BF16 * w;
  }
  return n;
}

/** Bytes per element of a dense (unquantised) format; weights and activations use these. */
export function denseBytes(format: "f32" | "bf16" | "f16"): number {
  return format === "f32" ? F32 : BF16;
}
