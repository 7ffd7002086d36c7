// The WASM backend's browser-safe surface. Node loading (files, the relaxed-simd flag): ./node.js.
export * from "./loader.js";
export * from "./arena.js";
export * from "./kernels.js";
export * from "./row-store.js";
export * from "./mla-layer.js";
export * from "./backend.js";
export * from "./edge.js";
export * from "./paged-cache.js";
export * from "./codecs.js";
export * from "./baseline-layers.js";
export * from "./decode-cases.js";
