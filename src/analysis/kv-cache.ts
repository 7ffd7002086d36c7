// KV-cache size per token for every scheme the project compares (DeepSeek-V2 paper, Table 1:
// elements per token per layer). Baselines use the paper's per-head d_h = qk_nope_head_dim.

import type { MlaConfig } from "../config.js";

export const KV_SCHEMES = ["mha", "gqa", "mqa", "mla", "mlaNaiveCache", "seedPerHead"] as const;
export type KvScheme = (typeof KV_SCHEMES)[number];

export interface KvSchemeOptions {
  /** GQA groups n_g (default 8). */
  groups?: number;
  /** The seed text's per-head rank r (default 8). */
  seedRank?: number;
}

/** Elements cached per token per layer. */
export function kvElementsPerTokenPerLayer(cfg: MlaConfig, scheme: KvScheme, opts: KvSchemeOptions = {}): number {
  const H = cfg.n_heads, dh = cfg.qk_nope_head_dim;
  switch (scheme) {
    case "mha":
      return 2 * H * dh; // K and V, every head
    case "gqa":
      return 2 * (opts.groups ?? 8) * dh;
    case "mqa":
      return 2 * dh;
    case "mla":
      return cfg.kv_lora_rank + cfg.qk_rope_head_dim; // d_c + d_h^R
    case "mlaNaiveCache":
      return H * (cfg.qk_nope_head_dim + cfg.qk_rope_head_dim + cfg.v_head_dim); // decompressed K (with k_pe per head) and V
    case "seedPerHead":
      return 2 * H * (opts.seedRank ?? 8); // r values per head for K and for V
  }
}
