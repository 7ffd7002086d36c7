// The figures of docs/analysis.md's DeepSeek-V3.2 section: what sparse attention (DSA) does to the
// memory/compute trade-off of absorbed MLA. All from the cost model (cost.ts, kv-cache.ts,
// roofline.ts) on the preset deepseek-v3.2, batch 1, as plain typed data for report-dsa-markdown.ts.

import { type DsaConfig, preset } from "../config.js";
import { type CostOptions, decodeShape, defaultWeightFormat, layerCost, modelCost, pathWork, weightBytesPerElement } from "./cost.js";
import { type CacheFormat } from "./formats.js";
import { indexKeyBytesPerTokenPerLayer, kvBytesPerTokenPerLayer } from "./kv-cache.js";
import { type Bound, type Machine, contextCrossovers, roofline } from "./roofline.js";
import { requireDsa } from "./work.js";

/** Contexts of the section's table (and the preset's max_seq_len, added last). */
const TABLE_CONTEXTS = [4096, 16384, 65536, 131072];

/** One machine and storage format: the two decode paths side by side. */
export interface DsaSetting {
  label: string;
  machine: Machine;
  format: CacheFormat;
  weightBytes: number;
  /** Decode contexts from which dsa is faster than dense absorbed (whole model, roofline), and back. */
  decodeCrossovers: { at: number; faster: string }[];
  /** The same for a prefill of L tokens against dense naive, which attends in the MHA form the sparse prefill uses too. */
  prefillCrossovers: { at: number; faster: string }[];
  rows: {
    context: number;
    absorbed: { seconds: number; bound: Bound };
    dsa: { seconds: number; bound: Bound };
    /** absorbed seconds / dsa seconds. */
    speedup: number;
    /** Of dsa's FLOPs: the index scores, in %; of its bytes: the weights, in %. */
    indexScoresPercent: number;
    weightPercent: number;
  }[];
}

export interface DsaFigures {
  config: DsaConfig;
  /** index_n_heads, index_head_dim, index_topk. */
  HI: number;
  DI: number;
  topk: number;
  /** Index key bytes per token per layer (e4m3 + float32 scale), and the latent's per format. */
  indexKeyBytes: number;
  latentBytes: Record<"f32" | "bf16" | "fp8", number>;
  /** Index key bytes over the latent's, in %, per format. */
  extraPercent: Record<"f32" | "bf16" | "fp8", number>;
  /** Whole model at max_seq_len tokens: the index keys and the bf16 latent, bytes. */
  atMaxContext: { context: number; indexKeys: number; latentBf16: number };
  /** Per cached key and layer, one decode row: FLOPs of absorbed attention (scores + weighted sum) and of the index scores, and their ratio. */
  perKey: { absorbedFlops: number; indexFlops: number; ratio: number };
  /** Per cached key and layer: bytes absorbed reads (bf16 latent) over bytes the indexer reads (index key). */
  perKeyBytesRatio: number;
  /** Per layer and decode step, independent of the context once it exceeds k: attention over the k selected keys, and the indexer's projections (FLOPs, weight elements). */
  fixed: { selectedAttentionFlops: number; indexerProjectionFlops: number; indexerWeightElements: number; indexerWeightBytesBf16: number; asLatentTokensBf16: number };
  settings: DsaSetting[];
}

/** Weights in the format's width (cost.ts defaultWeightFormat), as the rest of the report prices them. */
function setting(cfg: DsaConfig, label: string, machine: Machine, format: CacheFormat): DsaSetting {
  const weightFormat = defaultWeightFormat(format), weightBytes = weightBytesPerElement(weightFormat);
  const opts: CostOptions = { format, weightFormat };
  const time = (path: "absorbed" | "dsa", L: number) => {
    const c = modelCost(cfg, path, decodeShape(L, 1), opts);
    const r = roofline(c.flops, c.bytes, machine);
    return { seconds: r.seconds, bound: r.bound, flops: c.flops, index: c.terms.indexScores.flops, weightPercent: (100 * c.weightBytes) / c.bytes };
  };
  const cross = (phase: "decode" | "prefill", dense: "absorbed" | "naive") => contextCrossovers(cfg, "dsa", dense, phase, 1, opts, machine, cfg.max_seq_len).map((c) => ({ at: c.at, faster: c.faster }));
  return {
    label,
    machine,
    format,
    weightBytes,
    decodeCrossovers: cross("decode", "absorbed"),
    prefillCrossovers: cross("prefill", "naive"),
    rows: [...TABLE_CONTEXTS.filter((L) => L < cfg.max_seq_len), cfg.max_seq_len].map((context) => {
      const a = time("absorbed", context), d = time("dsa", context);
      return { context, absorbed: { seconds: a.seconds, bound: a.bound }, dsa: { seconds: d.seconds, bound: d.bound }, speedup: a.seconds / d.seconds, indexScoresPercent: (100 * d.index) / d.flops, weightPercent: d.weightPercent };
    }),
  };
}

/** The section's figures: this machine at f32 (what the WASM core runs) and bf16, the datasheet GPU at bf16 and fp8. */
export function dsaFigures(machine: Machine, gpu: Machine): DsaFigures {
  const cfg = requireDsa(preset("deepseek-v3.2"));
  const HI = cfg.index_n_heads, DI = cfg.index_head_dim, K = cfg.index_topk;
  const ik = indexKeyBytesPerTokenPerLayer(cfg);
  const latent = (f: CacheFormat) => kvBytesPerTokenPerLayer(cfg, "mla", f);
  // Per-key work from the closed forms: the difference of two decode steps one key apart (beyond k, so only the O(L) terms grow).
  const L0 = 4 * K;
  const step = (path: "absorbed" | "dsa", L: number) => layerCost(cfg, path, decodeShape(L, 1), { format: "bf16" });
  const perKey = (path: "absorbed" | "dsa") => step(path, L0 + 1).flops - step(path, L0).flops;
  const long = step("dsa", L0).terms;
  const projWeights = pathWork(cfg, "dsa", decodeShape(L0, 1)).indexer.weightReads; // wq_b, wk, weights_proj
  return {
    config: cfg,
    HI,
    DI,
    topk: K,
    indexKeyBytes: ik,
    latentBytes: { f32: latent("f32"), bf16: latent("bf16"), fp8: latent("fp8") },
    extraPercent: { f32: (100 * ik) / latent("f32"), bf16: (100 * ik) / latent("bf16"), fp8: (100 * ik) / latent("fp8") },
    atMaxContext: { context: cfg.max_seq_len, indexKeys: ik * cfg.n_layers * cfg.max_seq_len, latentBf16: latent("bf16") * cfg.n_layers * cfg.max_seq_len },
    perKey: { absorbedFlops: perKey("absorbed"), indexFlops: perKey("dsa"), ratio: perKey("absorbed") / perKey("dsa") },
    perKeyBytesRatio: latent("bf16") / ik,
    fixed: {
      selectedAttentionFlops: long.scores.flops + long.weightedSum.flops,
      indexerProjectionFlops: long.indexer.flops,
      indexerWeightElements: projWeights,
      indexerWeightBytesBf16: weightBytesPerElement("bf16") * projWeights,
      asLatentTokensBf16: (weightBytesPerElement("bf16") * projWeights) / latent("bf16"),
    },
    settings: [
      setting(cfg, "this machine, f32", machine, "f32"),
      setting(cfg, "this machine, bf16", machine, "bf16"),
      setting(cfg, "datasheet GPU, bf16", gpu, "bf16"),
      setting(cfg, "datasheet GPU, fp8", gpu, "fp8"),
    ],
  };
}
