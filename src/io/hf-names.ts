// Tensor names of MLA weights in the checkpoints people have, mapped to the official names.
//   official (DeepSeek inference/model.py, after its convert.py): [layers.N.attn.]wq_a.weight, ...
//   Hugging Face (modeling_deepseek.py, transformers):             [model.layers.N.self_attn.]q_a_proj.weight, ...
// DeepSeek's convert.py renames HF -> official one-to-one (q_a_proj -> wq_a, q_a_layernorm ->
// q_norm, q_b_proj -> wq_b, q_proj -> wq, kv_a_proj_with_mqa -> wkv_a, kv_a_layernorm -> kv_norm,
// kv_b_proj -> wkv_b, o_proj -> wo; self_attn -> attn; weight_scale_inv -> scale) and does not
// permute any rows, which is what the RoPE note in mla-safetensors.ts relies on.

import type { MlaWeightName } from "../weights.js";

export const HF_TO_OFFICIAL: Readonly<Record<string, MlaWeightName>> = {
  q_proj: "wq",
  q_a_proj: "wq_a",
  q_a_layernorm: "q_norm",
  q_b_proj: "wq_b",
  kv_a_proj_with_mqa: "wkv_a",
  kv_a_layernorm: "kv_norm",
  kv_b_proj: "wkv_b",
  o_proj: "wo",
};

export const OFFICIAL_TO_HF: Readonly<Record<MlaWeightName, string>> = Object.fromEntries(Object.entries(HF_TO_OFFICIAL).map(([hf, o]) => [o, hf])) as Record<MlaWeightName, string>;

const OFFICIAL_NAMES = new Set<string>(Object.values(HF_TO_OFFICIAL));

export type Naming = "official" | "hf";

/** What a tensor name says about an MLA weight. */
export interface ParsedName {
  weight: MlaWeightName;
  naming: Naming;
  /** Layer index from a "layers.N." component, or null for a single-layer file. */
  layer: number | null;
  /** "weight" (the tensor), "scale" (an FP8 block scale: HF weight_scale_inv, official scale). */
  part: "weight" | "scale";
}

/**
 * Recognise an MLA weight name with any prefix: "wq_a", "wq_a.weight", "layers.3.attn.wq_a.weight",
 * "model.layers.3.self_attn.q_a_proj.weight", "model.layers.3.self_attn.q_a_proj.weight_scale_inv".
 * Returns null for anything else (MLP, norms of the block, embeddings, ...).
 */
export function parseWeightName(name: string): ParsedName | null {
  const parts = name.split(".");
  let part: ParsedName["part"] = "weight";
  const last = parts[parts.length - 1];
  if (last === "weight") parts.pop();
  else if (last === "weight_scale_inv" || last === "scale") {
    parts.pop();
    part = "scale";
  }
  const base = parts.pop();
  if (base === undefined) return null;
  let weight: MlaWeightName, naming: Naming;
  if (Object.hasOwn(HF_TO_OFFICIAL, base)) {
    weight = HF_TO_OFFICIAL[base];
    naming = "hf";
  } else if (OFFICIAL_NAMES.has(base)) {
    weight = base as MlaWeightName;
    naming = "official";
  } else return null;
  // The module path before the name: nothing, or ending in an attention module.
  const parent = parts[parts.length - 1];
  if (parent !== undefined && parent !== "self_attn" && parent !== "attn") return null;
  let layer: number | null = null;
  const li = parts.lastIndexOf("layers");
  if (li >= 0 && li + 1 < parts.length && /^\d+$/.test(parts[li + 1])) layer = Number(parts[li + 1]);
  return { weight, naming, layer, part };
}

/** The tensor name to write for a weight under a naming, optionally inside layer N. */
export function weightTensorName(weight: MlaWeightName, naming: Naming, layer: number | null = null): string {
  if (naming === "hf") return `${layer === null ? "" : `model.layers.${layer}.`}self_attn.${OFFICIAL_TO_HF[weight]}.weight`;
  return `${layer === null ? "" : `layers.${layer}.attn.`}${weight}.weight`;
}

/** A tensor-name filter: MLA weights (and their FP8 scales) of one layer, or of any layer when `layer` is undefined. */
export function mlaTensorFilter(layer?: number | null): (name: string) => boolean {
  return (name) => {
    const p = parseWeightName(name);
    return p !== null && (layer === undefined || p.layer === layer);
  };
}
