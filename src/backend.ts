// A backend is a factory of layers that implement the one interface (src/layer.ts). The CLI's
// --backend flag, `verify` and the conformance kit take a Backend, so they work for any of them.

import type { MlaConfig } from "./config.js";
import type { AttentionLayer, ForwardOptions, Tensor } from "./layer.js";
import type { MlaWeights } from "./weights.js";
import type { DsaWeights } from "./io/dsa-weights.js";
import type { DsaTrace } from "./reference/dsa/layer.js";

export type MlaLayerPath = "naive" | "absorbed";

export interface Backend {
  readonly name: string;
  /** Float precision the backend computes in; decides the tolerance `verify` applies. */
  readonly precision: "float64" | "float32";
  /**
   * Float weights. A backend that also takes quantised projections (QuantisedWeight of
   * src/weight-formats.ts: the reference, which dequantises them exactly, and the WASM backend)
   * widens the parameter to MlaWeights | MlaWeightsInput; checkBackend's weightFormat option needs that.
   */
  createMla(config: MlaConfig, weights: MlaWeights, options: { path: MlaLayerPath }): AttentionLayer | Promise<AttentionLayer>;
  /**
   * A DeepSeek-V3.2 layer (MLA + the lightning indexer's sparse attention), where the backend has
   * one. options.cacheFormat names the backend's latent record; "f32" asks for the official float32
   * run's caches (the dequantised latent and k_pe in float32), which `verify` uses on float32 backends.
   */
  createDsa?(config: MlaConfig, weights: DsaWeights, options?: { cacheFormat?: string }): DsaLayer | Promise<DsaLayer>;
}

/** A DeepSeek-V3.2 layer: a forward, and forwardTrace returning every intermediate the official vectors dump. */
export interface DsaLayer extends AttentionLayer {
  forwardTrace(x: ArrayLike<number>, opts: ForwardOptions): { output: Tensor; trace: DsaTrace };
}
