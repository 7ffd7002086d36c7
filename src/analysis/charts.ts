// The two charts people want to look at, as ChartSpecs for svg.ts:
// (1) KV-cache bytes of the whole model vs context, for every scheme;
// (2) roofline time per decode step of one layer vs context for naive, absorbed and MHA (recompute
//     dashed), with the benchmarks' measured points overlaid when they exist.

import type { MlaConfig } from "../config.js";
import { BENCH_MODELS, type MeasuredDecode, measuredOn } from "./bench-results.js";
import { type CostOptions, attentionCost, decodeShape, defaultWeightFormat, layerCost } from "./cost.js";
import { KV_SCHEMES, kvBytesPerTokenPerLayer } from "./kv-cache.js";
import { type Machine, roofline } from "./roofline.js";
import { type ChartSpec, type Markers, PALETTE, type Series } from "./svg.js";
import { fmtBytesDecimal, fmtNum, fmtSeconds, fmtTokens } from "./units.js";
import type { AnyPath } from "./work.js";

/** Contexts from 1 to maxContext, 16 points per octave (and maxContext itself). */
export function contextGrid(maxContext: number): number[] {
  const xs: number[] = [];
  for (let x = 1; x < maxContext; x = Math.max(x + 1, Math.round(x * 2 ** (1 / 16)))) xs.push(x);
  xs.push(maxContext);
  return xs;
}

const SCHEME_LABEL: Record<string, string> = {
  mha: "MHA",
  gqa: "GQA",
  mqa: "MQA",
  mla: "MLA latent (c + k_pe)",
  mlaNaiveCache: "MLA decompressed K/V",
  seedPerHead: "seed per-head rank r",
};

export function cacheChart(cfg: MlaConfig, name: string, o: CostOptions & { batch: number; maxContext: number; memoryBytes?: number }): ChartSpec {
  const xs = contextGrid(o.maxContext);
  return {
    title: `KV cache of ${name}: ${cfg.n_layers} layers, ${o.format}, batch ${o.batch}`,
    subtitle: `H ${cfg.n_heads}, d_h ${cfg.qk_nope_head_dim}, d_c ${cfg.kv_lora_rank}, d_rope ${cfg.qk_rope_head_dim}, GQA ${o.groups} groups, seed r = ${o.seedRank}`,
    xLabel: "context (tokens)",
    yLabel: "KV-cache bytes, whole model (1 GB = 1e9 B)",
    formatX: fmtTokens,
    formatY: fmtBytesDecimal,
    series: KV_SCHEMES.map((s, i) => {
      const perToken = kvBytesPerTokenPerLayer(cfg, s, o.format, o) * cfg.n_layers * o.batch;
      // The seed's line can lie exactly on another scheme's (r 8 = GQA 8 for d_h 128): say so in the legend.
      const twin = s === "seedPerHead" ? KV_SCHEMES.find((t) => t !== s && kvBytesPerTokenPerLayer(cfg, t, o.format, o) === kvBytesPerTokenPerLayer(cfg, s, o.format, o)) : undefined;
      const name = s === "seedPerHead" ? `seed per-head, r = ${o.seedRank}${twin ? ` (= ${twin.toUpperCase()})` : ""}` : s === "gqa" ? `GQA, ${o.groups} groups` : SCHEME_LABEL[s];
      return { name, color: PALETTE[i], points: xs.map((L) => [L, L * perToken] as [number, number]), dashed: s === "seedPerHead" };
    }),
    hLines: o.memoryBytes ? [{ y: o.memoryBytes, label: `${fmtBytesDecimal(o.memoryBytes)} of memory` }] : undefined,
  };
}

const TIME_PATHS: { path: AnyPath; label: string; color: string; dashed?: boolean }[] = [
  { path: "naive", label: "MLA naive", color: PALETTE[1] },
  { path: "absorbed", label: "MLA absorbed", color: PALETTE[2] },
  { path: "mha", label: "MHA", color: PALETTE[0] },
  { path: "recompute", label: "MLA recompute (seed)", color: PALETTE[3], dashed: true },
];

/** "default", "given with --machine", "measured by the benchmark probe", "datasheet H100/H800 SXM". */
function shortSource(m: Machine): string {
  return m.source.split(/ \(|:|,|;/)[0];
}

export function timeChart(cfg: MlaConfig, name: string, o: CostOptions & { batch: number; maxContext: number; machine: Machine; measured?: MeasuredDecode[] }): ChartSpec {
  const xs = contextGrid(o.maxContext);
  const measured = (o.measured ?? []).filter((m) => measuredOn(m, cfg, o.batch, o.format) && (o.weightFormat ?? defaultWeightFormat(o.format)) === "f32"); // the benchmarks time float32 weights
  const noMatch = (o.measured ?? []).length > 0 && measured.length === 0;
  const color = (p: string) => (p === "naive" ? PALETTE[1] : PALETTE[2]);
  const markers: Markers[] = [];
  const series: Series[] = TIME_PATHS.map((p) => ({
    name: p.label,
    color: p.color,
    dashed: p.dashed,
    points: xs.map((L) => {
      const c = layerCost(cfg, p.path, decodeShape(L, o.batch), o);
      return [L, roofline(c.flops, c.bytes, o.machine).seconds] as [number, number];
    }),
  }));
  for (const p of ["naive", "absorbed"] as const) {
    const step = measured.filter((m) => m.path === p && m.scope === "step");
    if (step.length) markers.push({ name: `measured ${p} step`, color: color(p), points: step.map((m) => [m.context, m.seconds]) });
    const attn = measured.filter((m) => m.path === p && m.scope === "attention");
    if (attn.length) {
      // Attention-only timings are compared with an attention-only prediction, drawn dotted.
      markers.push({ name: `measured ${p} attention`, color: color(p), hollow: true, points: attn.map((m) => [m.context, m.seconds]) });
      series.push({
        name: `${p} attention only`,
        color: color(p),
        dotted: true,
        points: xs.map((L) => {
          const c = attentionCost(cfg, p, L, o.batch, o);
          return [L, roofline(c.flops, c.bytes, o.machine).seconds] as [number, number];
        }),
      });
    }
  }
  return {
    title: `Decode step of one ${name} layer, batch ${o.batch}, ${o.format} cache`,
    subtitle: `roofline on ${fmtNum(o.machine.gflops)} GFLOP/s, ${fmtNum(o.machine.gbps)} GB/s (${shortSource(o.machine)}); whole model = x ${cfg.n_layers}${noMatch ? `; no measured points: the benchmarks time ${Object.keys(BENCH_MODELS).join(" and ")} layers at batch 1, f32, not this one` : ""}`,
    xLabel: "context (tokens attended)",
    yLabel: "predicted time per decode step",
    formatX: fmtTokens,
    formatY: fmtSeconds,
    series,
    markers,
  };
}
