// The benchmarked layer's config (the preset at batch 1), the memory its weights and caches take
// in a weight format, and the page's budgets for them, shared by the page (which presets fit) and
// the decode worker (which builds the layer and decides whether the naive path runs).
import { type MlaConfig, type WeightFormat, mlaWeightShapes, preset, validateConfig, weightBytesPerElement } from "mlakit";

export function benchConfig(name: string): MlaConfig {
  return validateConfig({ ...preset(name), max_batch_size: 1 });
}

/** Weights the worker may hold in their format: the drawn weights and the backend's packed copy are each about this size. */
export const WEIGHT_BUDGET = 200e6;
/** The naive path's per-head K/V cache (float32) above this is skipped: at DeepSeek-V3's 128 heads it takes 1.3 MB per token. */
export const NAIVE_CACHE_BUDGET = 256 * 2 ** 20;

function weightElements(cfg: MlaConfig): number {
  return Object.values(mlaWeightShapes(cfg)).reduce((n, s) => n + (s as number[]).reduce((a, b) => a * b, 1), 0);
}

/**
 * Bytes of the layer's weights on a backend: in their format on the WASM core (codes and scales);
 * the float64 reference dequantises every format to 8 bytes a weight.
 */
export function weightBytes(cfg: MlaConfig, format: WeightFormat, reference = false): number {
  return weightElements(cfg) * (reference ? 8 : weightBytesPerElement(format));
}

/** The naive path's cache at `context` tokens: H heads of K (qk) and V (dv) floats per token. */
export function naiveCacheBytes(cfg: MlaConfig, context: number): number {
  return context * cfg.n_heads * (cfg.qk_nope_head_dim + cfg.qk_rope_head_dim + cfg.v_head_dim) * 4;
}
