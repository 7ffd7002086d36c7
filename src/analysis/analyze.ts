// One config, batch, context, cache format and machine -> every figure of the cost model: KV cache
// per scheme, decode-step and prefill cost per path (per term, whole model), roofline, crossovers,
// and the seed text's formulas beside MLA's real figures. A DeepSeek-V3.2 config adds the dsa path
// (sparse attention) and its index key cache. `mlakit analyze` prints it; `mlakit
// report` and the charts are built from it.

import { type DsaConfig, type MlaConfig, isDsaConfig } from "../config.js";
import { ConfigError } from "../errors.js";
import { type CostOptions, PATH_SCHEME, checkCostWeightFormat, decodeShape, defaultWeightFormat, layerCost, modelCost, prefillShape, weightBytesPerElement } from "./cost.js";
import type { WeightFormat } from "../weight-formats.js";
import { type CacheFormat, checkFormat } from "./formats.js";
import { type KvCacheFigures, type KvScheme, indexKeyBytesPerTokenPerLayer, kvBytesPerTokenPerLayer, kvCacheTable, kvElementsPerTokenPerLayer, resolveSchemeOptions } from "./kv-cache.js";
import { type Bound, type Crossover, type Machine, type Phase, boundChanges, checkMachine, contextCrossovers, headCrossovers, roofline, sequentialSeconds } from "./roofline.js";
import { seedAttentionFlops, seedComputeRatio, seedDecompressionFlops, seedMemoryRatio } from "./seed.js";
import { type WorkTerm, WORK_TERMS } from "../work-terms.js";
import { type AnyPath, type ModelPath, type SparsePath, baselineConfig, mhaWork, mlaWork, pathsOf, seedConfig, seedWork } from "./work.js";

export interface AnalysisOptions {
  /** Tokens attended by the decode step (and prefilled). */
  context: number;
  batch: number;
  format: CacheFormat;
  machine: Machine;
  groups?: number;
  seedRank?: number;
  /** Format of the projection weights (default: the cache format's value width, cost.ts defaultWeightFormat). */
  weightFormat?: WeightFormat;
}

export interface PathFigures {
  /** Whole model (n_layers), one call: a decode step for every batch row, or a prefill of `context` tokens per row. */
  flops: number;
  bytes: number;
  exps: number;
  /** Candidates top-k ranks (dsa only; no FLOPs). */
  ranked: number;
  weightBytes: number;
  cacheBytes: number;
  intensity: number;
  bound: Bound;
  /** Roofline time of the call, seconds (decode: per generated token of every row): compute and memory fully overlapped. */
  seconds: number;
  /** Roofline time with the terms as kernels in sequence: the sum of each term's own bound (roofline.ts sequentialSeconds). */
  secondsSequential: number;
  perLayer: { flops: number; bytes: number; seconds: number; secondsSequential: number };
  terms: Record<WorkTerm, { flops: number; bytes: number }>;
  /** The cache this path keeps. */
  cache: KvScheme;
}

export interface NamedCrossover extends Crossover {
  phase: Phase;
  /** "context" or "heads". */
  varies: "context" | "heads";
  /** For head crossovers: the fixed context. */
  context?: number;
}

export interface SeedComparison {
  /** The seed's formulas as stated, per layer, batch 1, s = context, d = qk_nope_head_dim, r = seed rank. */
  stated: { h: number; s: number; d: number; r: number; decompressionFlops: number; attentionFlops: number; totalFlops: number; computeRatio: number; memoryRatio: number };
  /** The seed scheme as the oracle counts it (same heads; per-head K width dn, V width dv). */
  seedScheme: { decompressionFlops: number; attentionFlops: number; computeRatio: number; cacheRatioVsMha: number };
  /** MLA's real figures for the same step, per path: FLOPs spent on decompression/absorption and on attention, and the attention ratio to MHA. */
  mla: Record<"naive" | "recompute" | "absorbed", { decompressionFlops: number; absorptionFlops: number; attentionFlops: number; attentionVsMha: number; totalVsMha: number }>;
  mhaAttentionFlops: number;
  /** MHA cache / MLA cache (elements), and the per-head rank that would give the seed scheme MLA's cache size: (C + dr) / (2H). */
  cacheRatioMhaOverMla: number;
  equivalentSeedRank: number;
}

/** Figures per path: every dense path, and dsa for a V3.2 config. */
export type PathTable = Record<AnyPath, PathFigures> & Partial<Record<SparsePath, PathFigures>>;

/** A V3.2 config's index key cache beside the latent. */
export interface IndexKeyFigures {
  /** e4m3 values + float32 scales (132 at index_head_dim 128), whatever the latent's format. */
  bytesPerTokenPerLayer: number;
  bytesPerToken: number;
  totalBytes: number;
  /** Over the latent's bytes per token in the analysed format. */
  vsLatent: number;
  /** Keys each query attends: index_topk. */
  topk: number;
}

export interface Analysis {
  name: string;
  config: MlaConfig;
  context: number;
  batch: number;
  format: CacheFormat;
  weightFormat: WeightFormat;
  /** Bytes a kernel reads per weight element in that format (scales included). */
  weightBytes: number;
  groups: number;
  seedRank: number;
  machine: Machine;
  /** The paths priced: every dense one, and dsa for a V3.2 config. */
  paths: ModelPath[];
  kvCache: Record<KvScheme, KvCacheFigures>;
  /** V3.2 configs only. */
  indexKeys?: IndexKeyFigures;
  decode: PathTable;
  prefill: PathTable;
  crossovers: NamedCrossover[];
  boundChanges: { path: ModelPath; phase: Phase; at: number; bound: Bound }[];
  seed: SeedComparison;
}

function checkPositiveInt(field: string, v: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(v) || v < 1 || v > max) throw new ConfigError(field, v, `an integer in 1..${max}`);
  return v;
}

/** Context crossovers worth naming: MLA's paths against each other and against the baselines. */
export const CROSSOVER_PAIRS: [AnyPath, AnyPath][] = [
  ["absorbed", "naive"],
  ["absorbed", "mha"],
  ["naive", "mha"],
  ["recompute", "naive"],
  ["recompute", "absorbed"],
  ["absorbed", "gqa"],
  ["seedPerHead", "mha"],
  ["seedPerHead", "absorbed"],
];

/**
 * Added for a V3.2 config, sparse against dense: in decode against absorbed; in prefill also against
 * naive, the MHA form over decompressed latents that the sparse prefill uses too.
 */
export const DSA_CROSSOVER_PAIRS: Record<Phase, [ModelPath, ModelPath][]> = { decode: [["dsa", "absorbed"]], prefill: [["dsa", "absorbed"], ["dsa", "naive"]] };

export function analyze(cfg: MlaConfig, name: string, o: AnalysisOptions): Analysis {
  const context = checkPositiveInt("context", o.context, 1 << 30);
  const batch = checkPositiveInt("batch", o.batch, 1 << 20);
  const format = checkFormat(o.format);
  const machine = checkMachine(o.machine);
  const { groups, seedRank } = resolveSchemeOptions(cfg, o);
  const weightFormat = o.weightFormat === undefined ? defaultWeightFormat(format) : checkCostWeightFormat(o.weightFormat);
  const weightBytes = weightBytesPerElement(weightFormat);
  const copts: CostOptions = { format, groups, seedRank, weightFormat };

  const paths = [...pathsOf(cfg)];
  const dsa = isDsaConfig(cfg);
  const figures = (phase: Phase): PathTable => {
    const shape = phase === "decode" ? decodeShape(context, batch) : prefillShape(context, batch);
    const out = {} as PathTable;
    for (const path of paths) {
      const m = modelCost(cfg, path, shape, copts);
      const l = layerCost(cfg, path, shape, copts);
      const r = roofline(m.flops, m.bytes, machine);
      const terms = {} as PathFigures["terms"];
      for (const t of WORK_TERMS) terms[t] = { flops: m.terms[t].flops, bytes: m.terms[t].bytes };
      out[path] = {
        flops: m.flops,
        bytes: m.bytes,
        exps: m.exps,
        ranked: m.ranked,
        weightBytes: m.weightBytes,
        cacheBytes: m.cacheBytes,
        intensity: r.intensity,
        bound: r.bound,
        seconds: r.seconds,
        secondsSequential: sequentialSeconds(m.terms, machine),
        perLayer: { flops: l.flops, bytes: l.bytes, seconds: roofline(l.flops, l.bytes, machine).seconds, secondsSequential: sequentialSeconds(l.terms, machine) },
        terms,
        cache: PATH_SCHEME[path],
      };
    }
    return out;
  };

  const maxContext = Math.max(cfg.max_seq_len, context);
  const crossovers: NamedCrossover[] = [];
  for (const [a, b] of [...CROSSOVER_PAIRS, ...(dsa ? DSA_CROSSOVER_PAIRS.decode : [])]) {
    for (const c of contextCrossovers(cfg, a, b, "decode", batch, copts, machine, maxContext)) crossovers.push({ ...c, phase: "decode", varies: "context" });
  }
  for (const [a, b] of [["absorbed", "naive"], ...(dsa ? DSA_CROSSOVER_PAIRS.prefill : [])] as [ModelPath, ModelPath][]) {
    for (const c of contextCrossovers(cfg, a, b, "prefill", batch, copts, machine, maxContext)) crossovers.push({ ...c, phase: "prefill", varies: "context" });
  }
  for (const [a, b] of [["absorbed", "naive"], ["absorbed", "mha"]] as [AnyPath, AnyPath][]) {
    for (const c of headCrossovers(cfg, a, b, "decode", context, batch, copts, machine)) crossovers.push({ ...c, phase: "decode", varies: "heads", context });
  }
  const bounds: Analysis["boundChanges"] = [];
  for (const path of ["naive", "absorbed", "mha", "recompute", ...(dsa ? ["dsa"] : [])] as ModelPath[]) {
    for (const c of boundChanges(cfg, path, "decode", batch, copts, machine, maxContext)) bounds.push({ path, phase: "decode", ...c });
  }

  return {
    name,
    config: cfg,
    context,
    batch,
    format,
    weightFormat,
    weightBytes,
    groups,
    seedRank,
    machine,
    paths,
    kvCache: kvCacheTable(cfg, { format, context, batch, groups, seedRank }),
    ...(isDsaConfig(cfg) ? { indexKeys: indexKeyFigures(cfg, format, context, batch) } : {}),
    decode: figures("decode"),
    prefill: figures("prefill"),
    crossovers,
    boundChanges: bounds,
    seed: seedComparison(cfg, context, seedRank),
  };
}

function indexKeyFigures(cfg: DsaConfig, format: CacheFormat, context: number, batch: number): IndexKeyFigures {
  const b = indexKeyBytesPerTokenPerLayer(cfg);
  return { bytesPerTokenPerLayer: b, bytesPerToken: b * cfg.n_layers, totalBytes: b * cfg.n_layers * context * batch, vsLatent: b / kvBytesPerTokenPerLayer(cfg, "mla", format), topk: cfg.index_topk };
}

/** The seed's formulas beside the counted figures, per layer, one decode step of one row at context s. */
export function seedComparison(cfg: MlaConfig, s: number, r: number): SeedComparison {
  const H = cfg.n_heads, d = cfg.qk_nope_head_dim;
  const shape = decodeShape(s, 1);
  const core = (w: ReturnType<typeof mlaWork>) => 2 * (w.scores.madds + w.weightedSum.madds);
  const mhaCore = core(mhaWork(baselineConfig(cfg, cfg.n_heads), shape));
  const seedW = seedWork(seedConfig(cfg, r), shape);
  const seedCore = core(seedW);
  const mla = {} as SeedComparison["mla"];
  for (const path of ["naive", "recompute", "absorbed"] as const) {
    const w = mlaWork(cfg, path, shape);
    const dec = 2 * w.decompression.madds, abs = 2 * w.absorption.madds, att = core(w);
    mla[path] = { decompressionFlops: dec, absorptionFlops: abs, attentionFlops: att, attentionVsMha: att / mhaCore, totalVsMha: (dec + abs + att) / mhaCore };
  }
  const mlaElems = kvElementsPerTokenPerLayer(cfg, "mla");
  return {
    stated: {
      h: H,
      s,
      d,
      r,
      decompressionFlops: seedDecompressionFlops(H, s, d, r),
      attentionFlops: seedAttentionFlops(H, s, d),
      totalFlops: seedDecompressionFlops(H, s, d, r) + seedAttentionFlops(H, s, d),
      computeRatio: seedComputeRatio(r),
      memoryRatio: seedMemoryRatio(d, r),
    },
    seedScheme: {
      decompressionFlops: 2 * seedW.decompression.madds,
      attentionFlops: seedCore,
      computeRatio: (2 * seedW.decompression.madds + seedCore) / seedCore,
      cacheRatioVsMha: kvElementsPerTokenPerLayer(cfg, "mha") / kvElementsPerTokenPerLayer(cfg, "seedPerHead", { seedRank: r }),
    },
    mla,
    mhaAttentionFlops: mhaCore,
    cacheRatioMhaOverMla: kvElementsPerTokenPerLayer(cfg, "mha") / mlaElems,
    equivalentSeedRank: mlaElems / (2 * H),
  };
}

