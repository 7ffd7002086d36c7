// DeepSeek2 attention in GGUF, as llama.cpp's converter (convert_hf_to_gguf.py, DeepseekV2Model)
// writes it and its deepseek2 model reads it:
//   metadata  general.architecture = "deepseek2"; deepseek2.{embedding_length, block_count,
//             context_length, attention.head_count, attention.head_count_kv (1: the latent is
//             one shared "head"), attention.q_lora_rank (0 when wq is one matrix),
//             attention.kv_lora_rank, attention.key_length = C + dr and value_length = C (the
//             latent-only cache), attention.key_length_mla = dn + dr and value_length_mla = dv,
//             rope.dimension_count = dr, rope.freq_base, rope.scaling.{type "yarn", factor,
//             original_context_length, yarn_log_multiplier = 0.1 x mscale_all_dim},
//             leading_dense_block_count, attention.layer_norm_rms_epsilon}
//   tensors   blk.N.attn_q (or attn_q_a, attn_q_a_norm, attn_q_b), attn_kv_a_mqa, attn_kv_a_norm,
//             attn_k_b [H, C, dn] and attn_v_b [H, dv, C] (wkv_b split per head, k_b transposed
//             for the absorbed product) or the older single attn_kv_b, attn_output; dims stored
//             innermost first, so a PyTorch [N, K] weight has dims [K, N].
// RoPE rows are as DeepSeek stores them (llama.cpp runs deepseek2 with adjacent-pair rotation,
// the official layout), so no permutation is involved. `ggufMlaStore` presents a GGUF's layers
// under the official names (layers.N.attn.*), reassembling wkv_b from attn_k_b / attn_v_b, so
// loadMlaWeights reads a GGUF as it reads a safetensors checkpoint.

import { type MlaConfig, makeConfig } from "../config.js";
import { ConfigError, FormatError } from "../errors.js";
import { type MlaWeightName, type MlaWeights, checkMlaWeights, mlaWeightShapes } from "../weights.js";
import { type GgmlTypeName, type GgufFile, type GgufTensorToWrite, type GgufTypedValue, type GgufValue, writeGguf } from "./gguf.js";
import { weightTensorName } from "./hf-names.js";
import type { TensorInfo } from "./safetensors.js";
import { type TensorStore, loadMlaWeights } from "./mla-safetensors.js";
import { type TinyLayerWeights, type TinyModelConfig, type TinyModelWeights, checkTinyModel } from "../reference/tiny-model.js";
import { joinWkvB, splitWkvB } from "../wkv-b.js";

export const DEEPSEEK2 = "deepseek2";

/** GGUF tensor name (without "blk.N." and ".weight") of each MLA weight; wkv_b is attn_k_b + attn_v_b (or attn_kv_b). */
export const GGUF_MLA_NAMES: Readonly<Record<Exclude<MlaWeightName, "wkv_b">, string>> = {
  wq: "attn_q", wq_a: "attn_q_a", q_norm: "attn_q_a_norm", wq_b: "attn_q_b", wkv_a: "attn_kv_a_mqa", kv_norm: "attn_kv_a_norm", wo: "attn_output",
};

const num = (file: GgufFile, key: string, required: boolean): number | undefined => {
  const v: GgufValue | undefined = file.metadata.get(key);
  if (v === undefined) {
    if (required) throw new FormatError(`${file.source}: ${key}`, undefined, "a number (the deepseek2 metadata llama.cpp's converter writes)");
    return undefined;
  }
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isFinite(n)) throw new FormatError(`${file.source}: ${key}`, typeof v === "object" ? "an array" : v, "a number");
  return n;
};

/** The MlaConfig of a deepseek2 GGUF's attention (official rules: YaRN on when the context exceeds the original one). */
export function deepseek2Config(file: GgufFile, overrides: Partial<MlaConfig> = {}): MlaConfig {
  const arch = file.metadata.get("general.architecture");
  if (arch !== DEEPSEEK2) throw new FormatError(`${file.source}: general.architecture`, arch, `"${DEEPSEEK2}"`);
  const k = (s: string, required = true) => num(file, `${DEEPSEEK2}.${s}`, required);
  const dr = k("rope.dimension_count")!;
  // The MLA-split files (head_count_kv 1) carry the per-head sizes as *_mla; older ones as key/value_length.
  const keyLen = k("attention.key_length_mla", false) ?? k("attention.key_length")!;
  const valueLen = k("attention.value_length_mla", false) ?? k("attention.value_length")!;
  const ctx = k("context_length")!;
  const yarn = file.metadata.get(`${DEEPSEEK2}.rope.scaling.type`) === "yarn";
  const logMul = k("rope.scaling.yarn_log_multiplier", false);
  return makeConfig({
    dim: k("embedding_length")!,
    n_heads: k("attention.head_count")!,
    q_lora_rank: k("attention.q_lora_rank", false) ?? 0,
    kv_lora_rank: k("attention.kv_lora_rank")!,
    qk_nope_head_dim: keyLen - dr,
    qk_rope_head_dim: dr,
    v_head_dim: valueLen,
    max_seq_len: ctx,
    original_seq_len: yarn ? (k("rope.scaling.original_context_length", false) ?? ctx) : ctx,
    rope_theta: k("rope.freq_base", false) ?? 10000,
    rope_factor: yarn ? (k("rope.scaling.factor", false) ?? 1) : 1,
    ...(yarn && logMul !== undefined && { mscale: logMul / 0.1 }),
    n_layers: k("block_count")!,
    ...overrides,
  });
}

/** The layers of a GGUF that hold MLA attention (blk.N.attn_kv_a_mqa present). */
export function ggufMlaLayers(file: GgufFile): number[] {
  const out: number[] = [];
  for (const name of file.tensors.keys()) {
    const m = /^blk\.(\d+)\.attn_kv_a_mqa\.weight$/.exec(name);
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

/**
 * A TensorStore over a GGUF's MLA layers under the official names (layers.N.attn.wq_a.weight, ...):
 * loadMlaWeights(ggufMlaStore(file), deepseek2Config(file), { layer }) loads it like a checkpoint.
 * F16, BF16 and Q8_0 tensors are widened to float32 exactly; wkv_b is rebuilt from attn_k_b and
 * attn_v_b per head (or read from attn_kv_b).
 */
export function ggufMlaStore(file: GgufFile): TensorStore {
  const tensors = new Map<string, TensorInfo>();
  const readers = new Map<string, () => Promise<Float32Array>>();
  const info = (name: string, shape: number[]): TensorInfo => ({ name, dtype: "F32", shape, begin: 0, end: 0 });
  for (const layer of ggufMlaLayers(file)) {
    const blk = (t: string) => `blk.${layer}.${t}.weight`;
    for (const [w, t] of Object.entries(GGUF_MLA_NAMES) as [MlaWeightName, string][]) {
      const g = file.tensors.get(blk(t));
      if (!g) continue;
      const name = weightTensorName(w, "official", layer);
      tensors.set(name, info(name, w === "q_norm" || w === "kv_norm" ? [g.dims.reduce((a, b) => a * b, 1)] : g.shape));
      readers.set(name, () => file.read(g.name));
    }
    const name = weightTensorName("wkv_b", "official", layer);
    const kvb = file.tensors.get(blk("attn_kv_b")), kb = file.tensors.get(blk("attn_k_b")), vb = file.tensors.get(blk("attn_v_b"));
    if (kb && vb) {
      // k_b [H, C, dn], v_b [H, dv, C] (row-major shapes) -> wkv_b [H (dn + dv), C]
      const [H, C, dn] = kb.shape.length === 3 ? kb.shape : [1, ...kb.shape];
      const [Hv, dv, Cv] = vb.shape.length === 3 ? vb.shape : [1, ...vb.shape];
      if (kb.shape.length > 3 || vb.shape.length > 3 || H !== Hv || C !== Cv) throw new FormatError(`${file.source}: blk.${layer}.attn_k_b / attn_v_b shapes`, `[${kb.shape.join(", ")}] / [${vb.shape.join(", ")}]`, "[H, C, dn] and [H, dv, C] with the same H and C");
      tensors.set(name, info(name, [H * (dn + dv), C]));
      readers.set(name, async () => {
        return joinWkvB(await file.read(kb.name), await file.read(vb.name), H, C, dn, dv);
      });
    } else if (kvb) {
      tensors.set(name, info(name, kvb.shape));
      readers.set(name, () => file.read(kvb.name));
    }
  }
  return {
    tensors,
    read: (n) => {
      const r = readers.get(n);
      if (!r) throw new FormatError(`${file.source}: tensor`, n, "an MLA weight of the file");
      return r();
    },
  };
}

export interface MlaGgufOptions {
  /** Tensor type of the projections (the norms are always F32, as llama.cpp's converter keeps 1-D tensors). Default F32. */
  type?: GgmlTypeName;
  /** Also write the single attn_kv_b llama.cpp's non-MLA path reads (default false). */
  kvB?: boolean;
  /** Extra metadata (a model's other fields), added after the attention's. */
  metadata?: Record<string, GgufTypedValue>;
}

/** The deepseek2 metadata of an attention config (every layer dense; feed_forward_length and vocabulary are the caller's). */
export function deepseek2Metadata(cfg: MlaConfig, layers: number): Record<string, GgufTypedValue> {
  const u32 = (value: number): GgufTypedValue => ({ type: "u32", value });
  const f32 = (value: number): GgufTypedValue => ({ type: "f32", value });
  const a = (s: string) => `${DEEPSEEK2}.${s}`;
  const C = cfg.kv_lora_rank, dr = cfg.qk_rope_head_dim;
  const yarnOn = cfg.max_seq_len > cfg.original_seq_len;
  return {
    "general.architecture": { type: "string", value: DEEPSEEK2 },
    [a("block_count")]: u32(layers),
    [a("context_length")]: u32(cfg.max_seq_len),
    [a("embedding_length")]: u32(cfg.dim),
    [a("attention.head_count")]: u32(cfg.n_heads),
    [a("attention.head_count_kv")]: u32(1),
    [a("attention.q_lora_rank")]: u32(cfg.q_lora_rank), // written even when 0: llama.cpp reads 0 as "one wq"
    [a("attention.kv_lora_rank")]: u32(C),
    [a("attention.key_length")]: u32(C + dr),
    [a("attention.value_length")]: u32(C),
    [a("attention.key_length_mla")]: u32(cfg.qk_nope_head_dim + dr),
    [a("attention.value_length_mla")]: u32(cfg.v_head_dim),
    [a("attention.layer_norm_rms_epsilon")]: f32(1e-6),
    [a("rope.dimension_count")]: u32(dr),
    [a("rope.freq_base")]: f32(cfg.rope_theta),
    [a("leading_dense_block_count")]: u32(layers),
    // Every layer is dense, but llama.cpp's deepseek2 loader requires the MoE keys.
    [a("expert_feed_forward_length")]: u32(0),
    [a("expert_shared_count")]: u32(0),
    [a("expert_weights_scale")]: f32(1),
    ...(yarnOn && {
      [a("rope.scaling.type")]: { type: "string", value: "yarn" },
      [a("rope.scaling.factor")]: f32(cfg.rope_factor),
      [a("rope.scaling.original_context_length")]: u32(cfg.original_seq_len),
      [a("rope.scaling.yarn_log_multiplier")]: f32(0.1 * cfg.mscale),
    }),
  };
}

/** The GGUF tensors of one layer's MLA weights (blk.N.*), wkv_b split into attn_k_b / attn_v_b as the converter does. */
export function mlaGgufTensors(cfg: MlaConfig, w: MlaWeights, layer: number, opts: MlaGgufOptions = {}): Record<string, GgufTensorToWrite> {
  checkMlaWeights(cfg, w);
  const type = opts.type ?? "F32";
  const shapes = mlaWeightShapes(cfg);
  const out: Record<string, GgufTensorToWrite> = {};
  for (const [name, t] of Object.entries(GGUF_MLA_NAMES) as [Exclude<MlaWeightName, "wkv_b">, string][]) {
    const data = w[name];
    if (!data) continue;
    const norm = name === "q_norm" || name === "kv_norm";
    out[`blk.${layer}.${t}.weight`] = { type: norm ? "F32" : type, shape: shapes[name] as number[], data };
  }
  const { n_heads: H, kv_lora_rank: C, qk_nope_head_dim: dn, v_head_dim: dv } = cfg;
  const { kb, vb } = splitWkvB(w.wkv_b, H, C, dn, dv);
  out[`blk.${layer}.attn_k_b.weight`] = { type, shape: [H, C, dn], data: kb };
  out[`blk.${layer}.attn_v_b.weight`] = { type, shape: [H, dv, C], data: vb };
  if (opts.kvB) out[`blk.${layer}.attn_kv_b.weight`] = { type, shape: [H * (dn + dv), C], data: w.wkv_b };
  return out;
}

/** A deepseek2 GGUF of MLA layers (the attention only: a model's other tensors go in through opts.metadata and extra tensors). */
export function mlaWeightsToGguf(cfg: MlaConfig, layers: readonly MlaWeights[], opts: MlaGgufOptions & { extraTensors?: Record<string, GgufTensorToWrite> } = {}): Uint8Array {
  const tensors: Record<string, GgufTensorToWrite> = {};
  layers.forEach((w, i) => Object.assign(tensors, mlaGgufTensors(cfg, w, i, opts)));
  return writeGguf({ ...deepseek2Metadata(cfg, layers.length), ...opts.metadata }, { ...tensors, ...opts.extraTensors });
}

// ---------------------------------------------------------------------------------------------
// A whole tiny DeepSeek2 model (src/reference/tiny-model.ts): what llama.cpp loads as a model.

const MODEL_TENSORS = { attn_norm: "attn_norm", ffn_norm: "ffn_norm", ffn_gate: "ffn_gate", ffn_up: "ffn_up", ffn_down: "ffn_down" } as const;

/** The smallest vocabulary llama.cpp's SPM ("llama") tokenizer initialises: <unk>, <s>, </s> and the 256 byte tokens. */
export const BYTE_VOCAB_SIZE = 3 + 256;

/**
 * Tokenizer metadata for a model of `vocab` tokens: an SPM vocabulary whose ids 0-2 are <unk>, <s>,
 * </s>, 3-258 the byte tokens <0x00>..<0xFF> (llama.cpp's vocabulary loader requires every byte
 * token) and any further ids plain tokens "<tN>". Scores are 0 (no merges are ever scored: the
 * model is run on token ids, not text).
 */
export function byteVocabMetadata(vocab: number): Record<string, GgufTypedValue> {
  if (!Number.isInteger(vocab) || vocab < BYTE_VOCAB_SIZE) throw new ConfigError("vocab", vocab, `an integer >= ${BYTE_VOCAB_SIZE} (<unk>, <s>, </s> and 256 byte tokens)`);
  const hex = (b: number) => b.toString(16).toUpperCase().padStart(2, "0");
  const tokens = Array.from({ length: vocab }, (_, i) => (i === 0 ? "<unk>" : i === 1 ? "<s>" : i === 2 ? "</s>" : i < BYTE_VOCAB_SIZE ? `<0x${hex(i - 3)}>` : `<t${i}>`));
  // llama.cpp's token types: 1 normal, 2 unknown, 3 control, 6 byte.
  const types = tokens.map((_, i) => (i === 0 ? 2 : i < 3 ? 3 : i < BYTE_VOCAB_SIZE ? 6 : 1));
  return {
    "tokenizer.ggml.model": { type: "string", value: "llama" },
    "tokenizer.ggml.tokens": { type: "array", of: "string", value: tokens },
    "tokenizer.ggml.scores": { type: "array", of: "f32", value: tokens.map(() => 0) },
    "tokenizer.ggml.token_type": { type: "array", of: "i32", value: types },
    "tokenizer.ggml.unknown_token_id": { type: "u32", value: 0 },
    "tokenizer.ggml.bos_token_id": { type: "u32", value: 1 },
    "tokenizer.ggml.eos_token_id": { type: "u32", value: 2 },
    "tokenizer.ggml.add_bos_token": { type: "bool", value: false },
  };
}

/**
 * A tiny model as a deepseek2 GGUF: the attention as mlaGgufTensors writes it, plus token_embd,
 * per layer attn_norm / ffn_norm (F32) and ffn_gate / ffn_up / ffn_down, output_norm and output.
 * A vocabulary of at least BYTE_VOCAB_SIZE gets byteVocabMetadata's tokenizer, so llama.cpp can
 * load the file as a model; opts.metadata overrides it.
 */
export function tinyModelToGguf(cfg: TinyModelConfig, w: TinyModelWeights, opts: MlaGgufOptions = {}): Uint8Array {
  checkTinyModel(cfg, w);
  const type = opts.type ?? "F32", D = cfg.mla.dim, F = cfg.ffn, V = cfg.vocab;
  const tensors: Record<string, GgufTensorToWrite> = { "token_embd.weight": { type, shape: [V, D], data: w.token_embd } };
  w.layers.forEach((l, i) => {
    Object.assign(tensors, mlaGgufTensors(cfg.mla, l.mla, i, opts));
    tensors[`blk.${i}.attn_norm.weight`] = { type: "F32", shape: [D], data: l.attn_norm };
    tensors[`blk.${i}.ffn_norm.weight`] = { type: "F32", shape: [D], data: l.ffn_norm };
    tensors[`blk.${i}.ffn_gate.weight`] = { type, shape: [F, D], data: l.ffn_gate };
    tensors[`blk.${i}.ffn_up.weight`] = { type, shape: [F, D], data: l.ffn_up };
    tensors[`blk.${i}.ffn_down.weight`] = { type, shape: [D, F], data: l.ffn_down };
  });
  tensors["output_norm.weight"] = { type: "F32", shape: [D], data: w.output_norm };
  tensors["output.weight"] = { type, shape: [V, D], data: w.output };
  const meta = {
    ...deepseek2Metadata(cfg.mla, w.layers.length),
    [`${DEEPSEEK2}.feed_forward_length`]: { type: "u32", value: F } as GgufTypedValue,
    [`${DEEPSEEK2}.vocab_size`]: { type: "u32", value: V } as GgufTypedValue,
    ...(V >= BYTE_VOCAB_SIZE && byteVocabMetadata(V)),
    ...opts.metadata,
  };
  return writeGguf(meta, tensors);
}

/** A tiny model back from its GGUF (every tensor widened to float32 exactly). */
export async function loadTinyModel(file: GgufFile): Promise<{ config: TinyModelConfig; weights: TinyModelWeights }> {
  const mla = deepseek2Config(file);
  const read = async (name: string, shape: number[]): Promise<Float32Array> => {
    const t = file.tensors.get(name);
    if (!t) throw new FormatError(`${file.source}: tensor`, name, "a tensor of a deepseek2 model");
    if (t.shape.join(",") !== shape.join(",")) throw new FormatError(`${file.source}: ${name}.shape`, t.shape, `[${shape.join(", ")}]`);
    return file.read(name);
  };
  const embd = file.tensors.get("token_embd.weight");
  if (!embd || embd.shape.length !== 2) throw new FormatError(`${file.source}: token_embd.weight`, embd?.shape, "a [vocab, dim] tensor");
  const V = embd.shape[0], D = mla.dim;
  const F = num(file, `${DEEPSEEK2}.feed_forward_length`, true)!;
  const config: TinyModelConfig = { mla, vocab: V, ffn: F };
  const store = ggufMlaStore(file);
  const layers: TinyLayerWeights[] = [];
  for (let i = 0; i < mla.n_layers; i++) {
    const blk = (t: string) => `blk.${i}.${t}.weight`;
    layers.push({
      attn_norm: await read(blk(MODEL_TENSORS.attn_norm), [D]),
      mla: (await loadMlaWeights(store, mla, { layer: i })).weights,
      ffn_norm: await read(blk(MODEL_TENSORS.ffn_norm), [D]),
      ffn_gate: await read(blk(MODEL_TENSORS.ffn_gate), [F, D]),
      ffn_up: await read(blk(MODEL_TENSORS.ffn_up), [F, D]),
      ffn_down: await read(blk(MODEL_TENSORS.ffn_down), [D, F]),
    });
  }
  return { config, weights: { token_embd: await read("token_embd.weight", [V, D]), layers, output_norm: await read("output_norm.weight", [D]), output: await read("output.weight", [V, D]) } };
}
