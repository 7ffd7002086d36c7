// mlakit/internal: every module's exports, as the library's own code and tools use them (chart
// palettes, number formatting, codec bit tricks, error-bound constants, kernel-level WASM, ...).
// UNSTABLE: names here may change or go in any release. The supported surface is "mlakit"
// (src/index.ts), which this entry includes. Browser-safe like the main entry.
export * from "./errors.js";
export * from "./config.js";
export * from "./derived.js";
export * from "./layer.js";
export * from "./backend.js";
export * from "./weights.js";
export * from "./numerics.js";
export * from "./verify.js";
export * from "./io/mla-vectors.js";
export * from "./io/hf-vectors.js";
export * from "./reference/index.js";
// The cost model (browser-safe: the web page draws its tables and charts from these).
export * from "./analysis/kv-cache.js";
export * from "./analysis/formats.js";
export * from "./analysis/work.js";
export * from "./analysis/cost.js";
export * from "./analysis/roofline.js";
export * from "./analysis/seed.js";
export * from "./analysis/analyze.js";
export * from "./analysis/bench-results.js";
export * from "./analysis/charts.js";
export * from "./analysis/svg.js";
export * from "./analysis/units.js";
export * from "./analysis/cache-accuracy.js";
export * from "./io/safetensors.js";
export * from "./io/hf-names.js";
export * from "./io/mla-safetensors.js";
// The WASM core, browser-safe part (bytes in, layers out); Node file loading stays in src/wasm/node.ts.
export * from "./wasm/index.js";
export * from "./io/mla-vectors-writer.js";
export * from "./io/mla-vectors-external.js";
// The latent KV cache: storage formats, codecs, paging, fork/truncate, persistence (its accuracy table is analysis/cache-accuracy.ts).
export * from "./cache/index.js";
