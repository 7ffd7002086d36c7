// DeepSeek2 attention in GGUF (src/io/mla-gguf.ts): MLA layers written as llama.cpp's converter
// writes them load back through loadMlaWeights, with the config recovered from the metadata;
// attn_k_b / attn_v_b follow the converter's split (k_b[h, c, i] = wkv_b[h (dn+dv) + i, c],
// v_b[h, j, c] = wkv_b[h (dn+dv) + dn + j, c]); the older single attn_kv_b loads too.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeConfig } from "../../src/config.js";
import { FormatError } from "../../src/errors.js";
import { Rng, mlaWeightShapes, randomMlaWeights } from "../../src/weights.js";
import { bytesSource, f16ToNumber, numberToF16 } from "../../src/io/safetensors.js";
import { openGguf, writeGguf } from "../../src/io/gguf.js";
import { BYTE_VOCAB_SIZE, byteVocabMetadata, deepseek2Config, deepseek2Metadata, ggufMlaLayers, ggufMlaStore, mlaGgufTensors, mlaWeightsToGguf, tinyModelToGguf } from "../../src/io/mla-gguf.js";
import { randomTinyModel } from "../../src/reference/tiny-model.js";
import { ConfigError } from "../../src/errors.js";
import { loadMlaWeights } from "../../src/io/mla-safetensors.js";
import { q8Bound } from "./q8-bound.js";

const cfgArb = fc.record({
  dim: fc.integer({ min: 1, max: 3 }).map((n) => 32 * n),
  n_heads: fc.integer({ min: 1, max: 3 }),
  q_lora_rank: fc.constantFrom(0, 32, 64),
  kv_lora_rank: fc.constantFrom(32, 64),
  qk_nope_head_dim: fc.constantFrom(32, 64),
  half: fc.integer({ min: 1, max: 8 }),
  v_head_dim: fc.integer({ min: 1, max: 40 }),
  yarn: fc.boolean(),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});

function cfgOf(c: typeof cfgArb extends fc.Arbitrary<infer T> ? T : never) {
  const { half, yarn, seed: _s, ...rest } = c;
  return makeConfig({ ...rest, qk_rope_head_dim: 2 * half, max_seq_len: yarn ? 4096 : 512, original_seq_len: 512, rope_factor: yarn ? 8 : 1, mscale: yarn ? 0.707 : 1, n_layers: 2 });
}

describe("MLA layers in a deepseek2 GGUF", () => {
  it("F32: two layers load back exactly through loadMlaWeights, and the config comes back from the metadata", async () => {
    await fc.assert(
      fc.asyncProperty(cfgArb, async (c) => {
        const cfg = cfgOf(c);
        const layers = [randomMlaWeights(cfg, new Rng(c.seed)), randomMlaWeights(cfg, new Rng(c.seed + 1))];
        const f = await openGguf(bytesSource(mlaWeightsToGguf(cfg, layers)));
        expect(ggufMlaLayers(f)).toEqual([0, 1]);
        const got = deepseek2Config(f);
        for (const k of ["dim", "n_heads", "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim", "max_seq_len", "original_seq_len", "rope_theta", "rope_factor", "n_layers"] as const) expect(got[k], k).toBe(cfg[k]);
        if (c.yarn) expect(got.mscale).toBeCloseTo(cfg.mscale, 6); // stored as float32 0.1 x mscale
        const store = ggufMlaStore(f);
        for (const layer of [0, 1]) {
          const loaded = await loadMlaWeights(store, got, { layer });
          for (const [name] of Object.entries(mlaWeightShapes(cfg))) expect(loaded.weights[name as "wkv_b"], `${layer} ${name}`).toEqual(layers[layer][name as "wkv_b"]);
        }
      }),
      { numRuns: 12 },
    );
  });

  it("attn_k_b / attn_v_b hold wkv_b split per head as the converter does, and the old attn_kv_b alone loads the same", async () => {
    const cfg = makeConfig({ dim: 32, n_heads: 2, q_lora_rank: 0, kv_lora_rank: 32, qk_nope_head_dim: 32, qk_rope_head_dim: 4, v_head_dim: 3, max_seq_len: 64, original_seq_len: 64, n_layers: 1 });
    const w = randomMlaWeights(cfg, new Rng(5));
    const { n_heads: H, kv_lora_rank: C, qk_nope_head_dim: dn, v_head_dim: dv } = cfg;
    const f = await openGguf(bytesSource(mlaWeightsToGguf(cfg, [w])));
    const kb = await f.read("blk.0.attn_k_b.weight"), vb = await f.read("blk.0.attn_v_b.weight");
    expect(f.tensors.get("blk.0.attn_k_b.weight")!.dims).toEqual([dn, C, H]);
    expect(f.tensors.get("blk.0.attn_v_b.weight")!.dims).toEqual([C, dv, H]);
    for (let h = 0; h < H; h++) {
      for (let c = 0; c < C; c++) for (let i = 0; i < dn; i++) expect(kb[(h * C + c) * dn + i]).toBe(w.wkv_b[(h * (dn + dv) + i) * C + c]);
      for (let j = 0; j < dv; j++) for (let c = 0; c < C; c++) expect(vb[(h * dv + j) * C + c]).toBe(w.wkv_b[(h * (dn + dv) + dn + j) * C + c]);
    }
    // a file with only attn_kv_b (the converter before the MLA split)
    const t = mlaGgufTensors(cfg, w, 0, { kvB: true });
    delete t["blk.0.attn_k_b.weight"];
    delete t["blk.0.attn_v_b.weight"];
    const old = await openGguf(bytesSource(writeGguf(deepseek2Metadata(cfg, 1), t)));
    expect((await loadMlaWeights(ggufMlaStore(old), deepseek2Config(old))).weights.wkv_b).toEqual(w.wkv_b);
  });

  it("F16 and Q8_0 projections load as their exact decoded values (the norms stay F32)", async () => {
    const cfg = makeConfig({ dim: 64, n_heads: 2, q_lora_rank: 32, kv_lora_rank: 32, qk_nope_head_dim: 32, qk_rope_head_dim: 8, v_head_dim: 16, max_seq_len: 64, original_seq_len: 64, n_layers: 1 });
    const w = randomMlaWeights(cfg, new Rng(9));
    for (const type of ["F16", "Q8_0"] as const) {
      const f = await openGguf(bytesSource(mlaWeightsToGguf(cfg, [w], { type })));
      const loaded = (await loadMlaWeights(ggufMlaStore(f), deepseek2Config(f))).weights;
      expect(loaded.kv_norm).toEqual(w.kv_norm);
      expect(f.tensors.get("blk.0.attn_kv_a_norm.weight")!.typeName).toBe("F32");
      expect(f.tensors.get("blk.0.attn_q_a.weight")!.typeName).toBe(type);
      if (type === "F16") expect(Array.from(loaded.wq_a!)).toEqual(Array.from(w.wq_a!, (v) => f16ToNumber(numberToF16(v))));
      else {
        // Q8_0 blocks of 32 along rows of K = dim (test/io/q8-bound.ts)
        const K = cfg.dim;
        for (let i = 0; i < w.wq_a!.length; i += 32) {
          let amax = 0;
          for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(w.wq_a![i + j]));
          for (let j = 0; j < 32; j++) expect(Math.abs(loaded.wq_a![i + j] - w.wq_a![i + j])).toBeLessThanOrEqual(q8Bound(amax));
        }
        expect(K % 32).toBe(0);
      }
    }
  });

  it("refuses a file of another architecture and one without the attention's sizes, naming the key", async () => {
    const other = await openGguf(bytesSource(writeGguf({ "general.architecture": { type: "string", value: "llama" } }, {})));
    expect(() => deepseek2Config(other)).toThrow(FormatError);
    expect(() => deepseek2Config(other)).toThrow(/general.architecture/);
    const bare = await openGguf(bytesSource(writeGguf({ "general.architecture": { type: "string", value: "deepseek2" } }, {})));
    expect(() => deepseek2Config(bare)).toThrow(/deepseek2\.rope\.dimension_count/);
  });

  it("a tiny model's GGUF carries a vocabulary llama.cpp's SPM loader accepts: <unk> <s> </s>, every byte token, then plain tokens", async () => {
    const mla = makeConfig({ dim: 4, n_heads: 1, q_lora_rank: 0, kv_lora_rank: 2, qk_nope_head_dim: 2, qk_rope_head_dim: 2, v_head_dim: 2, max_seq_len: 8, original_seq_len: 8, n_layers: 1, max_batch_size: 1 });
    for (const vocab of [BYTE_VOCAB_SIZE, BYTE_VOCAB_SIZE + 3]) {
      const f = await openGguf(bytesSource(tinyModelToGguf({ mla, vocab, ffn: 2 }, randomTinyModel({ mla, vocab, ffn: 2 }, new Rng(2)))));
      const tokens = f.metadata.get("tokenizer.ggml.tokens") as string[], types = f.metadata.get("tokenizer.ggml.token_type") as number[];
      expect(f.metadata.get("tokenizer.ggml.model")).toBe("llama");
      expect(tokens.length).toBe(vocab);
      expect(types.length).toBe(vocab);
      expect((f.metadata.get("tokenizer.ggml.scores") as number[]).length).toBe(vocab);
      expect(tokens.slice(0, 3)).toEqual(["<unk>", "<s>", "</s>"]);
      for (let b = 0; b < 256; b++) {
        expect(tokens[3 + b]).toBe(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
        expect(types[3 + b]).toBe(6);
      }
      expect(new Set(tokens).size).toBe(vocab);
      expect([f.metadata.get("tokenizer.ggml.unknown_token_id"), f.metadata.get("tokenizer.ggml.bos_token_id"), f.metadata.get("tokenizer.ggml.eos_token_id")]).toEqual([0, 1, 2]);
      // llama.cpp's deepseek2 loader requires the MoE keys even when every layer is dense.
      expect(f.metadata.get("deepseek2.expert_weights_scale")).toBe(1);
      expect(f.metadata.get("deepseek2.leading_dense_block_count")).toBe(1);
    }
    const small = await openGguf(bytesSource(tinyModelToGguf({ mla, vocab: 5, ffn: 2 }, randomTinyModel({ mla, vocab: 5, ffn: 2 }, new Rng(2)))));
    expect(small.metadata.has("tokenizer.ggml.tokens")).toBe(false);
    expect(() => byteVocabMetadata(BYTE_VOCAB_SIZE - 1)).toThrow(ConfigError);
  });
});
