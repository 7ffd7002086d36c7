// MlaConfig: every field of DeepSeek's official `ModelArgs` (inference/model.py) that MLA uses,
// under the official names so a reader can hold this file next to model.py. Also: presets with
// the official values, import from the official config JSON and from a Hugging Face config.json,
// and validation that throws a ConfigError naming the field, the value and the expectation.

import { ConfigError } from "./errors.js";

export type RopeLayout = "interleaved" | "half";

/**
 * Whose rules the RoPE/YaRN fields follow. "official": DeepSeek's inference/model.py (YaRN on iff
 * max_seq_len > original_seq_len, no factor on cos/sin, a truncated correction range).
 * "transformers": Hugging Face's modeling_rope_utils.py `_compute_yarn_parameters` with
 * DeepseekV2/V3Attention (YaRN on iff rope_scaling says yarn, cos and sin times an attention
 * factor, the correction range truncated or not).
 */
export type RopeConvention = "official" | "transformers";
export const ROPE_CONVENTIONS: readonly RopeConvention[] = ["official", "transformers"];

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
  /**
   * YaRN attention-temperature coefficient: m = 0.1*mscale*ln(rope_factor)+1, softmax scale *= m^2
   * when YaRN is on. (transformers: mscale_all_dim, or 0 when absent: m = 1.)
   */
  mscale: number;
  /** Whose rules the fields below and the YaRN switch follow (see RopeConvention). mlakit extension; default "official". */
  convention: RopeConvention;
  /** YaRN on or off: null under "official" (then on iff max_seq_len > original_seq_len); a boolean under "transformers" (rope_scaling type yarn). */
  yarn: boolean | null;
  /** Factor on cos and sin of the rotary table (transformers' attention_factor; so the rope part of every score is scaled by its square). 1 under "official". */
  rope_attention_factor: number;
  /** YaRN correction range: floor/ceil of the correction dims (true, the official code) or the raw values (transformers' truncate: false). */
  yarn_truncate: boolean;
  /** Pairing of RoPE elements: "interleaved" (official: (x[2i], x[2i+1])) or "half" (HF rotate_half: (x[i], x[i+dr/2])). mlakit extension. */
  rope_layout: RopeLayout;
  /** Layers in the whole model (ModelArgs.n_layers); used by whole-model cost figures only. */
  n_layers: number;

  // DeepSeek-V3.2 sparse attention (DSA): the lightning indexer and its top-k. All four fields are
  // present (a V3.2 layer, DsaConfig) or all absent (a V3-style dense MLA layer). Constraints of the
  // official code are checked by validateConfig (validateDsaFields).
  /** HI: indexer heads (ModelArgs.index_n_heads; 64 in V3.2). */
  index_n_heads?: number;
  /** DI: indexer head dim (ModelArgs.index_head_dim); must be 128 (act_quant's group size, one scale per indexer head row). */
  index_head_dim?: number;
  /** Keys each query attends to: topk(min(index_topk, end_pos)) of the index scores (2048 in V3.2). */
  index_topk?: number;
  /** act_quant's scale format: null (float32 scales amax/448) or "ue8m0" (scales rounded up to a power of two). */
  scale_fmt?: ScaleFmt | null;
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
  convention: "official",
  yarn: null,
  rope_attention_factor: 1,
  yarn_truncate: true,
  rope_layout: "interleaved",
  n_layers: 27,
});

// ---------------------------------------------------------------------------------------------
// DeepSeek-V3.2 (DSA) fields

/** act_quant's scale formats besides null: "ue8m0" = 2^ceil(log2 s) (the kernel's fast_round_scale). */
export type ScaleFmt = "ue8m0";
export const SCALE_FMTS: readonly (ScaleFmt | null)[] = [null, "ue8m0"];

/** The V3.2 ModelArgs fields (all present or all absent in an MlaConfig). */
export const DSA_FIELDS = ["index_n_heads", "index_head_dim", "index_topk", "scale_fmt"] as const;

/** Defaults of V3.2's ModelArgs for its indexer fields (inference/model.py of DeepSeek-V3.2-Exp). */
export const DSA_ARGS_DEFAULTS = Object.freeze({ index_n_heads: 64, index_head_dim: 128, index_topk: 2048, scale_fmt: null as ScaleFmt | null });

/** A DeepSeek-V3.2 layer's config: MLA plus the indexer fields. */
export type DsaConfig = MlaConfig & { index_n_heads: number; index_head_dim: number; index_topk: number; scale_fmt: ScaleFmt | null };

/** True iff the config has the V3.2 indexer fields (validateConfig makes them all-or-none). */
export function isDsaConfig(cfg: MlaConfig): cfg is DsaConfig {
  return cfg.index_topk !== undefined;
}

function hasAnyDsaField(o: Record<string, unknown>): boolean {
  return DSA_FIELDS.some((k) => Object.prototype.hasOwnProperty.call(o, k) && o[k] !== undefined);
}

/**
 * The constraints of the official V3.2 code (vectors/deepseek-v3.2-dsa/README.md, "Notes"): all four
 * fields together; index_head_dim 128 (act_quant's group size is hard-coded 128, fp8_index takes one
 * scale per (token, head) row, the Hadamard needs a power of two); kv_lora_rank a multiple of 128
 * (the latent is quantised in 128-blocks); q_lora_rank > 0 (no wq path; the indexer reads qr);
 * qk_nope_head_dim even (view_as_complex on the q_pe slice); qk_rope_head_dim <= index_head_dim (RoPE
 * on the indexer heads' first dr dims); scale_fmt null or "ue8m0"; and no cos/sin factor (the indexer
 * is only defined by model.py, which has none).
 */
function validateDsaFields(c: Record<string, unknown>, prefix: string): void {
  if (!hasAnyDsaField(c)) return;
  const together = `(the DeepSeek-V3.2 fields come together: ${DSA_FIELDS.join(", ")})`;
  for (const f of DSA_FIELDS) if (!Object.prototype.hasOwnProperty.call(c, f) || c[f] === undefined) throw new ConfigError(`${prefix}${f}`, undefined, `a value ${together}`);
  need(c, "index_n_heads", isPosInt, "a positive integer", prefix);
  need(c, "index_topk", isPosInt, "a positive integer", prefix);
  if (c.index_head_dim !== 128) throw new ConfigError(`${prefix}index_head_dim`, c.index_head_dim, "128 (act_quant quantises in groups of 128 and fp8_index takes one scale per indexer head row)");
  if (!(SCALE_FMTS as readonly unknown[]).includes(c.scale_fmt)) throw new ConfigError(`${prefix}scale_fmt`, c.scale_fmt, 'null (float32 scales) or "ue8m0" (power-of-two scales)');
  if ((c.q_lora_rank as number) === 0) throw new ConfigError(`${prefix}q_lora_rank`, 0, "a positive integer with the DeepSeek-V3.2 indexer (its MLA has no wq path and the indexer reads qr = q_norm(wq_a(x)))");
  if ((c.kv_lora_rank as number) % 128 !== 0) throw new ConfigError(`${prefix}kv_lora_rank`, c.kv_lora_rank, "a multiple of 128 with the DeepSeek-V3.2 indexer (the latent is act_quant'ed in 128-blocks)");
  if ((c.qk_nope_head_dim as number) % 2 !== 0) throw new ConfigError(`${prefix}qk_nope_head_dim`, c.qk_nope_head_dim, "an even integer with the DeepSeek-V3.2 indexer (model.py's view_as_complex of the q_pe slice at offset dn)");
  if ((c.qk_rope_head_dim as number) > 128) throw new ConfigError(`${prefix}qk_rope_head_dim`, c.qk_rope_head_dim, "<= index_head_dim 128 (the indexer rotates its heads' first qk_rope_head_dim dims)");
  if (c.rope_attention_factor !== 1) throw new ConfigError(`${prefix}rope_attention_factor`, c.rope_attention_factor, "1 with the DeepSeek-V3.2 indexer (only model.py defines it, without a factor on cos/sin)");
}

/** V3.2's fields of a config JSON (official ModelArgs names), with V3.2's defaults for absent ones, or {} when it has no index_* key. */
function pickDsaArgs(json: Record<string, unknown>): Partial<MlaConfig> {
  if (!["index_n_heads", "index_head_dim", "index_topk"].some((k) => Object.prototype.hasOwnProperty.call(json, k))) return {};
  const out: Record<string, unknown> = { ...DSA_ARGS_DEFAULTS };
  for (const k of DSA_FIELDS) if (Object.prototype.hasOwnProperty.call(json, k)) out[k] = json[k];
  return out as Partial<MlaConfig>;
}

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
  // DeepSeek-V3.2(-Exp): inference/config_671B_v3.2.json = V3's MLA plus the indexer fields.
  "deepseek-v3.2": { ...V3_LIKE, index_n_heads: 64, index_head_dim: 128, index_topk: 2048, scale_fmt: "ue8m0" },
} satisfies Record<string, MlaConfig>;

export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

/** A validated copy of a preset. */
export function preset(name: string): MlaConfig {
  if (!Object.prototype.hasOwnProperty.call(PRESETS, name)) throw new ConfigError("preset", name, `one of ${PRESET_NAMES.join(", ")}`);
  return validateConfig({ ...PRESETS[name as PresetName] });
}

/** YaRN on: the config's own switch (transformers), else the official code's static one, max_seq_len > original_seq_len. */
export function yarnEnabled(cfg: Pick<MlaConfig, "max_seq_len" | "original_seq_len"> & { yarn?: boolean | null }): boolean {
  return typeof cfg.yarn === "boolean" ? cfg.yarn : cfg.max_seq_len > cfg.original_seq_len;
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
    if (!Object.prototype.hasOwnProperty.call(MODEL_ARGS_DEFAULTS, key) && !(DSA_FIELDS as readonly string[]).includes(key)) {
      throw new ConfigError(`${prefix}${key}`, c[key], `no such field; MlaConfig fields are ${[...Object.keys(MODEL_ARGS_DEFAULTS), ...DSA_FIELDS].join(", ")}`);
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
  if (!(ROPE_CONVENTIONS as readonly unknown[]).includes(c.convention)) throw new ConfigError(`${prefix}convention`, c.convention, `one of ${ROPE_CONVENTIONS.map((x) => `"${x}"`).join(", ")}`);
  need(c, "rope_attention_factor", isPosFinite, "a finite number > 0 (the factor on cos and sin)", prefix);
  if (typeof c.yarn_truncate !== "boolean") throw new ConfigError(`${prefix}yarn_truncate`, c.yarn_truncate, "true or false");
  if (c.convention === "official") {
    // The official code has no such switches: a value other than its own would compute other numbers silently.
    if (c.yarn !== null) throw new ConfigError(`${prefix}yarn`, c.yarn, 'null under convention "official" (model.py turns YaRN on iff max_seq_len > original_seq_len); set convention "transformers" for an explicit switch');
    if (c.rope_attention_factor !== 1) throw new ConfigError(`${prefix}rope_attention_factor`, c.rope_attention_factor, '1 under convention "official" (model.py never scales cos/sin); set convention "transformers"');
    if (c.yarn_truncate !== true) throw new ConfigError(`${prefix}yarn_truncate`, c.yarn_truncate, 'true under convention "official" (model.py floors/ceils the correction range)');
  } else if (typeof c.yarn !== "boolean") {
    throw new ConfigError(`${prefix}yarn`, c.yarn, 'true or false under convention "transformers" (rope_scaling type "yarn" or no rope_scaling)');
  }
  const yarn = yarnEnabled(c as unknown as MlaConfig);
  if (yarn) {
    if ((c.rope_factor as number) < 1) {
      // transformers' get_mscale returns 1 below factor 1 where model.py's formula does not: refuse rather than pick one
      throw new ConfigError(`${prefix}rope_factor`, c.rope_factor, "a number >= 1 when YaRN is on");
    }
    if ((c.beta_fast as number) < (c.beta_slow as number)) {
      throw new ConfigError(`${prefix}beta_fast`, c.beta_fast, `a number >= beta_slow (${c.beta_slow as number}) when YaRN is on`);
    }
    const m = 0.1 * (c.mscale as number) * Math.log(c.rope_factor as number) + 1;
    if (!Number.isFinite(m * m)) throw new ConfigError(`${prefix}mscale`, c.mscale, `a value whose YaRN softmax factor m^2 = (0.1*mscale*ln(rope_factor)+1)^2 is finite (it is ${m * m})`);
  }
  validateDsaFields(c, prefix);
  return c as unknown as MlaConfig;
}

/** Fill defaults (official ModelArgs) for absent fields, then validate. A partial with any DSA field gets V3.2's defaults for the others. */
export function makeConfig(partial: Partial<MlaConfig>, prefix = "config."): MlaConfig {
  const dsa = hasAnyDsaField(partial as Record<string, unknown>) ? DSA_ARGS_DEFAULTS : {};
  return validateConfig({ ...MODEL_ARGS_DEFAULTS, ...dsa, ...partial }, prefix);
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
  for (const key of Object.keys(MODEL_ARGS_DEFAULTS)) if (Object.prototype.hasOwnProperty.call(json, key)) picked[key] = json[key];
  // DeepSeek-V3.2's ModelArgs: a JSON with an index_* key is a V3.2 layer (scale_fmt alone is V3.1's FP8 GEMM setting, which MLA's numbers do not use)
  Object.assign(picked, pickDsaArgs(json));
  return makeConfig(picked as Partial<MlaConfig>, "ModelArgs.");
}

/** model_types whose Hugging Face attention code is DeepseekV3Attention's (kimi_k2 ships DeepSeek-V3's modeling code). */
export const HF_V3_MODEL_TYPES: readonly string[] = ["deepseek_v3", "kimi_k2", "deepseek_v32"];
/** model_types whose code is DeepseekV2Attention's (rotary as complex pairs, rope_interleave never read). */
export const HF_V2_MODEL_TYPES: readonly string[] = ["deepseek_v2"];

export interface HfConfigImport {
  config: MlaConfig;
  /** The config's model_type (undefined when absent). */
  modelType: string | undefined;
  /** Whose attention code the numbers follow: DeepseekV2Attention's or DeepseekV3Attention's. */
  semantics: "deepseek_v2" | "deepseek_v3";
  /** What the import decided that a reader should know (unknown model_type, ignored keys). */
  notes: string[];
}

/** transformers' get_mscale / yarn_get_mscale: 1 for scale <= 1, else 0.1 * mscale * ln(scale) + 1. */
function hfGetMscale(scale: number, mscale = 1): number {
  return scale <= 1 ? 1 : 0.1 * mscale * Math.log(scale) + 1;
}

/**
 * From a Hugging Face config.json, exactly as transformers computes DeepSeek's attention
 * (modeling_rope_utils.py `_compute_yarn_parameters`, DeepseekV2/V3Attention). Names:
 * hidden_size -> dim, num_attention_heads -> n_heads, q_lora_rank (null = 0), kv_lora_rank,
 * qk_nope_head_dim, qk_rope_head_dim, v_head_dim, max_position_embeddings -> max_seq_len,
 * rope_theta, num_hidden_layers -> n_layers. The result has convention "transformers":
 *  - rope_scaling (legacy) or else rope_parameters; YaRN is on iff its rope_type (or type) is
 *    "yarn" ("default" or none: off; other scalings are refused); factor (the key is required,
 *    null means max_position_embeddings / original_max_position_embeddings) -> rope_factor,
 *    original_max_position_embeddings (default max_position_embeddings) -> original_seq_len,
 *    beta_fast / beta_slow (falsy -> 32 / 1), truncate (default true) -> yarn_truncate;
 *  - cos and sin are multiplied by rope_attention_factor: rope_scaling.attention_factor when
 *    given, else get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim) when both are
 *    truthy, else get_mscale(factor) = 0.1 ln(factor) + 1;
 *  - the softmax scale is (dn+dr)^-0.5 times get_mscale(factor, mscale_all_dim)^2 when
 *    mscale_all_dim is truthy: mscale = mscale_all_dim, else 0 (m = 1). DeepseekV2Attention does
 *    the same since transformers PR #47435 (merged 2026-07-20); before it HF's V2 disagreed with
 *    DeepSeek's own code, and mlakit follows the fixed code;
 *  - RoPE layout: deepseek_v3 (and the MLA models on its code) reads rope_interleave (default
 *    true: the official interleaved pairs; false: rotate_half on the stored layout, "half");
 *    deepseek_v2 always rotates pairs (2i, 2i+1) and never reads it.
 * An unknown model_type with MLA fields (kv_lora_rank) takes the V3 semantics and says so in notes.
 */
export function importHfConfig(json: Record<string, unknown>): HfConfigImport {
  const p = "hf.";
  const notes: string[] = [];
  const own = (o: Record<string, unknown>, k: string): unknown => (Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined);
  const num = (key: string): number | undefined => {
    const v = own(json, key);
    if (v === undefined) return undefined;
    if (typeof v !== "number") throw new ConfigError(`${p}${key}`, v, "a number");
    return v;
  };
  if (own(json, "hidden_size") === undefined) throw new ConfigError(`${p}hidden_size`, undefined, "a positive integer");
  if (own(json, "num_attention_heads") === undefined) throw new ConfigError(`${p}num_attention_heads`, undefined, "a positive integer");
  const mt = own(json, "model_type");
  if (mt !== undefined && typeof mt !== "string") throw new ConfigError(`${p}model_type`, mt, "a string");
  let semantics: HfConfigImport["semantics"];
  if (mt !== undefined && HF_V2_MODEL_TYPES.includes(mt)) semantics = "deepseek_v2";
  else {
    semantics = "deepseek_v3";
    if (mt === undefined || !HF_V3_MODEL_TYPES.includes(mt)) {
      if (own(json, "kv_lora_rank") === undefined) throw new ConfigError(`${p}kv_lora_rank`, undefined, `an integer: model_type ${JSON.stringify(mt)} is not an MLA model mlakit knows (${[...HF_V2_MODEL_TYPES, ...HF_V3_MODEL_TYPES].join(", ")}) and has no kv_lora_rank`);
      notes.push(`model_type ${mt === undefined ? "(absent)" : JSON.stringify(mt)} is not one mlakit knows (${[...HF_V2_MODEL_TYPES, ...HF_V3_MODEL_TYPES].join(", ")}): loaded with DeepseekV3Attention's semantics`);
    }
  }
  const out: Partial<MlaConfig> = { convention: "transformers" };
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
  const ql = own(json, "q_lora_rank");
  out.q_lora_rank = ql === null || ql === undefined ? 0 : (num("q_lora_rank") as number);
  const ri = own(json, "rope_interleave");
  if (ri !== undefined && typeof ri !== "boolean") throw new ConfigError(`${p}rope_interleave`, ri, "true or false");
  if (semantics === "deepseek_v3") out.rope_layout = ri === false ? "half" : "interleaved";
  else {
    out.rope_layout = "interleaved";
    if (ri === false) notes.push("rope_interleave: false is ignored: DeepseekV2Attention always rotates pairs (2i, 2i+1)");
  }
  const maxPos = out.max_seq_len ?? MODEL_ARGS_DEFAULTS.max_seq_len;
  // transformers reads the legacy rope_scaling first, else rope_parameters (convert_rope_params_to_dict);
  // a top-level rope_theta moves inside unless the dict has its own
  const legacy = own(json, "rope_scaling"), params = own(json, "rope_parameters");
  const key = legacy !== undefined && legacy !== null ? "rope_scaling" : "rope_parameters";
  const rs = (key === "rope_scaling" ? legacy : params) as Record<string, unknown> | null | undefined;
  if (rs !== null && rs !== undefined && (typeof rs !== "object" || Array.isArray(rs))) throw new ConfigError(`${p}${key}`, rs, "an object or null");
  const type = rs ? own(rs, "type") : undefined, ropeType = rs ? own(rs, "rope_type") : undefined;
  if (type !== undefined && ropeType !== undefined && type !== ropeType) throw new ConfigError(`${p}${key}.rope_type`, ropeType, `the same as ${key}.type (${JSON.stringify(type)}): the two keys contradict each other`);
  const kind = rs ? ropeType ?? type ?? "default" : "default";
  if (rs) {
    const theta = own(rs, "rope_theta");
    if (theta !== undefined) {
      if (typeof theta !== "number") throw new ConfigError(`${p}${key}.rope_theta`, theta, "a number");
      out.rope_theta = theta;
    }
  }
  if (kind === "default") {
    out.yarn = false;
    out.original_seq_len = maxPos;
  } else {
    if (kind !== "yarn") throw new ConfigError(`${p}${key}.rope_type`, kind, '"yarn" or "default" (the scalings DeepSeek MLA uses; mlakit computes no other)');
    const r = (k: string): number | null | undefined => {
      const v = own(rs!, k);
      if (v === undefined || v === null) return v as null | undefined;
      if (typeof v !== "number" || !Number.isFinite(v)) throw new ConfigError(`${p}${key}.${k}`, v, "a finite number");
      return v;
    };
    const l0 = r("original_max_position_embeddings");
    if (l0 === null || l0 === 0) throw new ConfigError(`${p}${key}.original_max_position_embeddings`, l0, "a positive number, or absent (then max_position_embeddings): transformers fails on it");
    const orig = l0 ?? maxPos;
    const f = r("factor");
    if (f === undefined) throw new ConfigError(`${p}${key}.factor`, undefined, "a number, or null for max_position_embeddings / original_max_position_embeddings: transformers requires the key (KeyError in validate_rope)");
    const factor = f ?? maxPos / orig;
    const mscale = r("mscale"), mscaleAll = r("mscale_all_dim");
    if (f === null && mscaleAll) throw new ConfigError(`${p}${key}.factor`, null, "a number when mscale_all_dim is set: transformers' softmax scale reads factor itself and fails on null");
    const af = r("attention_factor") ?? (mscale && mscaleAll ? hfGetMscale(factor, mscale) / hfGetMscale(factor, mscaleAll) : hfGetMscale(factor));
    const truncate = own(rs!, "truncate");
    if (truncate !== undefined && typeof truncate !== "boolean") throw new ConfigError(`${p}${key}.truncate`, truncate, "true or false");
    Object.assign(out, {
      yarn: true,
      rope_factor: factor,
      original_seq_len: orig,
      beta_fast: r("beta_fast") || 32,
      beta_slow: r("beta_slow") || 1,
      mscale: mscaleAll ? mscaleAll : 0,
      rope_attention_factor: af,
      yarn_truncate: truncate ?? true,
    } satisfies Partial<MlaConfig>);
    for (const k of Object.keys(rs!)) {
      if (!["type", "rope_type", "rope_theta", "factor", "original_max_position_embeddings", "beta_fast", "beta_slow", "mscale", "mscale_all_dim", "attention_factor", "truncate"].includes(k)) {
        throw new ConfigError(`${p}${key}.${k}`, rs![k], "no such YaRN key (transformers' yarn keys: factor, original_max_position_embeddings, beta_fast, beta_slow, mscale, mscale_all_dim, attention_factor, truncate)");
      }
    }
  }
  Object.assign(out, importHfDsaFields(json, mt as string | undefined, notes, p));
  return { config: makeConfig(out, p), modelType: mt as string | undefined, semantics, notes };
}

/**
 * DeepSeek-V3.2's fields of a Hugging Face config.json (model_type deepseek_v32, or any index_* key):
 * index_n_heads, index_head_dim, index_topk under their own names (absent: V3.2's ModelArgs defaults,
 * said in notes), scale_fmt from quantization_config.scale_fmt (absent: null, as a bf16 checkpoint
 * runs). The indexer's RoPE is model.py's fixed, non-interleaved one: indexer_rope_interleave true
 * (the pre-fix code, GLM-5's) is refused.
 */
function importHfDsaFields(json: Record<string, unknown>, mt: string | undefined, notes: string[], p: string): Partial<MlaConfig> {
  const own = (o: Record<string, unknown>, k: string): unknown => (Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined);
  const keys = ["index_n_heads", "index_head_dim", "index_topk"] as const;
  if (mt !== "deepseek_v32" && !keys.some((k) => own(json, k) !== undefined)) return {};
  const out: Partial<MlaConfig> = {};
  for (const k of keys) {
    const v = own(json, k);
    if (v === undefined) notes.push(`${k} absent: DeepSeek-V3.2's default ${DSA_ARGS_DEFAULTS[k]}`);
    else if (typeof v !== "number") throw new ConfigError(`${p}${k}`, v, "a number");
    out[k] = v === undefined ? DSA_ARGS_DEFAULTS[k] : v;
  }
  const ri = own(json, "indexer_rope_interleave");
  if (ri !== undefined && ri !== false) throw new ConfigError(`${p}indexer_rope_interleave`, ri, "false or absent (mlakit computes DeepSeek-V3.2's fixed indexer RoPE, non-interleaved)");
  const qc = own(json, "quantization_config");
  if (qc !== undefined && qc !== null && (typeof qc !== "object" || Array.isArray(qc))) throw new ConfigError(`${p}quantization_config`, qc, "an object or null");
  const sf = qc ? own(qc as Record<string, unknown>, "scale_fmt") : undefined;
  out.scale_fmt = (sf ?? null) as ScaleFmt | null; // validateConfig refuses anything but null and "ue8m0"
  return out;
}

/** importHfConfig's config (see there): transformers' numbers for a Hugging Face config.json. */
export function fromHfConfig(json: Record<string, unknown>): MlaConfig {
  return importHfConfig(json).config;
}

export interface ConfigImport {
  config: MlaConfig;
  /** Which kind of file it was: DeepSeek's official ModelArgs JSON or a Hugging Face config.json. */
  kind: "ModelArgs" | "hf";
  /** HF only: the model_type and notes of importHfConfig. */
  modelType?: string;
  notes: string[];
}

/** Detect the flavour of a config JSON and import it, saying which it was and under which convention. */
export function importConfigJson(json: unknown): ConfigImport {
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new ConfigError("config", json, "a JSON object");
  const o = json as Record<string, unknown>;
  if (Object.prototype.hasOwnProperty.call(o, "hidden_size") || Object.prototype.hasOwnProperty.call(o, "num_attention_heads")) {
    const r = importHfConfig(o);
    return { config: r.config, kind: "hf", modelType: r.modelType, notes: r.notes };
  }
  return { config: fromModelArgs(o), kind: "ModelArgs", notes: [] };
}

/** importConfigJson's config. */
export function configFromJson(json: unknown): MlaConfig {
  return importConfigJson(json).config;
}

/** One line: what kind of config file this was and which rules its numbers follow. */
export function describeConfigImport(r: ConfigImport): string {
  const what = r.kind === "hf" ? `Hugging Face config.json${r.modelType ? ` (model_type ${r.modelType})` : ""}` : "official ModelArgs JSON";
  return `${what}: convention ${r.config.convention} (${r.config.convention === "official" ? "DeepSeek's inference/model.py" : "transformers' DeepSeek attention"}), YaRN ${yarnEnabled(r.config) ? "on" : "off"}`;
}
