// The benchmark side of docs/analysis.md: which measured decode figures belong to a model, the
// roofline prediction for exactly what each one timed, and the comparisons the report quotes.
// Numbers only; report-markdown.ts and report-claims.ts word them.

import type { MlaConfig } from "../config.js";
import type { BenchResults, MeasuredDecode } from "./bench-results.js";
import { attentionCost, decodeShape, layerCost } from "./cost.js";
import { type Machine, roofline, sequentialSeconds } from "./roofline.js";
import type { AnyPath } from "./work.js";

/** What a benchmark figure timed, priced by the cost model: float32, one layer, batch 1. */
function timedCost(cfg: MlaConfig, m: MeasuredDecode) {
  return m.scope === "step" ? layerCost(cfg, m.path, decodeShape(m.context, 1), { format: "f32" }) : attentionCost(cfg, m.path, m.context, 1, { format: "f32" });
}

/** The roofline prediction for what a benchmark figure timed (float32, one layer, batch 1). */
export function predicted(cfg: MlaConfig, m: MeasuredDecode, machine: Machine): number {
  const c = timedCost(cfg, m);
  return roofline(c.flops, c.bytes, machine).seconds;
}

/** The same with the step's terms as kernels in sequence (attention-only figures are one kernel: the same as `predicted`). */
export function predictedSequential(cfg: MlaConfig, m: MeasuredDecode, machine: Machine): number {
  if (m.scope !== "step") return predicted(cfg, m, machine);
  return sequentialSeconds(layerCost(cfg, m.path, decodeShape(m.context, 1), { format: "f32" }).terms, machine);
}

/** Measured decode points of one model, matched by head count. */
export function measuredFor(cfg: MlaConfig, bench?: BenchResults): MeasuredDecode[] {
  return (bench?.decode ?? []).filter((m) => m.heads === cfg.n_heads);
}

/** Per measured context (ascending), the fastest attention time of each path, e.g. over both SIMD builds. */
function attentionByContext(pts: MeasuredDecode[]): AttentionAt[] {
  const byContext = new Map<number, Partial<Record<AnyPath, number>>>();
  for (const m of pts) {
    if (m.scope !== "attention") continue;
    const e = byContext.get(m.context) ?? {};
    e[m.path] = Math.min(e[m.path] ?? Infinity, m.seconds);
    byContext.set(m.context, e);
  }
  return [...byContext].sort((a, b) => a[0] - b[0]).map(([context, seconds]) => ({ context, seconds }));
}

/** One path's fastest attention time per context. */
function bestAttention(at: readonly AttentionAt[], path: AnyPath): Map<number, number> {
  return new Map(at.filter((a) => a.seconds[path] !== undefined).map((a) => [a.context, a.seconds[path]!]));
}

/** A measured figure beside its predictions. */
export interface MeasuredRow {
  point: MeasuredDecode;
  predicted: number;
  predictedSequential: number;
  /** measured / predicted, and measured / predictedSequential. */
  overPredicted: number;
  overSequential: number;
}

/** Absorbed against naive attention at the longest context where both were measured (best times). */
export interface AttentionPair {
  context: number;
  absorbed: number;
  naive: number;
  naiveOverAbsorbed: number;
  absorbedOverNaive: number;
  /** What the roofline expects naive / absorbed to be. */
  predictedNaiveOverAbsorbed: number;
  /** The bandwidth the naive kernel reached, GB/s, and as a percentage of the machine's. */
  naiveGBs: number;
  naivePercentOfBandwidth: number;
}

/** The benchmark figures of one model, as the report quotes them. */
export interface MeasuredFigures {
  points: MeasuredDecode[];
  attentionPair?: AttentionPair;
  /** The fused absorbed attention kernel's best time at the longest measured context, and its ratio to the roofline bound. */
  fused?: { context: number; seconds: number; overRoofline: number };
  /** The fastest measured stream of wkv_b (f32), and its time as a percentage of the best absorbed attention at each measured context (ascending). */
  wkvbStream?: { bytes: number; seconds: number; percentOfAbsorbed: { context: number; percent: number }[] };
  /** Every point with its predictions, sorted by scope, path and context. */
  rows: MeasuredRow[];
  /** Per measured context (ascending), the best attention time of every path measured there. */
  attentionByPath: AttentionAt[];
}

/** Decode attention over `context` keys: the best time of each path measured there, seconds. */
export interface AttentionAt {
  context: number;
  seconds: Partial<Record<AnyPath, number>>;
}

/** The longest context at which every one of `paths` was measured, or undefined. */
export function longestWith(at: readonly AttentionAt[], paths: readonly AnyPath[]): AttentionAt | undefined {
  return [...at].reverse().find((a) => paths.every((p) => a.seconds[p] !== undefined));
}

export function measuredFigures(cfg: MlaConfig, bench: BenchResults | undefined, machine: Machine): MeasuredFigures {
  const points = measuredFor(cfg, bench);
  const attentionByPath = attentionByContext(points);
  const absorbed = bestAttention(attentionByPath, "absorbed"), naive = bestAttention(attentionByPath, "naive");
  const figures: MeasuredFigures = { points, rows: [], attentionByPath };

  const both = [...absorbed.keys()].filter((k) => naive.has(k)).sort((x, y) => y - x);
  if (both.length) {
    const S = both[0], ta = absorbed.get(S)!, tn = naive.get(S)!;
    const at = (path: "naive" | "absorbed") => predicted(cfg, { path, scope: "attention", context: S, seconds: 0, label: "" }, machine);
    const naiveGBs = attentionCost(cfg, "naive", S, 1, { format: "f32" }).bytes / tn / 1e9;
    figures.attentionPair = {
      context: S,
      absorbed: ta,
      naive: tn,
      naiveOverAbsorbed: tn / ta,
      absorbedOverNaive: ta / tn,
      predictedNaiveOverAbsorbed: at("naive") / at("absorbed"),
      naiveGBs,
      naivePercentOfBandwidth: (100 * naiveGBs) / machine.gbps,
    };
  }

  const longest = [...absorbed].sort((x, y) => y[0] - x[0])[0];
  if (longest) {
    const pred = predicted(cfg, { path: "absorbed", scope: "attention", context: longest[0], seconds: longest[1], label: "" }, machine);
    figures.fused = { context: longest[0], seconds: longest[1], overRoofline: longest[1] / pred };
  }

  const g = (bench?.weightStreams ?? []).filter((w) => w.name === "wkv_b" && w.heads === cfg.n_heads).sort((a, b) => a.seconds - b.seconds)[0];
  if (g) {
    const att = [...absorbed].sort((a, b) => a[0] - b[0]);
    figures.wkvbStream = { bytes: g.bytes, seconds: g.seconds, percentOfAbsorbed: att.map(([S, t]) => ({ context: S, percent: (100 * g.seconds) / t })) };
  }

  for (const m of [...points].sort((a, b) => a.scope.localeCompare(b.scope) || a.path.localeCompare(b.path) || a.context - b.context)) {
    const pred = predicted(cfg, m, machine), seq = predictedSequential(cfg, m, machine);
    figures.rows.push({ point: m, predicted: pred, predictedSequential: seq, overPredicted: m.seconds / pred, overSequential: m.seconds / seq });
  }
  return figures;
}

/** All models' figures against their roofline bounds. */
export interface MeasuredSummary {
  count: number;
  /** Lowest and highest measured / predicted. */
  lowest: number;
  highest: number;
  /** Figures faster than their roofline bound (measured / predicted < 1). */
  beatingRoofline: number;
  /** What those figures imply: the FLOP/s or GB/s they reached where it exceeds the probe's, and the builds (relaxed, simd128) they came from. */
  beyondProbe: { gflops?: number; gbps?: number; isas: string[] };
}

export function measuredSummary(models: { cfg: MlaConfig; points: MeasuredDecode[] }[], machine: Machine): MeasuredSummary {
  const all = models.flatMap(({ cfg, points }) => points.map((m) => ({ cfg, m, ratio: m.seconds / predicted(cfg, m, machine) })));
  const fast = all.filter((x) => x.ratio < 1);
  let gflops = 0, gbps = 0;
  for (const { cfg, m } of fast) {
    const c = timedCost(cfg, m);
    gflops = Math.max(gflops, c.flops / m.seconds / 1e9);
    gbps = Math.max(gbps, c.bytes / m.seconds / 1e9);
  }
  const isas = [...new Set(fast.map(({ m }) => /\b(relaxed|simd128)\b/.exec(m.label)?.[1]).filter((x): x is string => Boolean(x)))];
  return {
    count: all.length,
    lowest: Math.min(...all.map((x) => x.ratio)),
    highest: Math.max(...all.map((x) => x.ratio)),
    beatingRoofline: fast.length,
    beyondProbe: { gflops: gflops > machine.gflops ? gflops : undefined, gbps: gbps > machine.gbps ? gbps : undefined, isas },
  };
}
