// MlaConfig: validation (each bad field rejected with a typed error naming it), presets, imports.
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { MODEL_ARGS_DEFAULTS, type MlaConfig, PRESET_NAMES, configFromJson, fromHfConfig, fromModelArgs, importHfConfig, makeConfig, preset, validateConfig, yarnEnabled } from "../../src/config.js";
import { mlaSoftmaxScale, ropeFrequencies } from "../../src/derived.js";

const good = (): MlaConfig => makeConfig({ dim: 24, n_heads: 3, kv_lora_rank: 10, qk_nope_head_dim: 8, qk_rope_head_dim: 4, v_head_dim: 6, max_seq_len: 64 });

/** [field, bad value, words the expectation must contain] */
const BAD: [keyof MlaConfig | "n_head", unknown, string][] = [
  ["dim", 0, "positive integer"],
  ["dim", -3, "positive integer"],
  ["dim", 2.5, "positive integer"],
  ["dim", "24", "positive integer"],
  ["n_heads", 0, "positive integer"],
  ["n_heads", NaN, "positive integer"],
  ["q_lora_rank", -1, "non-negative integer"],
  ["q_lora_rank", 1.5, "non-negative integer"],
  ["kv_lora_rank", 0, "positive integer"],
  ["qk_nope_head_dim", 0, "positive integer"],
  ["qk_rope_head_dim", 5, "even"],
  ["qk_rope_head_dim", 0, "positive integer"],
  ["v_head_dim", -1, "positive integer"],
  ["max_seq_len", 0, "positive integer"],
  ["max_batch_size", 0, "positive integer"],
  ["original_seq_len", 0, "positive integer"],
  ["rope_theta", 1, "> 1"],
  ["rope_theta", Infinity, "> 1"],
  ["rope_factor", 0, "> 0"],
  ["beta_fast", -1, "> 0"],
  ["beta_slow", 0, "> 0"],
  ["mscale", NaN, "finite"],
  ["rope_layout", "rotate_half", "interleaved"],
  ["n_layers", 0, "positive integer"],
  ["n_head", 4, "no such field"],
];

describe("config validation", () => {
  it.each(BAD)("rejects %s = %s", (field, value, words) => {
    const cfg = { ...good(), [field]: value } as unknown;
    let err: unknown;
    try {
      validateConfig(cfg);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).field).toBe(`config.${field}`);
    expect((err as ConfigError).expected).toContain(words);
    expect((err as ConfigError).message).toContain(`config.${field}`);
  });

  it("rejects a missing field", () => {
    const { dim: _, ...rest } = good();
    expect(() => validateConfig(rest)).toThrow(/config\.dim = undefined \(missing\): expected a positive integer/);
  });

  it("rejects rope_factor < 1 only when YaRN is on", () => {
    const off = { ...good(), rope_factor: 0.5 };
    expect(yarnEnabled(off)).toBe(false);
    expect(validateConfig(off).rope_factor).toBe(0.5);
    const on = { ...off, max_seq_len: 8192, original_seq_len: 4096 };
    expect(() => validateConfig(on)).toThrow(ConfigError);
    expect(() => validateConfig(on)).toThrow(/rope_factor = 0\.5: expected a number >= 1 when YaRN is on/);
  });

  it("rejects a non-object", () => {
    expect(() => validateConfig(null)).toThrow(ConfigError);
    expect(() => validateConfig([1])).toThrow(ConfigError);
  });
});

describe("presets", () => {
  it("carry the official values", () => {
    const v3 = preset("deepseek-v3");
    expect([v3.dim, v3.n_heads, v3.q_lora_rank, v3.kv_lora_rank, v3.qk_nope_head_dim, v3.qk_rope_head_dim, v3.v_head_dim, v3.n_layers]).toEqual([7168, 128, 1536, 512, 128, 64, 128, 61]);
    expect([v3.rope_factor, v3.original_seq_len, v3.mscale, yarnEnabled(v3)]).toEqual([40, 4096, 1, true]);
    const v2 = preset("deepseek-v2");
    expect([v2.dim, v2.n_heads, v2.q_lora_rank, v2.n_layers, v2.mscale]).toEqual([5120, 128, 1536, 60, 0.707]);
    const lite = preset("deepseek-v2-lite");
    expect([lite.dim, lite.n_heads, lite.q_lora_rank, lite.kv_lora_rank, lite.n_layers, lite.mscale]).toEqual([2048, 16, 0, 512, 27, 0.707]);
    const kimi = preset("kimi-k2");
    expect([kimi.dim, kimi.n_heads, kimi.kv_lora_rank, kimi.rope_theta]).toEqual([7168, 64, 512, 50000]);
    // DeepSeek-V3.2 (inference/config_671B_v3.2.json): V3's MLA plus the lightning indexer
    const v32 = preset("deepseek-v3.2") as unknown as Record<string, unknown>;
    expect([v32.dim, v32.n_heads, v32.index_n_heads, v32.index_head_dim, v32.index_topk, v32.scale_fmt]).toEqual([7168, 128, 64, 128, 2048, "ue8m0"]);
    expect(PRESET_NAMES).toEqual(["deepseek-v3", "deepseek-v2", "deepseek-v2-lite", "kimi-k2", "deepseek-v3.2"]);
    expect(() => preset("llama")).toThrow(/preset = "llama": expected one of deepseek-v3/);
  });
});

describe("import", () => {
  it("from official ModelArgs JSON: unknown keys ignored, defaults for absent ones", () => {
    const cfg = fromModelArgs({ vocab_size: 102400, dim: 2048, n_heads: 16, n_routed_experts: 64, mscale: 0.707 });
    expect(cfg.dim).toBe(2048);
    expect(cfg.kv_lora_rank).toBe(MODEL_ARGS_DEFAULTS.kv_lora_rank);
    expect(cfg.max_seq_len).toBe(16384);
    expect(() => fromModelArgs({ dim: 0 })).toThrow(/ModelArgs\.dim = 0/);
  });

  it("from a Hugging Face config.json (DeepSeek-V3 names) == the preset", () => {
    // Field names and values as in deepseek-ai/DeepSeek-V3's config.json.
    const hf = {
      architectures: ["DeepseekV3ForCausalLM"],
      hidden_size: 7168,
      num_attention_heads: 128,
      num_hidden_layers: 61,
      q_lora_rank: 1536,
      kv_lora_rank: 512,
      qk_nope_head_dim: 128,
      qk_rope_head_dim: 64,
      v_head_dim: 128,
      max_position_embeddings: 163840,
      rope_theta: 10000,
      rope_scaling: { beta_fast: 32, beta_slow: 1, factor: 40, mscale: 1.0, mscale_all_dim: 1.0, original_max_position_embeddings: 4096, type: "yarn" },
    };
    // the same numbers as the official preset, under transformers' rules (cos/sin factor
    // get_mscale(40, 1) / get_mscale(40, 1) = 1, softmax m from mscale_all_dim = 1)
    const { max_batch_size: _a, convention, yarn, ...a } = fromHfConfig(hf);
    const { max_batch_size: _b, convention: _c, yarn: _y, ...b } = preset("deepseek-v3");
    expect(a).toEqual(b);
    expect([convention, yarn]).toEqual(["transformers", true]);
    expect(mlaSoftmaxScale(fromHfConfig(hf))).toBe(mlaSoftmaxScale(preset("deepseek-v3")));
    expect(ropeFrequencies(fromHfConfig(hf))).toEqual(ropeFrequencies(preset("deepseek-v3")));
    expect(configFromJson(hf).dim).toBe(7168);
    // V2-Lite: q_lora_rank null means no query compression; mscale_all_dim plays ModelArgs.mscale.
    const lite = fromHfConfig({ ...hf, hidden_size: 2048, num_attention_heads: 16, q_lora_rank: null, rope_scaling: { ...hf.rope_scaling, mscale: 0.707, mscale_all_dim: 0.707 } });
    expect([lite.q_lora_rank, lite.mscale]).toEqual([0, 0.707]);
    // No rope_scaling: YaRN off.
    expect(yarnEnabled(fromHfConfig({ ...hf, rope_scaling: null }))).toBe(false);
    expect(fromHfConfig({ ...hf, rope_interleave: false }).rope_layout).toBe("half");
  });

  it("follows transformers' YaRN rules for every rope_scaling variant (the formulas of modeling_rope_utils.py and DeepseekV3Attention)", () => {
    const hf = { model_type: "deepseek_v3", hidden_size: 64, num_attention_heads: 2, kv_lora_rank: 8, qk_nope_head_dim: 4, qk_rope_head_dim: 4, v_head_dim: 4, max_position_embeddings: 8192 };
    const gm = (f: number, m = 1) => (f <= 1 ? 1 : 0.1 * m * Math.log(f) + 1);
    const imp = (rs: Record<string, unknown>, extra: Record<string, unknown> = {}) => fromHfConfig({ ...hf, ...extra, rope_scaling: { type: "yarn", ...rs } });
    // no mscale keys: cos/sin times get_mscale(factor); softmax unscaled (mscale 0 -> m = 1)
    let c = imp({ factor: 4, original_max_position_embeddings: 2048 });
    expect([c.yarn, c.rope_attention_factor, c.mscale, c.rope_factor, c.original_seq_len]).toEqual([true, gm(4), 0, 4, 2048]);
    expect(mlaSoftmaxScale(c)).toBe(Math.pow(8, -0.5));
    // only mscale: still get_mscale(factor) (both must be truthy for the ratio); only mscale_all_dim: softmax m from it
    expect(imp({ factor: 4, mscale: 0.7 }).rope_attention_factor).toBe(gm(4));
    c = imp({ factor: 4, mscale_all_dim: 0.7 });
    expect([c.rope_attention_factor, c.mscale]).toEqual([gm(4), 0.7]);
    expect(mlaSoftmaxScale(c)).toBeCloseTo(Math.pow(8, -0.5) * gm(4, 0.7) ** 2, 15);
    // both, unequal: the ratio on cos/sin
    c = imp({ factor: 4, mscale: 1, mscale_all_dim: 0.7 });
    expect(c.rope_attention_factor).toBe(gm(4, 1) / gm(4, 0.7));
    // zeros are falsy; attention_factor given wins; factor missing: max_position_embeddings / original
    expect(imp({ factor: 4, mscale: 0, mscale_all_dim: 0 }).rope_attention_factor).toBe(gm(4));
    expect(imp({ factor: 4, attention_factor: 0.5, mscale: 1, mscale_all_dim: 1 }).rope_attention_factor).toBe(0.5);
    expect(imp({ factor: null, original_max_position_embeddings: 1024 }).rope_factor).toBe(8);
    expect(() => imp({ original_max_position_embeddings: 1024 })).toThrow(/rope_scaling\.factor = undefined/); // transformers: KeyError
    expect(() => imp({ factor: null, mscale_all_dim: 1 })).toThrow(/rope_scaling\.factor = null/); // transformers: TypeError in the softmax scale
    // rope_parameters (newer configs) when rope_scaling is absent, with its own rope_theta; "default" = no scaling
    const rp = fromHfConfig({ ...hf, rope_theta: 500, rope_parameters: { rope_type: "yarn", factor: 4, rope_theta: 20000, original_max_position_embeddings: 2048 } });
    expect([rp.yarn, rp.rope_factor, rp.rope_theta]).toEqual([true, 4, 20000]);
    expect(fromHfConfig({ ...hf, rope_parameters: { rope_type: "default", rope_theta: 10000 } }).yarn).toBe(false);
    // beta defaults (falsy -> 32 / 1), truncate, YaRN on even when max_position_embeddings <= original
    expect([imp({ factor: 2, beta_fast: 0 }).beta_fast, imp({ factor: 2 }).beta_slow]).toEqual([32, 1]);
    expect(imp({ factor: 2, truncate: false }).yarn_truncate).toBe(false);
    expect(yarnEnabled(imp({ factor: 2, original_max_position_embeddings: 16384 }))).toBe(true);
    expect(imp({ factor: 2 }, { rope_interleave: false }).rope_layout).toBe("half");
    // deepseek_v2 never reads rope_interleave: pairs, with a note
    const v2 = importHfConfig({ ...hf, model_type: "deepseek_v2", rope_interleave: false });
    expect([v2.config.rope_layout, v2.semantics, v2.notes.length]).toEqual(["interleaved", "deepseek_v2", 1]);
    // an unknown model_type with MLA fields: V3 semantics, said in a note
    const other = importHfConfig({ ...hf, model_type: "some_mla" });
    expect(other.semantics).toBe("deepseek_v3");
    expect(other.notes.join(" ")).toMatch(/some_mla.*DeepseekV3Attention/);
  });

  it("refuses the HF configs it cannot compute the way transformers does, naming the field", () => {
    const hf = { hidden_size: 64, num_attention_heads: 2, kv_lora_rank: 8, qk_nope_head_dim: 4, qk_rope_head_dim: 4, v_head_dim: 4, max_position_embeddings: 8192 };
    expect(() => fromHfConfig({ ...hf, rope_scaling: { type: "linear", factor: 2 } })).toThrow(/rope_scaling\.rope_type = "linear"/);
    expect(() => fromHfConfig({ ...hf, rope_scaling: { type: "yarn", rope_type: "linear", factor: 2 } })).toThrow(/rope_scaling\.rope_type/);
    expect(() => fromHfConfig({ ...hf, rope_scaling: { type: "yarn", factor: 0.5 } })).toThrow(/rope_factor/);
    expect(() => fromHfConfig({ ...hf, rope_scaling: { type: "yarn", factor: 2, mscale_all_dm: 1 } })).toThrow(/rope_scaling\.mscale_all_dm/);
    expect(() => fromHfConfig({ ...hf, rope_scaling: { type: "yarn", factor: 2, truncate: "no" } })).toThrow(/rope_scaling\.truncate/);
    expect(() => fromHfConfig({ ...hf, model_type: "llama", kv_lora_rank: undefined })).toThrow(/kv_lora_rank/);
    expect(() => fromHfConfig({ ...hf, hidden_size: "64" })).toThrow(/hf\.hidden_size = "64": expected a number/);
    expect(() => fromHfConfig({ num_attention_heads: 2 })).toThrow(/hf\.hidden_size/);
  });

  it("the official convention has no switches of its own; the transformers one needs its switch", () => {
    expect(() => makeConfig({ yarn: true })).toThrow(/config\.yarn/);
    expect(() => makeConfig({ rope_attention_factor: 1.1 })).toThrow(/rope_attention_factor/);
    expect(() => makeConfig({ yarn_truncate: false })).toThrow(/yarn_truncate/);
    expect(() => makeConfig({ convention: "transformers" })).toThrow(/config\.yarn = null/);
    expect(yarnEnabled(makeConfig({ convention: "transformers", yarn: false }))).toBe(false);
    expect(() => makeConfig({ convention: "hf" as never })).toThrow(/convention/);
    expect(() => makeConfig({ mscale: 1e300 })).toThrow(/mscale/);
    for (const k of ["constructor", "toString", "__proto__"]) expect(() => validateConfig(JSON.parse(`{"${k}": 1}`))).toThrow(new RegExp(`config\\.${k === "__proto__" ? "__proto__" : k}`));
  });
});
