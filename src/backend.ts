// A backend is a factory of layers that implement the one interface (src/layer.ts). The CLI's
// --backend flag, `verify` and the conformance kit take a Backend, so they work for any of them.

import type { MlaConfig } from "./config.js";
import type { AttentionLayer } from "./layer.js";
import type { MlaWeights } from "./weights.js";

export type MlaLayerPath = "naive" | "absorbed";

export interface Backend {
  readonly name: string;
  /** Float precision the backend computes in; decides the tolerance `verify` applies. */
  readonly precision: "float64" | "float32";
  createMla(config: MlaConfig, weights: MlaWeights, options: { path: MlaLayerPath }): AttentionLayer | Promise<AttentionLayer>;
}
