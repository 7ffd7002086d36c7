// The latent KV cache: formats, codecs, paging, rollback and sharing, persistence, accuracy.
export * from "./layout.js";
export { encodeTokens, decodeTokens } from "./codecs.js";
export { bf16FromF32Bits, f32BitsFromBf16, f16FromF32Bits, f32BitsFromF16, e4m3FromF32Bits, E4M3_VALUES, E4M3_MAX } from "./scalar.js";
export * from "./bounds.js";
export { BlockPool } from "./pool.js";
export { LatentCache, type LatentCacheOptions, type CacheWrite } from "./latent-cache.js";
export { pagedAttend, type PagedAttendArgs } from "./paged-attention.js";
export { CachedMla } from "./cached-mla.js";
export { saveCache, loadCache, type LoadExpectations, CACHE_FILE_MAGIC, CACHE_FILE_VERSION } from "./persist.js";
export { crc32 } from "./crc32.js";
export * from "./accuracy.js";
