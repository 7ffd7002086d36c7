// KV-cache size per token for every scheme the project compares (DeepSeek-V2 paper, Table 1:
// elements per token per layer). Baselines use the paper's per-head d_h = qk_nope_head_dim.

import type { DsaConfig, MlaConfig } from "../config.js";
import { ConfigError } from "../errors.js";
import { type CacheFormat, streamBytes, tokenBytes } from "./formats.js";

export const KV_SCHEMES = ["mha", "gqa", "mqa", "mla", "mlaNaiveCache", "seedPerHead"] as const;
export type KvScheme = (typeof KV_SCHEMES)[number];

export interface KvSchemeOptions {
  /** GQA groups n_g (default: the largest divisor of n_heads that is <= 8). */
  groups?: number;
  /** The seed text's per-head rank r (default 8, the middle of its 4..16). */
  seedRank?: number;
}

export const DEFAULT_SEED_RANK = 8;

/** Largest divisor of H not above 8 (8 for every DeepSeek preset): GQA needs n_g | H. */
export function defaultGroups(H: number): number {
  for (let g = Math.min(8, H); g > 1; g--) if (H % g === 0) return g;
  return 1;
}

export function resolveSchemeOptions(cfg: Pick<MlaConfig, "n_heads">, opts: KvSchemeOptions = {}): Required<KvSchemeOptions> {
  const groups = opts.groups ?? defaultGroups(cfg.n_heads);
  const seedRank = opts.seedRank ?? DEFAULT_SEED_RANK;
  if (!Number.isInteger(groups) || groups < 1 || cfg.n_heads % groups !== 0) throw new ConfigError("groups", groups, `a divisor of n_heads (${cfg.n_heads})`);
  if (!Number.isInteger(seedRank) || seedRank < 1) throw new ConfigError("seedRank", seedRank, "a positive integer");
  return { groups, seedRank };
}

/** Elements cached per token per layer. */
export function kvElementsPerTokenPerLayer(cfg: MlaConfig, scheme: KvScheme, opts: KvSchemeOptions = {}): number {
  const H = cfg.n_heads, dh = cfg.qk_nope_head_dim;
  const { groups, seedRank } = resolveSchemeOptions(cfg, opts);
  switch (scheme) {
    case "mha":
      return 2 * H * dh; // K and V, every head
    case "gqa":
      return 2 * groups * dh;
    case "mqa":
      return 2 * dh;
    case "mla":
      return cfg.kv_lora_rank + cfg.qk_rope_head_dim; // d_c + d_h^R
    case "mlaNaiveCache":
      return H * (cfg.qk_nope_head_dim + cfg.qk_rope_head_dim + cfg.v_head_dim); // decompressed K (with k_pe per head) and V
    case "seedPerHead":
      return 2 * H * seedRank; // r values per head for K and for V
  }
}

/** The streams a scheme caches per token per layer (K and V; MLA: latent and rope key), widths in elements. */
export function kvStreams(cfg: MlaConfig, scheme: KvScheme, opts: KvSchemeOptions = {}): number[] {
  const H = cfg.n_heads, dh = cfg.qk_nope_head_dim;
  const { groups, seedRank } = resolveSchemeOptions(cfg, opts);
  switch (scheme) {
    case "mha":
      return [H * dh, H * dh];
    case "gqa":
      return [groups * dh, groups * dh];
    case "mqa":
      return [dh, dh];
    case "mla":
      return [cfg.kv_lora_rank, cfg.qk_rope_head_dim];
    case "mlaNaiveCache":
      return [H * (cfg.qk_nope_head_dim + cfg.qk_rope_head_dim), H * cfg.v_head_dim];
    case "seedPerHead":
      return [H * seedRank, H * seedRank];
  }
}

/** Bytes per token per layer in a storage format (formats.ts): only MLA's latent cache has a bf16 rope part under fp8. */
export function kvBytesPerTokenPerLayer(cfg: MlaConfig, scheme: KvScheme, format: CacheFormat, opts: KvSchemeOptions = {}): number {
  if (scheme === "mla") return tokenBytes(format, cfg.kv_lora_rank, cfg.qk_rope_head_dim);
  return streamBytes(format, kvStreams(cfg, scheme, opts));
}

export interface KvCacheFigures {
  elementsPerTokenPerLayer: number;
  bytesPerTokenPerLayer: number;
  /** bytesPerTokenPerLayer * n_layers. */
  bytesPerToken: number;
  /** bytesPerToken * context * batch. */
  totalBytes: number;
  /** Elements relative to MLA's latent cache. */
  vsMla: number;
}

export function kvCacheFigures(cfg: MlaConfig, scheme: KvScheme, o: { format: CacheFormat; context: number; batch: number } & KvSchemeOptions): KvCacheFigures {
  const e = kvElementsPerTokenPerLayer(cfg, scheme, o);
  const b = kvBytesPerTokenPerLayer(cfg, scheme, o.format, o);
  return {
    elementsPerTokenPerLayer: e,
    bytesPerTokenPerLayer: b,
    bytesPerToken: b * cfg.n_layers,
    totalBytes: b * cfg.n_layers * o.context * o.batch,
    vsMla: e / kvElementsPerTokenPerLayer(cfg, "mla"),
  };
}

export function kvCacheTable(cfg: MlaConfig, o: { format: CacheFormat; context: number; batch: number } & KvSchemeOptions): Record<KvScheme, KvCacheFigures> {
  return Object.fromEntries(KV_SCHEMES.map((s) => [s, kvCacheFigures(cfg, s, o)])) as Record<KvScheme, KvCacheFigures>;
}

// ---------------------------------------------------------------------------------------------
// DeepSeek-V3.2's index key cache, beside the latent (whatever the latent's format)

/** Bytes of one index key scale: act_quant's float32 scale, one per 128 values. */
export const INDEX_KEY_SCALE_BYTES = 4;

/** Elements of one token's index key per layer: index_head_dim e4m3 values + one scale per 128. */
export function indexKeyElementsPerTokenPerLayer(cfg: DsaConfig): number {
  return cfg.index_head_dim + cfg.index_head_dim / 128;
}

/** Bytes of one token's index key per layer: 1 per e4m3 value + 4 per float32 scale (132 at index_head_dim 128). */
export function indexKeyBytesPerTokenPerLayer(cfg: DsaConfig): number {
  return cfg.index_head_dim + INDEX_KEY_SCALE_BYTES * (cfg.index_head_dim / 128);
}
