// MLA weights from and to safetensors, by official or Hugging Face names, one layer at a time.
//
// RoPE layout. DeepSeek's weights store every q_pe / k_pe head INTERLEAVED: rotation pairs are
// rows (2i, 2i+1) of the rope part of wq/wq_b (per head) and of wkv_a (rows C..C+dr-1). The HF
// checkpoints are the same tensors: convert.py only renames, and HF's modeling_deepseek.py
// apply_rotary_pos_emb de-interleaves q_pe/k_pe at run time
// (`q.view(b, h, s, d // 2, 2).transpose(4, 3).reshape(b, h, s, d)`) before rotate_half, which
// rotates exactly the official pairs. So a DeepSeek HF checkpoint needs NO permutation.
// transformers' DeepseekV3 also accepts `rope_interleave: false` (config -> rope_layout "half"):
// then rotate_half is applied to the stored rows directly, pairing (i, i + dr/2). Such weights
// are mapped onto the official layout by interleaving the rope rows: new[2i] = old[i],
// new[2i+1] = old[i + dr/2] (and q_pe.k_pe is unchanged because q and k move together).
// That permutation is what `layout: "official"` applies when config.rope_layout is "half".
// Everything else lines up row for row: HF splits kv_a_proj_with_mqa's output as [c_kv (C) | k_pe
// (dr)], q_b_proj / q_proj per head as [q_nope (dn) | q_pe (dr)], kv_b_proj per head as [k_nope
// (dn) | v (dv)], exactly the official order.

import type { MlaConfig } from "../config.js";
import { FormatError, ShapeError } from "../errors.js";
import { type MlaWeightName, type MlaWeights, checkMlaWeights, mlaWeightShapes } from "../weights.js";
import { type MlaWeightsInput, type QuantisedWeight, checkMlaWeightsInput, checkQuantisedWeight, isQuantisedWeight } from "../weight-formats.js";
import { type Naming, type ParsedName, parseWeightName, weightTensorName } from "./hf-names.js";
import { type TensorInfo, type TensorToWrite, type WritableDtype, writeSafetensors } from "./safetensors.js";

/** Anything that lists tensors and reads one on request (a SafetensorsFile, or several merged). */
export interface TensorStore {
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  read(name: string): Promise<Float32Array | Float64Array>;
  /** The stored bytes of a tensor (needed to keep FP8 tensors quantised). */
  readBytes?(name: string): Promise<Uint8Array>;
}

export interface LoadMlaOptions {
  /** Which layer of a multi-layer file ("layers.N." in the names). Required when the file holds several. */
  layer?: number;
  /**
   * "official" (default): return weights in DeepSeek's interleaved RoPE layout and a config with
   * rope_layout "interleaved", permuting rope rows when config.rope_layout is "half".
   * "as-stored": return the rows as stored and the config unchanged.
   */
  layout?: "official" | "as-stored";
  /** Block size of FP8 weight scales, rows x columns (DeepSeek: 128x128, weight = fp8 * scale[i/128, j/128]; HF config quantization_config.weight_block_size). */
  fp8BlockSize?: number | readonly [number, number];
  /**
   * Keep F8_E4M3 projections with block scales as they are stored (QuantisedWeight: codes and
   * scales, no float copy) for a backend that takes them (createWasmBackend); default false:
   * dequantise to float32 (DeepSeek's weight_dequant). Needs a store with readBytes.
   */
  keepFp8?: boolean;
}

export interface LoadedMla<W extends MlaWeights | MlaWeightsInput = MlaWeights> {
  /** Float arrays; with keepFp8 the FP8 projections are QuantisedWeight. */
  weights: W;
  /** The config the weights are meant for (rope_layout "interleaved" after a layout conversion). */
  config: MlaConfig;
  naming: Naming;
  layer: number | null;
  /** Tensor name each weight was read from. */
  names: Partial<Record<MlaWeightName, string>>;
  /** True when rope rows were permuted half -> interleaved. */
  permutedRope: boolean;
}

/** The layers a store holds MLA weights for (null = unprefixed names). */
export function mlaLayers(store: TensorStore): (number | null)[] {
  const layers = new Set<number | null>();
  for (const name of store.tensors.keys()) {
    const p = parseWeightName(name);
    if (p) layers.add(p.layer);
  }
  return [...layers].sort((a, b) => (a ?? -1) - (b ?? -1));
}

/** Load one layer's MLA weights, reading only that layer's tensors. */
export async function loadMlaWeights(store: TensorStore, config: MlaConfig, opts?: LoadMlaOptions & { keepFp8?: false }): Promise<LoadedMla>;
export async function loadMlaWeights(store: TensorStore, config: MlaConfig, opts: LoadMlaOptions): Promise<LoadedMla<MlaWeights | MlaWeightsInput>>;
export async function loadMlaWeights(store: TensorStore, config: MlaConfig, opts: LoadMlaOptions = {}): Promise<LoadedMla<MlaWeights | MlaWeightsInput>> {
  const layers = mlaLayers(store);
  if (layers.length === 0) throw new FormatError("tensors", [...store.tensors.keys()].slice(0, 8), "MLA weights by official (wq_a, wkv_a, ...) or Hugging Face (self_attn.q_a_proj, kv_a_proj_with_mqa, ...) names");
  let layer: number | null;
  if (opts.layer !== undefined) {
    if (!layers.includes(opts.layer)) throw new FormatError("layer", opts.layer, `one of the layers in the file: ${layers.map((l) => l ?? "(unprefixed)").join(", ")}`);
    layer = opts.layer;
  } else if (layers.length === 1) layer = layers[0];
  else throw new FormatError("layer", undefined, `a layer index: the file holds MLA weights of layers ${layers.map((l) => l ?? "(unprefixed)").join(", ")}`);

  // name -> tensor for this layer, refusing two tensors for the same weight.
  const found = new Map<string, { tensor: string; parsed: ParsedName }>();
  for (const name of store.tensors.keys()) {
    const p = parseWeightName(name);
    if (!p || p.layer !== layer) continue;
    const key = `${p.weight}.${p.part}`;
    const prev = found.get(key);
    if (prev) throw new FormatError("tensors", [prev.tensor, name], `one tensor per weight (both are ${p.weight}${p.part === "scale" ? " scales" : ""})`);
    found.set(key, { tensor: name, parsed: p });
  }
  const shapes = mlaWeightShapes(config);
  const weights: Record<string, Float32Array | Float64Array | QuantisedWeight> = {};
  const names: Partial<Record<MlaWeightName, string>> = {};
  let naming: Naming | undefined;
  for (const [w, shape] of Object.entries(shapes) as [MlaWeightName, number[]][]) {
    const hit = found.get(`${w}.weight`);
    if (!hit) {
      throw new ShapeError(`weights.${w}`, undefined, `a tensor named ${weightTensorName(w, "official", layer)} or ${weightTensorName(w, "hf", layer)} (config needs [${shape.join(", ")}])`);
    }
    const info = store.tensors.get(hit.tensor)!;
    if (info.shape.join(",") !== shape.join(",")) throw new ShapeError(`${hit.tensor}.shape`, info.shape, `[${shape.join(", ")}] for this config`);
    naming ??= hit.parsed.naming;
    const scale = found.get(`${w}.scale`);
    if (scale && info.dtype === "F8_E4M3" && opts.keepFp8) {
      weights[w] = await keptFp8(store, hit.tensor, shape, scale.tensor, opts.fp8BlockSize ?? 128);
      names[w] = hit.tensor;
      continue;
    }
    let data = await store.read(hit.tensor);
    if (scale && info.dtype.startsWith("F8")) data = await dequantFp8(store, data, shape, scale.tensor, opts.fp8BlockSize ?? 128);
    weights[w] = data;
    names[w] = hit.tensor;
  }
  let cfg = config;
  let permutedRope = false;
  if ((opts.layout ?? "official") === "official" && config.rope_layout === "half") {
    const kept = Object.entries(weights).filter(([, v]) => isQuantisedWeight(v)).map(([n]) => n);
    if (kept.length) throw new FormatError("keepFp8", true, `false for a checkpoint in the half RoPE layout (its rope rows are permuted to the official layout, which the kept FP8 tensors ${kept.join(", ")} cannot be), or layout "as-stored"`);
    permuteRopeRows(weights as unknown as MlaWeights, config, "half-to-interleaved");
    cfg = { ...config, rope_layout: "interleaved" };
    permutedRope = true;
  }
  checkMlaWeightsInput(cfg, weights as unknown as MlaWeightsInput);
  return { weights: weights as unknown as MlaWeightsInput, config: cfg, naming: naming!, layer, names, permutedRope };
}

/** An F8_E4M3 tensor and its block scales as a QuantisedWeight (bytes as stored). */
async function keptFp8(store: TensorStore, name: string, shape: number[], scaleName: string, block: number | readonly [number, number]): Promise<QuantisedWeight> {
  if (!store.readBytes) throw new FormatError("keepFp8", true, "a store that reads tensors' bytes (openCheckpoint / openSafetensors)");
  const [br, bc] = fp8Block(block), rows = shape[0], cols = shape[1];
  const want = [Math.ceil(rows / br), Math.ceil(cols / bc)];
  const sInfo = store.tensors.get(scaleName)!;
  const got = sInfo.shape.length === 1 ? [sInfo.shape[0], 1] : sInfo.shape;
  if (got.join(",") !== want.join(",")) throw new ShapeError(`${scaleName}.shape`, sInfo.shape, `[${want.join(", ")}] (${br}x${bc} blocks of a [${shape.join(", ")}] weight)`);
  const codes = await store.readBytes(name);
  const q: QuantisedWeight = { format: "fp8", shape: [rows, cols], codes, scales: Float32Array.from(await store.read(scaleName)), block: [br, bc] };
  checkQuantisedWeight(name, q, [rows, cols]);
  return q;
}

function fp8Block(block: number | readonly [number, number]): [number, number] {
  const [br, bc] = typeof block === "number" ? [block, block] : block;
  if (!(Number.isInteger(br) && br > 0 && Number.isInteger(bc) && bc > 0)) throw new FormatError("fp8BlockSize", block, "a positive integer or [rows, cols] of positive integers");
  return [br, bc];
}

/** weight[i, j] = fp8[i, j] * scale[floor(i/br), floor(j/bc)] (DeepSeek's weight_dequant). */
async function dequantFp8(store: TensorStore, data: Float32Array | Float64Array, shape: number[], scaleName: string, block: number | readonly [number, number]): Promise<Float32Array> {
  const [br, bc] = fp8Block(block);
  const rows = shape[0], cols = shape.length > 1 ? shape[1] : 1;
  const want = [Math.ceil(rows / br), Math.ceil(cols / bc)];
  const sInfo = store.tensors.get(scaleName)!;
  const got = sInfo.shape.length === 1 ? [sInfo.shape[0], 1] : sInfo.shape;
  if (got.join(",") !== want.join(",")) throw new ShapeError(`${scaleName}.shape`, sInfo.shape, `[${want.join(", ")}] (${br}x${bc} blocks of a [${shape.join(", ")}] weight)`);
  const s = await store.read(scaleName);
  const out = new Float32Array(data.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] = data[i * cols + j] * s[Math.floor(i / br) * want[1] + Math.floor(j / bc)];
  return out;
}

/**
 * Permute the rope rows of wq / wq_b (per head) and wkv_a between the layouts, in place.
 * half-to-interleaved: new[2i] = old[i], new[2i+1] = old[i + dr/2]; interleaved-to-half is its inverse.
 */
export function permuteRopeRows(w: MlaWeights, cfg: MlaConfig, direction: "half-to-interleaved" | "interleaved-to-half"): void {
  const dr = cfg.qk_rope_head_dim, dn = cfg.qk_nope_head_dim, half = dr / 2;
  // src[j] = the stored row that lands at rope row j.
  const src = new Int32Array(dr);
  for (let i = 0; i < half; i++) {
    if (direction === "half-to-interleaved") {
      src[2 * i] = i;
      src[2 * i + 1] = i + half;
    } else {
      src[i] = 2 * i;
      src[i + half] = 2 * i + 1;
    }
  }
  const permute = (m: ArrayLike<number> | undefined, firstRow: number, cols: number) => {
    if (!m) return;
    const a = m as Float32Array;
    const old = a.slice(firstRow * cols, (firstRow + dr) * cols);
    for (let j = 0; j < dr; j++) a.set(old.subarray(src[j] * cols, (src[j] + 1) * cols), (firstRow + j) * cols);
  };
  const qIn = cfg.q_lora_rank === 0 ? cfg.dim : cfg.q_lora_rank;
  const q = cfg.q_lora_rank === 0 ? w.wq : w.wq_b;
  for (let h = 0; h < cfg.n_heads; h++) permute(q, h * (dn + dr) + dn, qIn);
  permute(w.wkv_a, cfg.kv_lora_rank, cfg.dim);
}

export interface SaveMlaOptions {
  naming?: Naming;
  /** Put the weights under layer N ("layers.N.attn." / "model.layers.N.self_attn."). */
  layer?: number | null;
  dtype?: WritableDtype;
  metadata?: Record<string, string>;
}

/** Serialise MLA weights as safetensors (F32 by default: bit-exact for float32 weights). */
export function mlaWeightsToSafetensors(config: MlaConfig, weights: MlaWeights, opts: SaveMlaOptions = {}): Uint8Array {
  return writeSafetensors(mlaWeightTensors(config, weights, opts), opts.metadata ?? {});
}

/** The named tensors mlaWeightsToSafetensors writes (to combine several layers in one file). */
export function mlaWeightTensors(config: MlaConfig, weights: MlaWeights, opts: SaveMlaOptions = {}): Record<string, TensorToWrite> {
  checkMlaWeights(config, weights);
  const out: Record<string, TensorToWrite> = {};
  for (const [w, shape] of Object.entries(mlaWeightShapes(config)) as [MlaWeightName, number[]][]) {
    out[weightTensorName(w, opts.naming ?? "official", opts.layer ?? null)] = { dtype: opts.dtype ?? "F32", shape, data: weights[w]! };
  }
  return out;
}
