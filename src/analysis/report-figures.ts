// Every number docs/analysis.md quotes, computed once from the cost model (analyze.ts, cost.ts,
// kv-cache.ts) and the benchmark results (report-measured.ts) as plain typed data, so the prose
// (report-claims.ts, report-markdown.ts) only formats figures and can be read without the model.

import { type MlaConfig, preset } from "../config.js";
import { type Analysis, type SeedComparison, analyze } from "./analyze.js";
import { type BenchResults, DATASHEET_GPU } from "./bench-results.js";
import { contextGrid } from "./charts.js";
import { decodeShape, layerCost } from "./cost.js";
import { type KvCacheFigures, type KvScheme, kvBytesPerTokenPerLayer } from "./kv-cache.js";
import { type Bound, type Machine, ridge, roofline } from "./roofline.js";
import { type MeasuredFigures, type MeasuredSummary, measuredFigures, measuredSummary } from "./report-measured.js";
import { type DsaFigures, dsaFigures } from "./report-dsa.js";
import { SEED_RANKS } from "./seed.js";

export interface ReportInput {
  /** This machine: from --machine, the benchmark probe, or the documented default. */
  machine: Machine;
  bench?: BenchResults;
  /** Why there are no benchmark results, when there are none. */
  benchNote?: string;
}

/** The report's two models, by preset name. */
export const REPORT_MODELS = ["deepseek-v3", "deepseek-v2-lite"] as const;
export type ReportModel = (typeof REPORT_MODELS)[number];
const TITLE: Record<ReportModel, string> = { "deepseek-v3": "DeepSeek-V3", "deepseek-v2-lite": "V2-Lite" };

/** Context of the per-step figures. */
const CONTEXT = 32768;
/** The seed text's "24 GB consumer GPU" (claim 9). */
const GB24 = 24e9;
/** The seed's W_decomp at r 8 for K and V, d_head 128, bf16 (claim 8). */
const SEED_W_DECOMP_BYTES = 2 * 8 * 128 * 2;

/** A path's decode step, whole model, on the roofline. */
export interface DecodeTime {
  seconds: number;
  bound: Bound;
  /** FLOPs per byte. */
  intensity: number;
}

/** One model on one machine with one storage format, batch 1, as claim 7 quotes it. */
export interface RooflineFigures {
  decode: Record<"naive" | "absorbed" | "mha", DecodeTime>;
  /** Absorbed is no slower than naive at the report's context (the order when nothing crosses up to max_seq_len). */
  absorbedNotSlowerThanNaive: boolean;
  /** Decode crossovers between naive, absorbed and MHA as the context grows: `faster` wins from context `at`. */
  crossovers: { faster: string; slower: string; at: number }[];
  /** Context from which naive decode is faster than absorbed, if it ever is up to max_seq_len. */
  naiveFasterFrom?: number;
  /** Context from which absorbed decode is compute-bound. */
  absorbedComputeBoundFrom?: number;
  /** Absorbed is the fastest of naive, absorbed and MHA at every context of the charts' grid. */
  absorbedFastestEverywhere: boolean;
  /** Prefill at the report's context: absorbed FLOPs / naive FLOPs, and where naive prefill becomes faster. */
  prefill: { absorbedOverNaiveFlops: number; naiveFasterFrom?: number };
}

export interface ModelFigures {
  name: ReportModel;
  title: string;
  config: MlaConfig;
  /** Cache per scheme at bf16. */
  kvCache: Record<KvScheme, KvCacheFigures>;
  /** MLA's latent cache, bytes per token per layer, per storage format. */
  mlaBytesPerTokenPerLayer: Record<"f32" | "bf16" | "int8" | "fp8", number>;
  /** The seed's formulas beside MLA's counted figures (one layer, one row, the report's context). */
  seed: SeedComparison;
  /** FLOPs of the whole decode step relative to MHA's. */
  decodeFlopsVsMha: Record<"naive" | "recompute" | "absorbed", number>;
  /** Cache bytes one decode step reads (scores, weighted sum, decompression), whole model, bf16; and MHA's over absorbed's. */
  cacheBytesRead: Record<"mha" | "naive" | "absorbed", number>;
  mhaOverAbsorbedCacheRead: number;
  /** Width of the latent key every head attends over (d_c + d_R), beside the latent value's (d_c). */
  latentWidths: { key: number; value: number };
  /** Absorbed attention's FLOPs per byte of bf16 latent cache: 2·h·(2·d_c + d_R) per cached token. */
  absorbedAttentionIntensity: number;
  /** This machine at f32 (what the WASM core runs) and bf16; the datasheet GPU at bf16. */
  roofline: { cpu32: RooflineFigures; cpu: RooflineFigures; gpu: RooflineFigures };
  /** wkv_b per layer (bf16), over all layers, as cached tokens of the same layer, and one layer's cache at the report's context. */
  wkvb: { bytesPerLayer: number; bytesAllLayers: number; cachedTokens: number; cacheLayerBytesAtContext: number };
  /** The latent cache of the whole model at one million tokens, and the longest context whose cache fits the seed's 24 GB. */
  millionTokens: { bytes: Record<"bf16" | "fp8", number>; fitIn24GB: Record<"bf16" | "fp8", number> };
  measured: MeasuredFigures;
}

export interface ReportFigures {
  context: number;
  machine: Machine;
  gpu: Machine;
  ridge: { machine: number; gpu: number };
  /** The benchmark run the measured figures come from, or why there are none. */
  bench: { anyMeasured: boolean; run?: string; note?: string };
  /** d_head / r for the seed's ranks (d_head 128). */
  seedRankRatios: { r: number; ratio: number }[];
  seedWDecompBytes: number;
  memoryBytes: number;
  /** Share (%) of an absorbed V3 decode step's bytes (bf16) that are weights, per context and batch. */
  weightShare: { context: number; percentByBatch: number[] }[];
  weightShareBatches: number[];
  v3: ModelFigures;
  lite: ModelFigures;
  measured: MeasuredSummary;
  /** DeepSeek-V3.2's sparse attention against dense absorbed MLA. */
  dsa: DsaFigures;
}

/** Is absorbed the fastest of naive, absorbed and MHA (decode, roofline) at every context of the chart grid? */
function absorbedFastest(a: Analysis): boolean {
  const opts = { format: a.format, groups: a.groups, seedRank: a.seedRank, weightFormat: a.weightFormat };
  return contextGrid(a.config.max_seq_len).every((L) => {
    const t = (path: "naive" | "absorbed" | "mha") => {
      const c = layerCost(a.config, path, decodeShape(L, a.batch), opts);
      return roofline(c.flops, c.bytes, a.machine).seconds;
    };
    return t("absorbed") <= Math.min(t("naive"), t("mha"));
  });
}

function rooflineFigures(a: Analysis): RooflineFigures {
  const trio = ["naive", "absorbed", "mha"];
  const contextDecode = a.crossovers.filter((c) => c.varies === "context" && c.phase === "decode");
  const decode = (path: "naive" | "absorbed" | "mha"): DecodeTime => ({ seconds: a.decode[path].seconds, bound: a.decode[path].bound, intensity: a.decode[path].intensity });
  return {
    decode: { naive: decode("naive"), absorbed: decode("absorbed"), mha: decode("mha") },
    absorbedNotSlowerThanNaive: a.decode.absorbed.seconds <= a.decode.naive.seconds,
    crossovers: contextDecode.filter((c) => trio.includes(c.faster) && trio.includes(c.slower)).map((c) => ({ faster: c.faster, slower: c.slower, at: c.at })),
    naiveFasterFrom: contextDecode.find((c) => c.faster === "naive" && c.slower === "absorbed")?.at,
    absorbedComputeBoundFrom: a.boundChanges.find((b) => b.path === "absorbed" && b.bound === "compute")?.at,
    absorbedFastestEverywhere: absorbedFastest(a),
    prefill: {
      absorbedOverNaiveFlops: a.prefill.absorbed.flops / a.prefill.naive.flops,
      naiveFasterFrom: a.crossovers.find((c) => c.phase === "prefill" && c.faster === "naive")?.at,
    },
  };
}

function modelFigures(name: ReportModel, input: ReportInput): ModelFigures {
  const cfg = preset(name);
  const at = (machine: Machine, format: "bf16" | "f32") => analyze(cfg, name, { context: CONTEXT, batch: 1, format, machine });
  const cpu = at(input.machine, "bf16");
  const bytes = (format: "f32" | "bf16" | "int8" | "fp8") => kvBytesPerTokenPerLayer(cfg, "mla", format);
  // What claim 6 calls the cache bytes a decode step reads: those of the scores, weighted-sum and decompression terms.
  const read = (path: "mha" | "naive" | "absorbed") => cpu.decode[path].terms.scores.bytes + cpu.decode[path].terms.weightedSum.bytes + cpu.decode[path].terms.decompression.bytes;
  const wkvb = cfg.n_heads * (cfg.qk_nope_head_dim + cfg.v_head_dim) * cfg.kv_lora_rank * 2;
  const fits = (format: "bf16" | "fp8") => Math.floor(GB24 / (bytes(format) * cfg.n_layers));
  return {
    name,
    title: TITLE[name],
    config: cfg,
    kvCache: cpu.kvCache,
    mlaBytesPerTokenPerLayer: { f32: bytes("f32"), bf16: bytes("bf16"), int8: bytes("int8"), fp8: bytes("fp8") },
    seed: cpu.seed,
    decodeFlopsVsMha: {
      naive: cpu.decode.naive.flops / cpu.decode.mha.flops,
      recompute: cpu.decode.recompute.flops / cpu.decode.mha.flops,
      absorbed: cpu.decode.absorbed.flops / cpu.decode.mha.flops,
    },
    cacheBytesRead: { mha: read("mha"), naive: read("naive"), absorbed: read("absorbed") },
    mhaOverAbsorbedCacheRead: read("mha") / read("absorbed"),
    latentWidths: { key: cfg.kv_lora_rank + cfg.qk_rope_head_dim, value: cfg.kv_lora_rank },
    absorbedAttentionIntensity: (2 * cfg.n_heads * (2 * cfg.kv_lora_rank + cfg.qk_rope_head_dim)) / bytes("bf16"),
    roofline: { cpu32: rooflineFigures(at(input.machine, "f32")), cpu: rooflineFigures(cpu), gpu: rooflineFigures(at(DATASHEET_GPU, "bf16")) },
    wkvb: { bytesPerLayer: wkvb, bytesAllLayers: wkvb * cfg.n_layers, cachedTokens: wkvb / bytes("bf16"), cacheLayerBytesAtContext: bytes("bf16") * CONTEXT },
    millionTokens: { bytes: { bf16: bytes("bf16") * cfg.n_layers * 1e6, fp8: bytes("fp8") * cfg.n_layers * 1e6 }, fitIn24GB: { bf16: fits("bf16"), fp8: fits("fp8") } },
    measured: measuredFigures(cfg, input.bench, input.machine),
  };
}

export function reportFigures(input: ReportInput): ReportFigures {
  const v3 = modelFigures("deepseek-v3", input), lite = modelFigures("deepseek-v2-lite", input);
  const batches = [1, 8, 64];
  const weightShare = [1024, 4096, CONTEXT].map((context) => ({
    context,
    percentByBatch: batches.map((B) => {
      const c = layerCost(v3.config, "absorbed", decodeShape(context, B), { format: "bf16" });
      return (100 * c.weightBytes) / c.bytes;
    }),
  }));
  return {
    context: CONTEXT,
    machine: input.machine,
    gpu: DATASHEET_GPU,
    ridge: { machine: ridge(input.machine), gpu: ridge(DATASHEET_GPU) },
    bench: { anyMeasured: v3.measured.points.length + lite.measured.points.length > 0, run: input.bench?.run, note: input.benchNote },
    seedRankRatios: SEED_RANKS.map((r) => ({ r, ratio: 128 / r })),
    seedWDecompBytes: SEED_W_DECOMP_BYTES,
    memoryBytes: GB24,
    weightShare,
    weightShareBatches: batches,
    v3,
    lite,
    measured: measuredSummary([v3, lite].map((m) => ({ cfg: m.config, points: m.measured.points })), input.machine),
    dsa: dsaFigures(input.machine, DATASHEET_GPU),
  };
}
