// @ts-check
// One absorbed decode step at DeepSeek's attention geometry (H 16, C 512, dr 64, dn 128, dv 128, as
// V2-Lite; YaRN on, factor 40, mscale 0.707) with a small model dim so the weights fit in any
// runtime. Built identically in every engine: Rng.next is integer math and `uniform` is one
// multiply and one add (IEEE-exact everywhere); Rng.normal would use log/cos, whose last bit
// differs between V8 and JavaScriptCore, so it is avoided here.

/** The config (official ModelArgs names). */
export const DECODE_CONFIG = Object.freeze({
  dim: 192,
  n_heads: 16,
  q_lora_rank: 96,
  kv_lora_rank: 512,
  qk_nope_head_dim: 128,
  qk_rope_head_dim: 64,
  v_head_dim: 128,
  max_seq_len: 8192,
  max_batch_size: 1,
  original_seq_len: 4096,
  rope_theta: 10000,
  rope_factor: 40,
  beta_fast: 32,
  beta_slow: 1,
  mscale: 0.707,
  rope_layout: "interleaved",
  n_layers: 27,
});

/** Tokens cached before the step; the step is at position PREFILL. */
export const PREFILL = 40;
/** The threaded check's longer context: four 64-key ranges (the last partial), so split-KV has parts to combine. */
export const PREFILL_THREADS = 200;
const SEED = 20261128;

/**
 * @param {typeof import("../../dist/index.js")} lib mlakit (whichever copy the runtime loaded)
 * @param {number} [prefillTokens] tokens before the step (PREFILL, or PREFILL_THREADS)
 * @returns {{ config: import("../../dist/index.js").MlaConfig, weights: import("../../dist/index.js").MlaWeights, prefill: Float32Array, step: Float32Array }}
 */
export function decodeCase(lib, prefillTokens = PREFILL) {
  const config = lib.makeConfig({ ...DECODE_CONFIG });
  const rng = new lib.Rng(SEED);
  /** @type {Record<string, Float32Array>} */
  const weights = {};
  const shapes = lib.mlaWeightShapes(config);
  for (const [name, shape] of Object.entries(shapes)) {
    if (!shape) continue;
    const n = shape.reduce((a, b) => a * b, 1);
    const w = new Float32Array(n);
    if (name.endsWith("_norm")) for (let i = 0; i < n; i++) w[i] = rng.uniform(0.6, 1.4);
    else {
      // U(-a, a) with a = sqrt(3/in) has the variance 1/in of the official vectors' N(0, 1/in).
      const a = Math.sqrt(3 / shape[shape.length - 1]);
      for (let i = 0; i < n; i++) w[i] = rng.uniform(-a, a);
    }
    weights[name] = w;
  }
  const input = (/** @type {number} */ n) => {
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = rng.uniform(-1.7, 1.7); // variance ~1, like normed hidden states
    return x;
  };
  const prefill = input(prefillTokens * config.dim);
  const step = input(config.dim);
  return { config, weights: /** @type {any} */ (weights), prefill, step };
}
