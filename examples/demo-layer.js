// @ts-check
// The examples' one MLA layer and its sessions, shared by the Worker, the Deno and the Bun script.
// DeepSeek-V2-Lite's attention geometry (16 heads, latent C 512, rope key dr 64, dn 128, dv 128)
// with a small model dim and seeded weights, so it deploys without downloading a checkpoint.
// Each session owns one absorbed-path layer: its cache holds only the latent c_KV and the rope
// key per token, (C + dr) numbers, and each step returns the next attention output.
import { CacheError, PRESETS, Rng, ShapeError, makeConfig, mlaWeightShapes } from "mlakit";

export const DEMO_CONFIG = makeConfig({
  ...PRESETS["deepseek-v2-lite"], // 16 heads, Q 0, C 512, dn 128, dr 64, dv 128
  dim: 256,
  max_seq_len: 2048,
  max_batch_size: 1,
  original_seq_len: 4096, // >= max_seq_len: YaRN off, plain RoPE
  n_layers: 1, // one layer: whole-model figures of this demo are per layer
});

/**
 * Seeded demo weights. Uniform draws (integer RNG, one multiply-add) give the same float32
 * numbers in every engine; U(-a, a) with a = sqrt(3/in) has the variance 1/in of N(0, 1/in).
 * @param {number} [seed]
 */
export function demoWeights(seed = 1) {
  const rng = new Rng(seed);
  /** @type {Record<string, Float32Array>} */
  const w = {};
  for (const [name, shape] of Object.entries(mlaWeightShapes(DEMO_CONFIG))) {
    if (!shape) continue;
    const n = shape.reduce((a, b) => a * b, 1);
    const a = Math.sqrt(3 / shape[shape.length - 1]);
    const t = new Float32Array(n);
    for (let i = 0; i < n; i++) t[i] = name.endsWith("_norm") ? rng.uniform(0.6, 1.4) : rng.uniform(-a, a);
    w[name] = t;
  }
  return /** @type {import("mlakit").MlaWeights} */ (/** @type {unknown} */ (w));
}

/**
 * A stand-in for an embedding table: token id -> hidden state [dim] (deterministic).
 * @param {number} token
 */
export function tokenVector(token) {
  if (!Number.isInteger(token) || token < 0) throw new ShapeError("token", token, "a non-negative integer");
  const rng = new Rng(0x9e3779b9 ^ token);
  const x = new Float32Array(DEMO_CONFIG.dim);
  for (let i = 0; i < x.length; i++) x[i] = rng.uniform(-1.7, 1.7);
  return x;
}

/**
 * Cache bytes, from the config: (C + dr) numbers per token of the absorbed path.
 * @param {import("mlakit").MlaConfig} cfg @param {number} tokens @param {number} bytesPerNumber 4 (float32) or 8
 */
export function latentCacheBytes(cfg, tokens, bytesPerNumber) {
  return (cfg.kv_lora_rank + cfg.qk_rope_head_dim) * bytesPerNumber * tokens;
}

/** Sessions keyed by id, each with its own layer (its latent cache); least recently used evicted past `maxSessions`. */
export class Sessions {
  /** @param {import("mlakit").Backend} backend @param {import("mlakit").MlaWeights} weights @param {{ maxSessions: number }} o */
  constructor(backend, weights, o) {
    this.backend = backend;
    this.weights = weights;
    this.maxSessions = o.maxSessions;
    /** @type {Map<string, import("mlakit").AttentionLayer>} */
    this.layers = new Map();
  }

  /**
   * Append one token to session `id` and return the attention output for it.
   * @param {string} id @param {ArrayLike<number>} x [dim]
   */
  async step(id, x) {
    let layer = this.layers.get(id);
    if (!layer) {
      if (this.layers.size >= this.maxSessions) this.end(/** @type {string} */ (this.layers.keys().next().value));
      layer = await this.backend.createMla(DEMO_CONFIG, this.weights, { path: "absorbed" });
    }
    this.layers.delete(id);
    this.layers.set(id, layer); // most recently used last
    const position = layer.cache.length(0);
    if (position >= DEMO_CONFIG.max_seq_len) {
      throw new CacheError(`sessions[${JSON.stringify(id)}].position`, position, `< max_seq_len (${DEMO_CONFIG.max_seq_len}); end the session to start over`);
    }
    const output = layer.forward(x, { batch: 1, seqlen: 1, startPos: position });
    return { session: id, position, output: Array.from(output), bytesPerToken: layer.cache.bytesPerToken(), cacheBytes: layer.cache.bytesInUse() };
  }

  /** @param {string} id */
  end(id) {
    const layer = this.layers.get(id);
    if (!layer) return false;
    layer.dispose();
    this.layers.delete(id);
    return true;
  }
}
