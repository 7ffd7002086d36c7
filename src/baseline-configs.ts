// The configs of the baselines run beside MLA (MHA/GQA/MQA and the seed text's per-head low-rank
// scheme): fields, validation, weight shapes and RoPE frequencies, apart from the oracle so the
// cost model and the WASM layers use them without importing it.

import type { RopeLayout } from "./config.js";
import { ropeFrequencies } from "./derived.js";
import { ConfigError } from "./errors.js";

export interface MhaConfig {
  /** D: model dimension. */
  dim: number;
  /** Query heads. */
  n_heads: number;
  /** Key/value heads: n_heads (MHA), a divisor (GQA), 1 (MQA). */
  n_kv_heads: number;
  /** Per-head query/key width. */
  head_dim: number;
  /** Per-head value width. */
  v_head_dim: number;
  /** Trailing elements of each q/k head that RoPE rotates (even, <= head_dim; 0 = no rope). */
  rope_dim: number;
  rope_theta: number;
  rope_layout: RopeLayout;
  max_seq_len: number;
  max_batch_size: number;
}

export interface SeedLowRankConfig extends MhaConfig {
  /** r: latent values cached per head per token, for K and for V each. */
  rank: number;
}


export interface MhaWeights {
  /** [H*head_dim, D] */ wq: ArrayLike<number>;
  /** [Hkv*head_dim, D] */ wk: ArrayLike<number>;
  /** [Hkv*v_head_dim, D] */ wv: ArrayLike<number>;
  /** [D, H*v_head_dim] */ wo: ArrayLike<number>;
}

export interface SeedLowRankWeights extends MhaWeights {
  /** [head_dim, r] */ w_comp_k: ArrayLike<number>;
  /** [r, head_dim] */ w_decomp_k: ArrayLike<number>;
  /** [v_head_dim, r] */ w_comp_v: ArrayLike<number>;
  /** [r, v_head_dim] */ w_decomp_v: ArrayLike<number>;
}

export function validateMhaConfig(cfg: MhaConfig, prefix = "mha."): MhaConfig {
  const c = cfg as unknown as Record<string, unknown>;
  for (const f of ["dim", "n_heads", "n_kv_heads", "head_dim", "v_head_dim", "max_seq_len", "max_batch_size"]) {
    const v = c[f];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new ConfigError(prefix + f, v, "a positive integer");
  }
  if (cfg.n_heads % cfg.n_kv_heads !== 0) throw new ConfigError(prefix + "n_kv_heads", cfg.n_kv_heads, `a divisor of n_heads (${cfg.n_heads})`);
  if (!Number.isInteger(cfg.rope_dim) || cfg.rope_dim < 0 || cfg.rope_dim % 2 !== 0 || cfg.rope_dim > cfg.head_dim) {
    throw new ConfigError(prefix + "rope_dim", cfg.rope_dim, `an even integer in 0..head_dim (${cfg.head_dim})`);
  }
  if (!(cfg.rope_theta > 1)) throw new ConfigError(prefix + "rope_theta", cfg.rope_theta, "a finite number > 1");
  if (cfg.rope_layout !== "interleaved" && cfg.rope_layout !== "half") throw new ConfigError(prefix + "rope_layout", cfg.rope_layout, '"interleaved" or "half"');
  return cfg;
}

export function validateSeedConfig(cfg: SeedLowRankConfig): SeedLowRankConfig {
  validateMhaConfig(cfg, "seed.");
  if (!Number.isInteger(cfg.rank) || cfg.rank < 1) throw new ConfigError("seed.rank", cfg.rank, "a positive integer");
  return cfg;
}

export function mhaWeightShapes(cfg: MhaConfig): Record<keyof MhaWeights, number[]> {
  const { dim: D, n_heads: H, n_kv_heads: G, head_dim: hd, v_head_dim: dv } = cfg;
  return { wq: [H * hd, D], wk: [G * hd, D], wv: [G * dv, D], wo: [D, H * dv] };
}

export function seedWeightShapes(cfg: SeedLowRankConfig): Record<keyof SeedLowRankWeights, number[]> {
  const r = cfg.rank;
  return { ...mhaWeightShapes(cfg), w_comp_k: [cfg.head_dim, r], w_decomp_k: [r, cfg.head_dim], w_comp_v: [cfg.v_head_dim, r], w_decomp_v: [r, cfg.v_head_dim] };
}

export function mhaKind(cfg: Pick<MhaConfig, "n_heads" | "n_kv_heads">): "mha" | "gqa" | "mqa" {
  return cfg.n_kv_heads === cfg.n_heads ? "mha" : cfg.n_kv_heads === 1 ? "mqa" : "gqa";
}

/** Plain RoPE frequencies theta^(-2i/rope_dim) (no YaRN for the baselines). */
export function mhaFrequencies(cfg: MhaConfig): Float64Array {
  if (cfg.rope_dim === 0) return new Float64Array(0);
  return ropeFrequencies({ qk_rope_head_dim: cfg.rope_dim, rope_theta: cfg.rope_theta, max_seq_len: 1, original_seq_len: 1, rope_factor: 1, beta_fast: 32, beta_slow: 1 });
}
