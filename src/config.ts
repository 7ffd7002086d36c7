// MlaConfig: every field of DeepSeek's official `ModelArgs` (inference/model.py) that MLA uses,
// under the official names so a reader can hold this file next to model.py. Also: presets with
// the official values, import from the official config JSON and from a Hugging Face config.json,
// and validation that throws a ConfigError naming the field, the value and the expectation.

import { ConfigError } from "./errors.js";

export type RopeLayout = "interleaved" | "half";

/** One MLA layer's hyper-parameters. Shapes in comments use B, s, H, D, Q, C, dn, dr, dv. */
export interface MlaConfig {
  /** D: model (hidden) dimension; input and output of the layer are [B, s, D]. */
  dim: number;
  /** H: attention heads. */
  n_heads: number;
  /** Q: rank of the query compression (wq_a: D -> Q, q_norm, wq_b: Q -> H*(dn+dr)). 0 = no compression, one wq: D -> H*(dn+dr). */
  q_lora_rank: number;
  /** C: rank of the KV latent c_KV that is cached (d_c in the paper; 512 in V2/V3). */
  kv_lora_rank: number;
  /** dn: per-head query/key dimension without RoPE (decompressed from the latent). */
  qk_nope_head_dim: number;
  /** dr: per-head dimension of the decoupled RoPE part; the key part (k_pe) is ONE vector shared by all heads. Must be even. */
  qk_rope_head_dim: number;
  /** dv: per-head value dimension. */
  v_head_dim: number;
  /** Longest sequence the layer serves (positions 0..max_seq_len-1). YaRN is on iff max_seq_len > original_seq_len. */
  max_seq_len: number;
  /** Largest batch a layer's cache holds (ModelArgs.max_batch_size). */
  max_batch_size: number;
  /** Context length of pre-training (YaRN's L0). */
  original_seq_len: number;
  /** RoPE base theta: f_i = theta^(-2i/dr). */
  rope_theta: number;
  /** YaRN scale factor s (>= 1 when YaRN is on): low frequencies are divided by it. */
  rope_factor: number;
  /** YaRN beta_fast: rotations above which a frequency is left unchanged. */
  beta_fast: number;
  /** YaRN beta_slow: rotations below which a frequency is fully interpolated. */
  beta_slow: number;
  /** YaRN attention-temperature coefficient: m = 0.1*mscale*ln(rope_factor)+1, softmax scale *= m^2. */
  mscale: number;
  /** Pairing of RoPE elements: "interleaved" (official: (x[2i], x[2i+1])) or "half" (HF rotate_half: (x[i], x[i+dr/2])). mlakit extension. */
  rope_layout: RopeLayout;
  /** Layers in the whole model (ModelArgs.n_layers); used by whole-model cost figures only. */
  n_layers: number;
}

/** Defaults of the official `ModelArgs` dataclass (the fields MLA uses), plus mlakit's rope_layout. */
export const MODEL_ARGS_DEFAULTS: Readonly<MlaConfig> = Object.freeze({
  dim: 2048,
  n_heads: 16,
  q_lora_rank: 0,
  kv_lora_rank: 512,
  qk_nope_head_dim: 128,
  qk_rope_head_dim: 64,
  v_head_dim: 128,
  max_seq_len: 4096 * 4,
  max_batch_size: 8,
  original_seq_len: 4096,
  rope_theta: 10000.0,
  rope_factor: 40,
  beta_fast: 32,
  beta_slow: 1,
  mscale: 1.0,
  rope_layout: "interleaved",
  n_layers: 27,
});

// Presets. Values from the official inference/configs (config_671B, config_236B, config_16B) and the
// models' Hugging Face config.json (max_position_embeddings, rope_scaling); Kimi K2 from
// moonshotai/Kimi-K2-Instruct config.json (64 heads, rope_theta 50000, YaRN factor 32, beta 1/1).
const V3_LIKE = {
  ...MODEL_ARGS_DEFAULTS,
  dim: 7168,
  n_heads: 128,
  q_lora_rank: 1536,
  kv_lora_rank: 512,
  qk_nope_head_dim: 128,
  qk_rope_head_dim: 64,
  v_head_dim: 128,
  max_seq_len: 163840,
  original_seq_len: 4096,
  rope_theta: 10000,
  rope_factor: 40,
  beta_fast: 32,
  beta_slow: 1,
  mscale: 1.0,
  n_layers: 61,
} satisfies MlaConfig;

export const PRESETS = {
  "deepseek-v3": V3_LIKE,
  "deepseek-v2": { ...V3_LIKE, dim: 5120, n_layers: 60, mscale: 0.707 },
  "deepseek-v2-lite": { ...V3_LIKE, dim: 2048, n_heads: 16, q_lora_rank: 0, n_layers: 27, mscale: 0.707 },
  "kimi-k2": {
    ...V3_LIKE,
    n_heads: 64,
    max_seq_len: 131072,
    rope_theta: 50000,
    rope_factor: 32,
    beta_fast: 1,
    beta_slow: 1,
  },
} satisfies Record<string, MlaConfig>;

export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

/** A validated copy of a preset. */
export function preset(name: string): MlaConfig {
  if (!(name in PRESETS)) throw new ConfigError("preset", name, `one of ${PRESET_NAMES.join(", ")}`);
  return validateConfig({ ...PRESETS[name as PresetName] });
}

/** YaRN is a static switch of the official code: on iff max_seq_len > original_seq_len. */
export function yarnEnabled(cfg: Pick<MlaConfig, "max_seq_len" | "original_seq_len">): boolean {
  return cfg.max_seq_len > cfg.original_seq_len;
}

/** dn + dr: the per-head query/key width (MLA.qk_head_dim). */
export function qkHeadDim(cfg: Pick<MlaConfig, "qk_nope_head_dim" | "qk_rope_head_dim">): number {
  return cfg.qk_nope_head_dim + cfg.qk_rope_head_dim;
}

// ---------------------------------------------------------------------------------------------
// Validation

type Check = (v: number) => boolean;
const isPosInt: Check = (v) => Number.isInteger(v) && v > 0;
const isNonNegInt: Check = (v) => Number.isInteger(v) && v >= 0;
const isPosFinite: Check = (v) => Number.isFinite(v) && v > 0;
const isFinite_: Check = (v) => Number.isFinite(v);

function need(cfg: Record<string, unknown>, field: string, ok: Check, expected: string, prefix: string): void {
  const v = cfg[field];
  if (typeof v !== "number" || !ok(v)) throw new ConfigError(`${prefix}${field}`, v, expected);
}

const INT_FIELDS_POSITIVE = [
  "dim",
  "n_heads",
  "kv_lora_rank",
  "qk_nope_head_dim",
  "qk_rope_head_dim",
  "v_head_dim",
  "max_seq_len",
  "max_batch_size",
  "original_seq_len",
  "n_layers",
] as const;

/**
 * Check every field; return the same object typed as MlaConfig. Throws ConfigError on the first
 * bad field (unknown fields too, so a typo such as `n_head` does not silently use a default).
 */
export function validateConfig(cfg: unknown, prefix = "config."): MlaConfig {
  if (typeof cfg !== "object" || cfg === null || Array.isArray(cfg)) {
    throw new ConfigError(prefix.replace(/\.$/, ""), cfg, "an object with MlaConfig fields");
  }
  const c = cfg as Record<string, unknown>;
  for (const key of Object.keys(c)) {
    if (!(key in MODEL_ARGS_DEFAULTS)) {
      throw new ConfigError(`${prefix}${key}`, c[key], `no such field; MlaConfig fields are ${Object.keys(MODEL_ARGS_DEFAULTS).join(", ")}`);
    }
  }
  for (const f of INT_FIELDS_POSITIVE) need(c, f, isPosInt, "a positive integer", prefix);
  need(c, "q_lora_rank", isNonNegInt, "a non-negative integer (0 = no query compression)", prefix);
  if ((c.qk_rope_head_dim as number) % 2 !== 0) {
    throw new ConfigError(`${prefix}qk_rope_head_dim`, c.qk_rope_head_dim, "an even integer (RoPE rotates pairs)");
  }
  need(c, "rope_theta", (v) => Number.isFinite(v) && v > 1, "a finite number > 1", prefix);
  need(c, "rope_factor", isPosFinite, "a finite number > 0", prefix);
  need(c, "beta_fast", isPosFinite, "a finite number > 0", prefix);
  need(c, "beta_slow", isPosFinite, "a finite number > 0", prefix);
  need(c, "mscale", isFinite_, "a finite number", prefix);
  if (c.rope_layout !== "interleaved" && c.rope_layout !== "half") {
    throw new ConfigError(`${prefix}rope_layout`, c.rope_layout, '"interleaved" (official) or "half" (HF rotate_half)');
  }
  const yarn = yarnEnabled(c as unknown as MlaConfig);
  if (yarn) {
    if ((c.rope_factor as number) < 1) {
      throw new ConfigError(`${prefix}rope_factor`, c.rope_factor, "a number >= 1 when YaRN is on (max_seq_len > original_seq_len)");
    }
    if ((c.beta_fast as number) < (c.beta_slow as number)) {
      throw new ConfigError(`${prefix}beta_fast`, c.beta_fast, `a number >= beta_slow (${c.beta_slow as number}) when YaRN is on`);
    }
  }
  return c as unknown as MlaConfig;
}

/** Fill defaults (official ModelArgs) for absent fields, then validate. */
export function makeConfig(partial: Partial<MlaConfig>, prefix = "config."): MlaConfig {
  return validateConfig({ ...MODEL_ARGS_DEFAULTS, ...partial }, prefix);
}

// ---------------------------------------------------------------------------------------------
// Import

/**
 * From an official DeepSeek config JSON (inference/configs/config_*.json): keys are ModelArgs
 * names. Fields MLA does not use (vocab_size, n_routed_experts, ...) are ignored; absent fields
 * take the ModelArgs defaults.
 */
export function fromModelArgs(json: Record<string, unknown>): MlaConfig {
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(MODEL_ARGS_DEFAULTS)) if (key in json) picked[key] = json[key];
  return makeConfig(picked as Partial<MlaConfig>, "ModelArgs.");
}

/**
 * From a Hugging Face config.json (DeepseekV2/V3, Kimi K2). Name mapping:
 * hidden_size -> dim, num_attention_heads -> n_heads, q_lora_rank (null = 0), kv_lora_rank,
 * qk_nope_head_dim, qk_rope_head_dim, v_head_dim, max_position_embeddings -> max_seq_len,
 * rope_theta, num_hidden_layers -> n_layers, rope_scaling {factor -> rope_factor,
 * original_max_position_embeddings -> original_seq_len, beta_fast, beta_slow,
 * mscale_all_dim -> mscale}. HF's softmax scale uses mscale_all_dim, which is what the official
 * code's `mscale` plays; HF's rope `mscale`/`mscale_all_dim` ratio scales cos/sin and is 1 for
 * every released DeepSeek config (mlakit rejects configs where it is not).
 * No rope_scaling: YaRN off (original_seq_len = max_seq_len).
 * `rope_interleave: false` selects the half layout; otherwise the official interleaved one.
 */
export function fromHfConfig(json: Record<string, unknown>): MlaConfig {
  const p = "hf.";
  const num = (key: string): number | undefined => {
    const v = json[key];
    if (v === undefined) return undefined;
    if (typeof v !== "number") throw new ConfigError(`${p}${key}`, v, "a number");
    return v;
  };
  const out: Partial<MlaConfig> = {};
  const map: [keyof MlaConfig, string][] = [
    ["dim", "hidden_size"],
    ["n_heads", "num_attention_heads"],
    ["kv_lora_rank", "kv_lora_rank"],
    ["qk_nope_head_dim", "qk_nope_head_dim"],
    ["qk_rope_head_dim", "qk_rope_head_dim"],
    ["v_head_dim", "v_head_dim"],
    ["max_seq_len", "max_position_embeddings"],
    ["rope_theta", "rope_theta"],
    ["n_layers", "num_hidden_layers"],
  ];
  for (const [ours, theirs] of map) {
    const v = num(theirs);
    if (v !== undefined) (out as Record<string, unknown>)[ours] = v;
  }
  if (json.hidden_size === undefined) throw new ConfigError(`${p}hidden_size`, undefined, "a positive integer");
  if (json.num_attention_heads === undefined) throw new ConfigError(`${p}num_attention_heads`, undefined, "a positive integer");
  out.q_lora_rank = json.q_lora_rank === null || json.q_lora_rank === undefined ? 0 : (num("q_lora_rank") as number);
  if (json.rope_interleave === false) out.rope_layout = "half";
  const rs = json.rope_scaling as Record<string, unknown> | null | undefined;
  if (rs === null || rs === undefined) {
    out.original_seq_len = out.max_seq_len ?? MODEL_ARGS_DEFAULTS.max_seq_len;
  } else {
    if (typeof rs !== "object") throw new ConfigError(`${p}rope_scaling`, rs, "an object or null");
    const kind = rs.type ?? rs.rope_type;
    if (kind !== "yarn") throw new ConfigError(`${p}rope_scaling.type`, kind, '"yarn" (the only scaling DeepSeek MLA uses)');
    const r = (key: string): number | undefined => {
      const v = rs[key];
      if (v === undefined || v === null) return undefined;
      if (typeof v !== "number") throw new ConfigError(`${p}rope_scaling.${key}`, v, "a number");
      return v;
    };
    const factor = r("factor");
    if (factor !== undefined) out.rope_factor = factor;
    const orig = r("original_max_position_embeddings");
    if (orig !== undefined) out.original_seq_len = orig;
    const bf = r("beta_fast");
    if (bf !== undefined) out.beta_fast = bf;
    const bs = r("beta_slow");
    if (bs !== undefined) out.beta_slow = bs;
    const mAll = r("mscale_all_dim");
    const m = r("mscale");
    if (mAll !== undefined && m !== undefined && mAll !== m) {
      throw new ConfigError(`${p}rope_scaling.mscale`, m, `equal to mscale_all_dim (${mAll}); unequal values scale cos/sin in HF, which the official code never does`);
    }
    out.mscale = mAll ?? m ?? 1.0;
    if ((out.max_seq_len ?? 0) <= (out.original_seq_len ?? MODEL_ARGS_DEFAULTS.original_seq_len)) {
      // HF applies YaRN whenever rope_scaling says so; the official switch needs max_seq_len > L0.
      throw new ConfigError(`${p}max_position_embeddings`, out.max_seq_len, `> rope_scaling.original_max_position_embeddings (${out.original_seq_len}) when rope_scaling is yarn`);
    }
  }
  return makeConfig(out, p);
}

/** Detect the flavour of a config JSON and import it. */
export function configFromJson(json: unknown): MlaConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new ConfigError("config", json, "a JSON object");
  const o = json as Record<string, unknown>;
  if ("hidden_size" in o || "num_attention_heads" in o) return fromHfConfig(o);
  return fromModelArgs(o);
}
