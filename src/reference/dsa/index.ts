// DeepSeek-V3.2 sparse attention in the oracle: the layer, its steps, and the formats it emulates.
export * from "./layer.js";
export * from "./indexer.js";
export * from "./quant.js";
export * from "./hadamard.js";
export * from "./layernorm.js";
export * from "./topk.js";
