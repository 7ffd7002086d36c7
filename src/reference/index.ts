// The oracle's public surface.
import type { Backend } from "../backend.js";
import { ReferenceMla } from "./mla.js";
import { ReferenceDsa } from "./dsa/layer.js";

export * from "./mla.js";
export * from "./attention.js";
export * from "./paged-attention.js";
export * from "./baselines.js";
export * from "./seed-lowrank.js";
export * from "./counter.js";
export { linear } from "./linear.js";
export { rmsNorm } from "./rmsnorm.js";
export { softmaxInPlace } from "./softmax.js";
export { applyRope, interleavedToHalf } from "./rope.js";
export * from "./dsa/index.js";

export const referenceBackend: Backend = {
  name: "reference",
  precision: "float64",
  createMla: (config, weights, { path }) => new ReferenceMla(config, weights, { path }),
  createDsa: (config, weights) => new ReferenceDsa(config, weights),
};
