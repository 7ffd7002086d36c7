// The kernel-level MLA decode API (FlashMLA's flash_mla_with_kvcache): arguments, the float64
// oracle, the WASM kernel and the vectors export for other backends' kernels.
export * from "./args.js";
export * from "./mla-decode.js";
export * from "./wasm.js";
export * from "./vectors.js";
