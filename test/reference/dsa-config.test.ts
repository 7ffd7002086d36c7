// DeepSeek-V3.2's config fields: the preset, validation (the official code's constraints), import
// from V3.2's ModelArgs JSON and from its Hugging Face config.json (model_type deepseek_v32).
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { type DsaConfig, fromModelArgs, importHfConfig, isDsaConfig, makeConfig, preset, validateConfig } from "../../src/config.js";
import { deriveDsa, dsaTopkK } from "../../src/derived.js";

// inference/config_671B_v3.2.json of deepseek-ai/DeepSeek-V3.2-Exp (87e509a)
const CONFIG_671B_V32 = {
  vocab_size: 129280, dim: 7168, inter_dim: 18432, moe_inter_dim: 2048, n_layers: 61, n_dense_layers: 3, n_heads: 128,
  n_routed_experts: 256, n_shared_experts: 1, n_activated_experts: 8, n_expert_groups: 8, n_limited_groups: 4, route_scale: 2.5,
  score_func: "sigmoid", q_lora_rank: 1536, kv_lora_rank: 512, qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: 128,
  dtype: "fp8", scale_fmt: "ue8m0", index_n_heads: 64, index_head_dim: 128, index_topk: 2048,
};

// The attention fields of DeepSeek-V3.2(-Exp)'s Hugging Face config.json.
const HF_V32 = {
  architectures: ["DeepseekV32ForCausalLM"], model_type: "deepseek_v32", hidden_size: 7168, num_attention_heads: 128, num_hidden_layers: 61,
  q_lora_rank: 1536, kv_lora_rank: 512, qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: 128, max_position_embeddings: 163840,
  rope_theta: 10000, rope_scaling: { beta_fast: 32, beta_slow: 1, factor: 40, mscale: 1.0, mscale_all_dim: 1.0, original_max_position_embeddings: 4096, type: "yarn" },
  index_n_heads: 64, index_head_dim: 128, index_topk: 2048,
  quantization_config: { activation_scheme: "dynamic", fmt: "e4m3", quant_method: "fp8", scale_fmt: "ue8m0", weight_block_size: [128, 128] },
};

describe("DeepSeek-V3.2 config", () => {
  it("preset deepseek-v3.2 = V3's MLA + config_671B_v3.2.json's indexer fields", () => {
    const c = preset("deepseek-v3.2");
    expect(isDsaConfig(c)).toBe(true);
    const v3 = preset("deepseek-v3");
    expect({ ...c, index_n_heads: undefined, index_head_dim: undefined, index_topk: undefined, scale_fmt: undefined }).toEqual({ ...v3, index_n_heads: undefined, index_head_dim: undefined, index_topk: undefined, scale_fmt: undefined });
    expect([c.index_n_heads, c.index_head_dim, c.index_topk, c.scale_fmt]).toEqual([64, 128, 2048, "ue8m0"]);
    expect(isDsaConfig(v3)).toBe(false);
    const d = deriveDsa(c as DsaConfig);
    expect([d.indexSoftmaxScale, d.weightsScale, d.hadamardScale, d.latentScalesPerToken, d.indexScalesPerKey]).toEqual([128 ** -0.5, 64 ** -0.5, 128 ** -0.5, 4, 1]);
    expect([dsaTopkK(c as DsaConfig, 100), dsaTopkK(c as DsaConfig, 1e5)]).toEqual([100, 2048]);
  });

  it("fromModelArgs reads V3.2's ModelArgs (index_* present) and leaves V3.1's scale_fmt-only JSON dense", () => {
    const c = fromModelArgs(CONFIG_671B_V32);
    expect(c).toMatchObject({ dim: 7168, n_heads: 128, q_lora_rank: 1536, kv_lora_rank: 512, index_n_heads: 64, index_head_dim: 128, index_topk: 2048, scale_fmt: "ue8m0" });
    const { index_n_heads: _a, index_head_dim: _b, index_topk: _c, ...v31 } = CONFIG_671B_V32;
    expect(isDsaConfig(fromModelArgs(v31))).toBe(false);
    // absent index fields take V3.2's ModelArgs defaults once one is present
    expect(fromModelArgs({ ...v31, index_topk: 4 })).toMatchObject({ index_n_heads: 64, index_head_dim: 128, index_topk: 4, scale_fmt: "ue8m0" });
    const { scale_fmt: _f, ...bf16Args } = v31;
    expect(fromModelArgs({ ...bf16Args, index_topk: 4 }).scale_fmt).toBe(null);
  });

  it("importHfConfig reads V3.2's config.json: index fields, scale_fmt from quantization_config", () => {
    const r = importHfConfig(HF_V32);
    expect(r.config).toMatchObject({ convention: "transformers", yarn: true, rope_attention_factor: 1, index_n_heads: 64, index_head_dim: 128, index_topk: 2048, scale_fmt: "ue8m0" });
    expect(importHfConfig({ ...HF_V32, quantization_config: undefined }).config.scale_fmt).toBe(null);
    const { index_topk: _t, ...noTopk } = HF_V32;
    const d = importHfConfig(noTopk);
    expect(d.config.index_topk).toBe(2048);
    expect(d.notes.join(" ")).toMatch(/index_topk absent/);
    expect(() => importHfConfig({ ...HF_V32, indexer_rope_interleave: true })).toThrow(/hf\.indexer_rope_interleave = true/);
    expect(() => importHfConfig({ ...HF_V32, quantization_config: { scale_fmt: "e8m0" } })).toThrow(/hf\.scale_fmt = "e8m0"/);
    expect(isDsaConfig(importHfConfig({ ...HF_V32, model_type: "deepseek_v3", index_n_heads: undefined, index_head_dim: undefined, index_topk: undefined }).config)).toBe(false);
  });

  it("validation: the official code's constraints, each a ConfigError naming the field", () => {
    const base = { dim: 16, n_heads: 2, q_lora_rank: 8, kv_lora_rank: 128, qk_nope_head_dim: 4, qk_rope_head_dim: 4, v_head_dim: 4, max_seq_len: 64, original_seq_len: 64, index_n_heads: 2, index_head_dim: 128, index_topk: 4, scale_fmt: null };
    expect(isDsaConfig(makeConfig(base))).toBe(true);
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ index_head_dim: 64 }, /config\.index_head_dim = 64: expected 128/],
      [{ index_n_heads: 0 }, /config\.index_n_heads = 0/],
      [{ index_topk: 1.5 }, /config\.index_topk = 1\.5/],
      [{ scale_fmt: "ue8m1" }, /config\.scale_fmt = "ue8m1": expected null .* or "ue8m0"/],
      [{ kv_lora_rank: 200 }, /config\.kv_lora_rank = 200: expected a multiple of 128/],
      [{ q_lora_rank: 0 }, /config\.q_lora_rank = 0/],
      [{ qk_nope_head_dim: 3 }, /config\.qk_nope_head_dim = 3: expected an even integer/],
      [{ qk_rope_head_dim: 130 }, /config\.qk_rope_head_dim = 130/],
      [{ convention: "transformers", yarn: false, rope_attention_factor: 1.2 }, /config\.rope_attention_factor = 1\.2/],
    ];
    for (const [patch, msg] of bad) {
      expect(() => makeConfig({ ...base, ...patch } as never)).toThrow(ConfigError);
      expect(() => makeConfig({ ...base, ...patch } as never)).toThrow(msg);
    }
    // all four come together (validateConfig fills nothing in)
    const full = makeConfig(base) as unknown as Record<string, unknown>;
    const { scale_fmt: _s, ...partial } = full;
    expect(() => validateConfig(partial)).toThrow(/config\.scale_fmt = undefined \(missing\): expected a value \(the DeepSeek-V3\.2 fields come together/);
    expect(() => validateConfig({ ...full, index_topk_: 3 })).toThrow(/no such field/);
  });
});
