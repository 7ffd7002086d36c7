// From counted work to FLOPs and bytes moved, per term, for one layer and for the whole model.
//
// FLOPs = 2 x multiply-adds. Softmax exponentials are reported apart (B*H*K per call, under 1 % of
// the score FLOPs for every DeepSeek config) and are not in `flops`.
// Bytes = weights read (each matrix once per call) x weight bytes + cache elements read and
// written x the storage format's bytes per element. Activations (x, q, o: O(N*(D + H*head)) per
// call) are not counted: they are small next to weights in decode and stay in on-chip caches.
// `recompute` is priced as a fused kernel: the K/V it decompresses for every cached token never
// touch memory, which is the most favourable reading of the seed text's picture.
// `dsa` (DeepSeek-V3.2) keeps MLA's latent in the storage format and its index keys as the official
// code stores them (e4m3 + float32 scale, kv-cache.ts): the indexer terms' cache traffic (indexer
// writes, indexScores reads) is priced at the index key's bytes, every other term's at the latent's. Top-k's `ranked` is reported apart
// (no FLOPs), as the exponentials are.

import type { MlaConfig } from "../config.js";
import { ConfigError } from "../errors.js";
import { type WeightFormat, WEIGHT_FORMATS } from "../weight-formats.js";
import { type CacheFormat } from "./formats.js";
import { type KvScheme, type KvSchemeOptions, indexKeyBytesPerTokenPerLayer, indexKeyElementsPerTokenPerLayer, kvBytesPerTokenPerLayer, kvElementsPerTokenPerLayer, resolveSchemeOptions } from "./kv-cache.js";
import { type WorkTerm, WORK_TERMS } from "../work-terms.js";
import { type AnyPath, type CallShape, type ModelPath, type Work, baselineConfig, dsaWork, mhaWork, mlaWork, requireDsa, seedConfig, seedWork, totalWork } from "./work.js";

/** Which cache each path keeps (dsa: MLA's latent, and the index keys beside it). */
export const PATH_SCHEME: Record<ModelPath, KvScheme> = {
  naive: "mlaNaiveCache",
  recompute: "mla",
  absorbed: "mla",
  mha: "mha",
  gqa: "gqa",
  mqa: "mqa",
  seedPerHead: "seedPerHead",
  dsa: "mla",
};

export interface CostOptions extends KvSchemeOptions {
  /** Storage format of the KV cache. */
  format: CacheFormat;
  /** Format of the projection weights (default: defaultWeightFormat of the cache format). */
  weightFormat?: WeightFormat;
}

/**
 * The k-group of the scaled weight formats as the WASM core packs a checkpoint's 128x128 blocks:
 * one float32 scale per output column per group (assembly/weights.ts), so a kernel reads 4 / 128
 * bytes of scale beside each 1-byte code. (The checkpoint itself stores 4 per 128 x 128 block.)
 */
export const SCALED_WEIGHT_GROUP = 128;

/** Bytes a kernel reads per weight element in format f: the element and its share of the scales. */
export function weightBytesPerElement(f: WeightFormat): number {
  switch (f) {
    case "f32":
      return 4;
    case "bf16":
      return 2;
    case "int8":
    case "fp8":
      return 1 + 4 / SCALED_WEIGHT_GROUP;
  }
}

/** Weights in the cache's value width when not given: f32 -> f32, bf16/f16 -> bf16, int8 -> int8, fp8 -> fp8. */
export function defaultWeightFormat(format: CacheFormat): WeightFormat {
  return format === "f32" || format === "int8" || format === "fp8" ? format : "bf16";
}

export function checkCostWeightFormat(v: unknown): WeightFormat {
  if (!WEIGHT_FORMATS.includes(v as WeightFormat)) throw new ConfigError("weightFormat", v as string, `one of ${WEIGHT_FORMATS.join(", ")}`);
  return v as WeightFormat;
}

/** Bytes per weight element for a cost call's options. */
export function weightBytesOf(opts: CostOptions): number {
  return weightBytesPerElement(opts.weightFormat === undefined ? defaultWeightFormat(opts.format) : checkCostWeightFormat(opts.weightFormat));
}

/** One layer's work for a path and a call shape (the closed forms of work.ts). */
export function pathWork(cfg: MlaConfig, path: ModelPath, shape: CallShape, opts: KvSchemeOptions = {}): Work {
  const { groups, seedRank } = resolveSchemeOptions(cfg, opts);
  switch (path) {
    case "naive":
    case "recompute":
    case "absorbed":
      return mlaWork(cfg, path, shape);
    case "mha":
      return mhaWork(baselineConfig(cfg, cfg.n_heads), shape);
    case "gqa":
      return mhaWork(baselineConfig(cfg, groups), shape);
    case "mqa":
      return mhaWork(baselineConfig(cfg, 1), shape);
    case "seedPerHead":
      return seedWork(seedConfig(cfg, seedRank), shape);
    case "dsa":
      return dsaWork(cfg, shape);
  }
}

export interface TermCost {
  flops: number;
  bytes: number;
  exps: number;
  ranked: number;
}

export interface LayerCost {
  path: ModelPath;
  terms: Record<WorkTerm, TermCost>;
  flops: number;
  bytes: number;
  exps: number;
  /** Candidates top-k ranks (dsa; 0 on the dense paths). */
  ranked: number;
  /** Of `bytes`: weights / cache. */
  weightBytes: number;
  cacheBytes: number;
}

export function layerCost(cfg: MlaConfig, path: ModelPath, shape: CallShape, opts: CostOptions): LayerCost {
  const work = pathWork(cfg, path, shape, opts);
  const scheme = PATH_SCHEME[path];
  // Reads and writes are whole tokens, so bytes per element = bytes per token / elements per token (exact for scaled formats too).
  const cachePerElement = kvBytesPerTokenPerLayer(cfg, scheme, opts.format, opts) / kvElementsPerTokenPerLayer(cfg, scheme, opts);
  const indexPerElement = path === "dsa" ? indexKeyBytesPerTokenPerLayer(requireDsa(cfg)) / indexKeyElementsPerTokenPerLayer(requireDsa(cfg)) : cachePerElement;
  const wb = weightBytesOf(opts);
  const perElement = (t: WorkTerm) => (t === "indexer" || t === "indexScores" ? indexPerElement : cachePerElement);
  const terms = {} as Record<WorkTerm, TermCost>;
  for (const t of WORK_TERMS) {
    const c = work[t];
    terms[t] = { flops: 2 * c.madds, bytes: c.weightReads * wb + (c.cacheReads + c.cacheWrites) * perElement(t), exps: c.exps, ranked: c.ranked };
  }
  const tot = totalWork(work);
  const idx = work.indexer.cacheReads + work.indexer.cacheWrites + work.indexScores.cacheReads + work.indexScores.cacheWrites;
  const weightBytes = tot.weightReads * wb;
  const cacheBytes = (tot.cacheReads + tot.cacheWrites - idx) * cachePerElement + idx * indexPerElement;
  return { path, terms, flops: 2 * tot.madds, bytes: weightBytes + cacheBytes, exps: tot.exps, ranked: tot.ranked, weightBytes, cacheBytes };
}

/** A decode step at context L: one new token per row attending L keys (L-1 cached + itself). */
export function decodeShape(context: number, batch: number): CallShape {
  return { batch, seqlen: 1, startPos: context - 1 };
}

/** A prefill of L tokens from an empty cache. */
export function prefillShape(context: number, batch: number): CallShape {
  return { batch, seqlen: context, startPos: 0 };
}

/** Whole model: every layer is the same attention layer, so figures scale by n_layers. */
export function modelCost(cfg: MlaConfig, path: ModelPath, shape: CallShape, opts: CostOptions): LayerCost {
  const l = layerCost(cfg, path, shape, opts);
  const k = cfg.n_layers;
  const terms = {} as Record<WorkTerm, TermCost>;
  for (const t of WORK_TERMS) terms[t] = { flops: l.terms[t].flops * k, bytes: l.terms[t].bytes * k, exps: l.terms[t].exps * k, ranked: l.terms[t].ranked * k };
  return { path, terms, flops: l.flops * k, bytes: l.bytes * k, exps: l.exps * k, ranked: l.ranked * k, weightBytes: l.weightBytes * k, cacheBytes: l.cacheBytes * k };
}

/**
 * Attention over the cache only, as the benchmarks time their attention kernels: scores, softmax,
 * weighted sum; for the absorbed path the W_UV half of the absorption (o = o_lat W_UV^T); for the
 * paths that decompress every cached token at every step (recompute, the seed's scheme) that
 * decompression too, which their kernels fuse into the attention. One decode step of `batch` rows
 * at `context` keys, one layer.
 */
export function attentionCost(cfg: MlaConfig, path: AnyPath, context: number, batch: number, opts: CostOptions): { flops: number; bytes: number } {
  const l = layerCost(cfg, path, decodeShape(context, batch), opts);
  const t = l.terms;
  const wuv = path === "absorbed" ? cfg.n_heads * cfg.kv_lora_rank * cfg.v_head_dim : 0; // elements of W_UV; madds per row
  const wb = weightBytesOf(opts);
  const fused = path === "recompute" || path === "seedPerHead" ? t.decompression : { flops: 0, bytes: 0 };
  return { flops: t.scores.flops + t.weightedSum.flops + fused.flops + 2 * batch * wuv, bytes: t.scores.bytes + t.weightedSum.bytes + fused.bytes + wuv * wb };
}
