// The models the native bench hands llama.cpp, written by mlakit as deepseek2 GGUF files:
//   - check models: tiny whole models (src/reference/tiny-model.ts), small enough that the oracle
//     evaluates every logit and its rounding bound; sizes are multiples of 32 so Q8_0 applies;
//   - geometry models: one layer with DeepSeek-V2-Lite's or V3's attention and the bench's own
//     random attention weights (bench/step.ts benchWeights, seed 101), a 32-wide FFN and the
//     259-token byte vocabulary: what llama.cpp times against mlakit's step on the same weights.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type MlaConfig, PRESETS, makeConfig } from "../../src/config.js";
import { Rng } from "../../src/weights.js";
import { type TinyModelConfig, type TinyModelWeights, randomTinyModel } from "../../src/reference/tiny-model.js";
import { BYTE_VOCAB_SIZE, tinyModelToGguf } from "../../src/io/mla-gguf.js";
import type { GgmlTypeName } from "../../src/io/gguf.js";
import type { LlamaCppWeightType } from "../../src/reference/tiny-model-bound.js";
import { benchWeights } from "../step.js";

export const NATIVE_WEIGHT_TYPES = ["F32", "F16", "Q8_0"] as const satisfies readonly (LlamaCppWeightType & GgmlTypeName)[];
export type NativeWeightType = (typeof NATIVE_WEIGHT_TYPES)[number];

export interface CheckModel {
  name: string;
  /** What the model exercises. */
  what: string;
  cfg: TinyModelConfig;
  seed: number;
}

const tiny = (mla: Partial<MlaConfig>): MlaConfig => makeConfig({ dim: 64, kv_lora_rank: 32, qk_nope_head_dim: 32, qk_rope_head_dim: 16, v_head_dim: 32, n_layers: 2, max_batch_size: 1, ...mla });

export const CHECK_MODELS: CheckModel[] = [
  {
    name: "tiny-lite",
    what: "V2-Lite's shape of attention: one wq (q_lora_rank 0), 2 heads, 2 layers, no YaRN",
    cfg: { mla: tiny({ n_heads: 2, q_lora_rank: 0, max_seq_len: 4096, original_seq_len: 4096 }), vocab: BYTE_VOCAB_SIZE, ffn: 64 },
    seed: 7,
  },
  {
    name: "tiny-v3",
    what: "V3's shape: q-LoRA (rank 32), 3 heads, 2 layers, YaRN (factor 16 over 256 positions, mscale 0.707)",
    cfg: { mla: tiny({ n_heads: 3, q_lora_rank: 32, max_seq_len: 4096, original_seq_len: 256, rope_factor: 16, mscale: 0.707 }), vocab: BYTE_VOCAB_SIZE, ffn: 64 },
    seed: 8,
  },
];

export interface GeometryModel {
  model: "V2-Lite" | "V3";
  cfg: TinyModelConfig;
  weights: TinyModelWeights;
}

/** One layer of a preset's attention with the bench's weights, plus the small rest of a model. */
export function geometryModel(model: "V2-Lite" | "V3", maxSeqLen: number): GeometryModel {
  const preset = model === "V3" ? "deepseek-v3" : "deepseek-v2-lite";
  const mla = makeConfig({ ...PRESETS[preset], max_seq_len: maxSeqLen, max_batch_size: 1, n_layers: 1 });
  const cfg: TinyModelConfig = { mla, vocab: BYTE_VOCAB_SIZE, ffn: 32 };
  const rest = randomTinyModel({ ...cfg, mla: { ...mla, dim: mla.dim, n_layers: 0 } }, new Rng(102));
  const rng = new Rng(103), D = mla.dim, F = cfg.ffn;
  const layer = {
    attn_norm: Float32Array.from({ length: D }, () => rng.uniform(0.6, 1.4)),
    mla: benchWeights(mla, 101),
    ffn_norm: Float32Array.from({ length: D }, () => rng.uniform(0.6, 1.4)),
    ffn_gate: rng.normalArray(F * D, 1 / Math.sqrt(D)),
    ffn_up: rng.normalArray(F * D, 1 / Math.sqrt(D)),
    ffn_down: rng.normalArray(D * F, 1 / Math.sqrt(F)),
  };
  return { model, cfg, weights: { ...rest, layers: [layer] } };
}

/** Elements of the model's weights outside the attention (embedding row, FFN, output), per decode step read. */
export function nonAttentionWeights(cfg: TinyModelConfig): number {
  const D = cfg.mla.dim;
  return D + 3 * cfg.ffn * D + cfg.vocab * D;
}

/** Writes the model as `<dir>/<name>-<type>.gguf` and returns its path. */
export function writeModel(dir: string, name: string, cfg: TinyModelConfig, w: TinyModelWeights, type: NativeWeightType): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}-${type}.gguf`);
  writeFileSync(path, tinyModelToGguf(cfg, w, { type }));
  return path;
}

/** A prompt of S byte tokens (ids 3..258) that does not repeat with a short period. */
export const promptTokens = (S: number): number[] => Array.from({ length: S }, (_, i) => 3 + ((i * 37 + 11) % 256));
