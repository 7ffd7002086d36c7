// The configs of the baselines the oracle runs beside MLA (MHA/GQA/MQA and the seed text's per-head
// low-rank scheme), apart from the oracle so the cost model can describe them without importing it.

import type { RopeLayout } from "./config.js";

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

