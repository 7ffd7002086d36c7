// The latent KV cache: formats, codecs and their error bounds, paging, rollback and sharing, persistence.
// It stores and accounts and computes no attention: the oracle's pagedAttend and the WASM kernel
// attend over it, and its accuracy table is the analysis side's (src/analysis/cache-accuracy.ts).
export * from "./layout.js";
export { encodeTokens, decodeTokens } from "./codecs.js";
export { FP8_RULES, type Fp8Rule, type Fp8Quantiser, fp8Scale, fp8QuantiseGroup } from "./fp8-rules.js";
export { type IndexKeyLayout, type BlockLayout, indexKeyLayout, blockLayout, encodeIndexKeys, decodeIndexKeys } from "./index-keys.js";
export { bf16FromF32Bits, f32BitsFromBf16, f16FromF32Bits, f32BitsFromF16, e4m3FromF32Bits, E4M3_VALUES, E4M3_MAX } from "./scalar.js";
export * from "./bounds.js";
export { BlockPool } from "./pool.js";
export { LatentCache, type LatentCacheOptions, type CacheWrite, type Placement } from "./latent-cache.js";
export { saveCache, loadCache, type LoadExpectations, CACHE_FILE_MAGIC, CACHE_FILE_VERSION } from "./persist.js";
export { crc32 } from "./crc32.js";
