// mlakit's public entry point (browser-safe: no Node built-ins on this path).
export * from "./errors.js";
export * from "./config.js";
export * from "./layer.js";
export * from "./backend.js";
export * from "./weights.js";
export * from "./numerics.js";
export * from "./verify.js";
export * from "./io/mla-vectors.js";
export * from "./reference/index.js";
export * from "./conformance/index.js";
