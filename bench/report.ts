// bench/results/latest.json -> the performance targets and a markdown report.
import type { WeightAccuracyRow, WeightMemoryRow } from "./weight-formats.js";
import type { WeightCostRow } from "./weight-cost.js";
import type { ProbeResult } from "./probe.js";
import type { Figure } from "./figures.js";
import type { TimingPlan } from "./lib/timing.js";
import { runDramCeilingGBs } from "../src/analysis/bench-results.js";

export interface TargetResult {
  target: string;
  /** The measured figure(s), in words and numbers. */
  value: string;
  met: boolean;
}

export interface BenchResults {
  schema: "mlakit-bench/1";
  date: string;
  mode: "quick" | "full";
  plan: TimingPlan;
  machine: Record<string, unknown>;
  probe: ProbeResult;
  figures: Figure[];
  targets: TargetResult[];
  seconds: number;
  /** Memory of one loaded layer per weight format (bench/weight-formats.ts). */
  weightFormats?: WeightMemoryRow[];
  /** Output error of each weight format's conversion against the float weights (bench/weight-formats.ts). */
  weightAccuracy?: WeightAccuracyRow[];
  /** The cost model's prediction for each weight format's decode step beside the measured one (bench/weight-cost.ts). */
  weightCost?: WeightCostRow[];
}

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const f0 = (x: number) => x.toFixed(0);

/** The performance targets (single thread, float32, ratios in one run), judged on the relaxed build where there is one. */
export function evaluateTargets(r: BenchResults): TargetResult[] {
  const out: TargetResult[] = [];
  const isa = r.probe.peakRelaxedGflops !== null ? "relaxed" : "simd128";
  const of = (g: Figure["group"]) => r.figures.filter((f) => f.group === g && f.isa === isa);
  const gemm = of("gemm");
  if (gemm.length) {
    const worstR = gemm.reduce((a, b) => ((a.ratio ?? 0) <= (b.ratio ?? 0) ? a : b));
    const worstP = gemm.reduce((a, b) => (a.pctPeak <= b.pctPeak ? a : b));
    const metR = gemm.filter((f) => (f.ratio ?? 0) >= 1.3).length, metP = gemm.filter((f) => f.pctPeak >= 70).length;
    out.push({ target: "GEMM >= 1.3x XNNPACK (every prefill projection)", met: metR === gemm.length, value: `${metR}/${gemm.length} shapes; lowest x${f2(worstR.ratio ?? 0)} (${worstR.model} ${worstR.what})` });
    out.push({ target: `GEMM >= 70% of the ${isa} peak`, met: metP === gemm.length, value: `${metP}/${gemm.length} shapes; lowest ${f1(worstP.pctPeak)}% (${worstP.model} ${worstP.what}, ${f1(worstP.gflops)} GFLOP/s)` });
  }
  const attn = of("attn-absorbed").find((f) => f.model === "V3" && f.what.endsWith("S=4096"));
  if (attn) out.push({ target: "absorbed decode attention, H 128, S 4096 >= 70% of peak", met: attn.pctPeak >= 70, value: `${f1(attn.pctPeak)}% (${f1(attn.gflops)} GFLOP/s, ${f2(attn.ms)} ms)` });
  // "Weights streamed from DRAM": the weights that cannot sit in the 32 MiB L3.
  const gemv = of("gemv").filter((f) => f.bytes > 64 * 2 ** 20);
  if (gemv.length) {
    const worst = gemv.reduce((a, b) => (a.pctBw <= b.pctBw ? a : b));
    const met = gemv.filter((f) => f.pctBw >= 85).length;
    out.push({ target: "decode GEMV, weights from DRAM (> 64 MiB), >= 85% of the probe's bandwidth", met: met === gemv.length, value: `${met}/${gemv.length} shapes; lowest ${f1(worst.pctBw)}% (${worst.model} ${worst.what}, ${f1(worst.gbs)} GB/s)` });
  }
  const dsaStep = of("dsa").find((f) => f.model === "V3.2" && f.what === "H=128 S=131072" && f.impl.startsWith("DSA step"));
  out.push(dsaStep
    ? { target: "DSA decode step (indexer + top-k + sparse attention) >= 10x dense absorbed attention, H 128, S 128k", met: (dsaStep.ratio ?? 0) >= 10, value: `x${f1(dsaStep.ratio ?? 0)} (${f2(dsaStep.ms)} ms vs ${f2(dsaStep.peer?.ms ?? NaN)} ms)` }
    : { target: "DSA decode step (indexer + top-k + sparse attention) >= 10x dense absorbed attention, H 128, S 128k", met: false, value: "not measured in this run" });
  const idx = of("dsa").filter((f) => f.impl.startsWith("indexer"));
  if (idx.length) {
    const worst = idx.reduce((a, b) => (a.pctPeak <= b.pctPeak ? a : b));
    const met = idx.filter((f) => f.pctPeak >= 70).length;
    out.push({ target: `DSA indexer scores >= 70% of the ${isa} peak`, met: met === idx.length, value: `${met}/${idx.length} sizes; lowest ${f1(worst.pctPeak)}% (${worst.model} ${worst.what}, ${f1(worst.gflops)} GFLOP/s)` });
  }
  out.push(...threadTargets(r, isa));
  out.push(...weightTargets(r));
  const steps = r.figures.filter((f) => f.group === "step" && f.ratio !== undefined);
  if (steps.length) {
    const worst = steps.reduce((a, b) => ((a.ratio ?? 0) <= (b.ratio ?? 0) ? a : b));
    const met = steps.filter((f) => (f.ratio ?? 0) >= 40).length;
    out.push({ target: "whole absorbed decode step >= 40x the reference", met: met === steps.length, value: `${met}/${steps.length} cases; lowest x${f1(worst.ratio ?? 0)} (${worst.model} ${worst.what})` });
  } else {
    out.push({ target: "whole absorbed decode step >= 40x the reference", met: false, value: "not measured in this run" });
  }
  return out;
}

/**
 * Native llama.cpp (b10573 built here with AVX2/FMA, F32 weights, best setting, one layer) on 2
 * threads, ms per decode token, measured with llama-bench on this machine. A fixed anchor for the
 * main bench's targets, not a same-run ratio: `npm run bench:native` times node-llama-cpp's
 * llama.cpp beside mlakit in one run.
 */
export const LLAMA_CPP_2T_ANCHOR_MS: Readonly<Record<string, Readonly<Record<number, number>>>> = {
  "V2-Lite": { 1024: 6.8, 4096: 9.5, 16384: 36.7 },
  V3: { 1024: 62.3, 4096: 84.4, 16384: 300 },
};

/**
 * Native llama.cpp (b10573, AVX2/FMA, one thread, F16 weights, one layer) ms per decode token at
 * S 1024, measured with llama-bench on this machine: with bf16 or fp8 weights the step must be
 * ahead of it. Not a same-run ratio: compared as measured.
 */
export const LLAMA_CPP_F16_ANCHOR_MS: Readonly<Record<string, number>> = { "V2-Lite": 6.3, V3: 66.6 };

/** The compressed-weight targets: speed-ups over float32 weights in the same run, GEMV bandwidth, GEMM rate, layer memory, the native F16 anchor. */
function weightTargets(r: BenchResults): TargetResult[] {
  const w = r.figures.filter((f) => f.group === "weights");
  if (!w.length) return [{ target: "compressed weights (bf16, int8, fp8)", met: false, value: "not measured in this run" }];
  const out: TargetResult[] = [];
  const fmtOf = (f: Figure) => (f.impl.match(/\b(bf16|int8|fp8)\b/)?.[1] ?? "f32");
  const step = (fmt: string, min: number) => {
    const f = w.find((x) => x.model === "V3" && x.what === "step S=1024" && fmtOf(x) === fmt);
    out.push({ target: `V3 decode step S 1024 with ${fmt} weights >= ${min}x float32 weights`, met: (f?.ratio ?? 0) >= min, value: f ? `x${f2(f.ratio ?? 0)} (${f1(f.ms)} vs ${f1(f.peer!.ms)} ms)` : "not measured" });
  };
  step("fp8", 3);
  step("int8", 3);
  step("bf16", 1.8);
  const gemv = w.filter((f) => f.what.endsWith("M=1") && fmtOf(f) !== "f32");
  if (gemv.length) {
    const worst = gemv.reduce((a, b) => (a.pctBw <= b.pctBw ? a : b));
    out.push({ target: "compressed GEMV >= 85% of the probe's bandwidth on the bytes read", met: gemv.every((f) => f.pctBw >= 85), value: `${gemv.filter((f) => f.pctBw >= 85).length}/${gemv.length}; lowest ${f1(worst.pctBw)}% (${worst.model} ${worst.what} ${fmtOf(worst)}, ${f1(worst.gbs)} GB/s)` });
  }
  const gemm = w.filter((f) => f.what.endsWith("M=64") && fmtOf(f) !== "f32");
  if (gemm.length) {
    const worst = gemm.reduce((a, b) => ((a.ratio ?? 0) <= (b.ratio ?? 0) ? a : b));
    out.push({ target: "compressed prefill GEMM >= 85% of the float32 GEMM's FLOP rate", met: gemm.every((f) => (f.ratio ?? 0) >= 0.85), value: `${gemm.filter((f) => (f.ratio ?? 0) >= 0.85).length}/${gemm.length}; lowest ${f0(100 * (worst.ratio ?? 0))}% (${worst.model} ${worst.what} ${fmtOf(worst)})` });
  }
  for (const [model, anchor] of Object.entries(LLAMA_CPP_F16_ANCHOR_MS)) {
    const got = ["bf16", "fp8"].map((fmt) => ({ fmt, f: w.find((x) => x.model === model && x.what === "step S=1024" && fmtOf(x) === fmt) }));
    const seen = got.filter((g) => g.f);
    out.push({
      target: `${model} decode step S 1024 with bf16 and fp8 weights faster than native llama.cpp with F16 weights, one thread (${anchor} ms, measured beforehand)`,
      met: seen.length === 2 && seen.every((g) => g.f!.ms < anchor),
      value: seen.length ? seen.map((g) => `${g.fmt} ${f2(g.f!.ms)} ms`).join(", ") + ` vs ${anchor} ms` : "not measured in this run",
    });
  }
  const fp8 = r.weightFormats?.find((m) => m.model === "V3" && m.format === "fp8");
  if (fp8) out.push({ target: "a loaded V3 layer in fp8 <= 200 MB", met: fp8.layerBytes <= 200e6, value: `${f1(fp8.layerBytes / 1e6)} MB of linear memory (packed weights ${f1(fp8.weightBytes / 1e6)} MB)` });
  return out;
}

/** One loaded layer's memory per weight format, the conversions' output error, and the GEMVs' in-cache rates. */
function weightFormatsSection(r: BenchResults): string {
  let s = "";
  if (r.weightFormats?.length) {
    s += `\n## Memory of one loaded layer per weight format\n\n`;
    s += table(["model", "format", "packed weights MB", "layer's linear memory MB"], r.weightFormats.map((m) => [m.model, m.format, f1(m.weightBytes / 1e6), f1(m.layerBytes / 1e6)]));
  }
  if (r.weightAccuracy?.length) {
    s += `\n## Output error of each weight format's conversion (float64 oracle on the converted weights' exact values vs on the float weights)\n\n`;
    s += table(["weights", "format", "max |error|", "relative RMS error"], r.weightAccuracy.map((a) => [a.weights, a.format, a.maxAbsErr.toExponential(2), a.relRms.toExponential(2)]));
  }
  if (r.weightCost?.length) {
    s += `\n## The cost model against the weight formats' decode steps\n\nThe cost model (src/analysis/cost.ts, absorbed decode, float32 cache) with each weight format: the weight bytes it prices beside the loaded layer's packed weights, and its roofline time on this run's limits (${f1(r.probe.peakRelaxedGflops ?? r.probe.peakSimd128Gflops)} GFLOP/s, ${f1(dramCeilingGBs(r))} GB/s) beside the measured step. The model takes the weights' decoding as free; where the measured speed-up falls short of the predicted one, the kernels' instructions bound it (the in-cache rates below).\n\n`;
    s += table(["model", "S", "format", "model weight MB", "layer weight MB", "roofline ms", "measured ms", "measured / roofline", "predicted speed-up", "measured speed-up"], r.weightCost.map((c) => [c.model, String(c.context), c.format, f1(c.modelWeightBytes / 1e6), c.layerWeightBytes !== null ? f1(c.layerWeightBytes / 1e6) : "-", f2(c.predictedMs), f2(c.measuredMs), f2(c.measuredMs / c.predictedMs), c.predictedSpeedup !== null ? `x${f2(c.predictedSpeedup)}` : "-", c.measuredSpeedup !== null ? `x${f2(c.measuredSpeedup)}` : "-"]));
  }
  const notes = r.figures.filter((f) => f.group === "weights" && f.note?.includes("in cache"));
  if (notes.length) s += `\nThe decode GEMVs with their weights left in the caches (what the kernels' instructions allow without DRAM):\n\n` + notes.map((f) => `- ${f.model} ${f.what} ${f.impl}: ${f.note}`).join("\n") + "\n";
  return s;
}

/** Sample pairs with both cores needed before a 2-thread ratio is judged on them alone. */
const MIN_PAIRS = 3;

/** The 2-thread targets: speed-ups over one thread in the same run, and the native anchor. */
function threadTargets(r: BenchResults, isa: string): TargetResult[] {
  const two = r.figures.filter((f) => f.group === "threads" && f.threads === 2 && f.isa === isa && f.ratio !== undefined && !f.impl.startsWith("onnxruntime"));
  if (!two.length) return [{ target: "2 threads (split-KV attention, panel-split GEMMs, the whole step)", met: false, value: "not measured in this run" }];
  const out: TargetResult[] = [];
  // A 2-thread ratio is judged on the sample pairs taken while the machine had both cores (see
  // CoreShare) when there are at least MIN_PAIRS of them; the all-pairs median is shown beside it.
  const judged = (f: Figure) => (f.cores?.ratioWithBoth != null && f.cores.withBoth >= MIN_PAIRS ? f.cores.ratioWithBoth : (f.ratio ?? 0));
  const atLeast = (target: string, figs: Figure[], min: number) => {
    if (!figs.length) return;
    const worst = figs.reduce((a, b) => (judged(a) <= judged(b) ? a : b));
    const met = figs.filter((f) => judged(f) >= min).length;
    const c = worst.cores;
    const how = c ? ` on ${c.withBoth >= MIN_PAIRS ? `the ${c.withBoth}/${c.pairs} sample pairs with both cores` : `all ${c.pairs} sample pairs (only ${c.withBoth} had both cores)`}; all pairs x${f2(worst.ratio ?? 0)}, FMA peak 2/1 median ${f2(c.peakMedian)}` : "";
    out.push({ target, met: met === figs.length, value: `${met}/${figs.length}; lowest x${f2(judged(worst))} (${worst.model} ${worst.what}${how})` });
  };
  atLeast("absorbed decode attention on 2 threads >= 1.8x one thread", two.filter((f) => f.impl.startsWith("dense split-KV")), 1.8);
  atLeast("prefill GEMM on 2 threads >= 1.8x one thread", two.filter((f) => f.impl.startsWith("gemm")), 1.8);
  atLeast("whole V3 decode step on 2 threads, S 16k, >= 1.7x one thread", two.filter((f) => f.model === "V3" && f.what === "step S=16384"), 1.7);
  const steps = two.filter((f) => f.what.startsWith("step S=") && LLAMA_CPP_2T_ANCHOR_MS[f.model]?.[Number(f.what.slice(7))] !== undefined);
  if (steps.length) {
    const vs = steps.map((f) => ({ f, anchor: LLAMA_CPP_2T_ANCHOR_MS[f.model][Number(f.what.slice(7))] }));
    const met = vs.filter((v) => v.f.ms < v.anchor).length;
    out.push({
      target: "whole decode step on 2 threads faster than native llama.cpp on 2 threads (anchor measured beforehand, F32 weights)",
      met: met === vs.length,
      value: `${met}/${vs.length}: ${vs.map((v) => `${v.f.model} ${v.f.what.slice(5)} ${f1(v.f.ms)} vs ${v.anchor} ms`).join(", ")}`,
    });
  }
  return out;
}

/**
 * The run's DRAM ceiling (src/analysis/bench-results.ts, the rule the analysis uses too): the
 * probe's reads at the start and the end, and the per-figure reads of weights and caches of
 * >= 64 MiB. On this shared VM one read of the same loop ranges over about 12-19 GB/s with the
 * buffer and the minute, so a single sample at the start understates what the kernels later get.
 */
export function dramCeilingGBs(r: Pick<BenchResults, "probe" | "figures">): number {
  return runDramCeilingGBs([r.probe.streamGBs, r.probe.streamEndGBs ?? 0], r.figures);
}

/** A figure's roofline bound in ms: max(flop / the best build's peak on the figure's threads, bytes / the run's DRAM ceiling). */
export function rooflineOf(p: ProbeResult, f: Figure, ceilingGBs: number): number | undefined {
  const peak = (p.peakRelaxedGflops ?? p.peakSimd128Gflops) * (f.threads ?? 1);
  return f.flop > 0 || f.bytes > 0 ? Math.max(f.flop / (peak * 1e6), f.bytes / (ceilingGBs * 1e6)) : undefined;
}

/** Every figure against its roofline bound; any figure faster than its bound is listed with why. */
function rooflineSection(r: BenchResults): string {
  const ceiling = dramCeilingGBs(r);
  const rows = r.figures.map((f) => ({ f, b: rooflineOf(r.probe, f, ceiling) })).filter((x): x is { f: Figure; b: number } => x.b !== undefined);
  const fast = rows.filter(({ f, b }) => f.ms < b);
  let s = `\n## Against the roofline\n\nEvery figure's work (its FLOPs and the bytes it must read from memory) against this run's limits: max(FLOPs / ${f1(r.probe.peakRelaxedGflops ?? r.probe.peakSimd128Gflops)} GFLOP/s per thread the figure ran on, bytes / ${f1(ceiling)} GB/s). The bandwidth is the run's DRAM ceiling: the fastest read of a buffer of 64 MiB or more by the probe's loops in this run (the probe's own read at the start gave ${f1(r.probe.streamGBs)} GB/s; reads of the figures' own weights and caches, L3 evicted first, reached up to ${f1(ceiling)}). `;
  if (!rows.length) return s + "No figure records its work.\n";
  const ratios = rows.map(({ f, b }) => f.ms / b);
  s += `${rows.length} figures, measured / roofline from ${f2(Math.min(...ratios))}x to ${f2(Math.max(...ratios))}x. `;
  if (!fast.length) return s + "None is faster than its bound.\n";
  s += `${fast.length} beat their bound: each is listed with why (a figure faster than its bound means data came from a cache level above DRAM, or the probe underestimated a limit).\n\n`;
  s += table(["group", "model", "shape", "build", "ms", "roofline ms", "why"], fast.map(({ f, b }) => [f.group, f.model, f.what, f.isa, f2(f.ms), f2(b), beatReason(f)]));
  return s;
}

/** Why a figure can beat the DRAM roofline: its bytes fit the 32 MiB last-level cache and were not evicted before the call. */
function beatReason(f: Figure): string {
  if ((f.threads ?? 1) > 1) return `${f1(f.gbs)} GB/s on ${f.threads} threads: the DRAM ceiling is what the probe's read loops reach on ONE thread; more threads keep more reads in flight`;
  if (f.bytes <= 32 * 2 ** 20) return `its ${f1(f.bytes / 2 ** 20)} MiB fit the last-level cache${f.group === "step" ? " (whole steps do not evict it between calls)" : ""}`;
  return `${f1(f.gbs)} GB/s against the probe's ${f.bwGBs ? f1(f.bwGBs) : "streaming"} read: the probe underestimated this buffer's bandwidth`;
}

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n") + "\n";
}

export function toMarkdown(r: BenchResults): string {
  const p = r.probe;
  const m = r.machine as { node: string; cpu: string; cores: number; isas: string[]; tfjs: { version: string; simd: boolean; threads: boolean }; ort?: { version: string }; source?: { commit: string; dirty: string[] } };
  let s = `# mlakit benchmark (${r.mode}, ${r.date})\n\n`;
  s += `Node ${m.node}, ${m.cpu} (${m.cores} cores; one used, two by the threads group), builds ${m.isas.join(" + ")}, tfjs-core ${m.tfjs.version} wasm backend (SIMD ${m.tfjs.simd}, threads ${m.tfjs.threads})${m.ort ? `, onnxruntime-web ${m.ort.version} (wasm EP, 1 thread)` : ""}. `;
  const la = (r.machine as { loadavg?: { start: number[]; end: number[] } }).loadavg;
  if (la) s += `Load average (1/5/15 min) at start ${la.start.map((x) => x.toFixed(2)).join("/")}, at end ${la.end.map((x) => x.toFixed(2)).join("/")}. `;
  if (m.source) s += `Kernels built from commit ${m.source.commit.slice(0, 10)}${m.source.dirty.length ? ` with uncommitted edits in ${m.source.dirty.length} file(s) under assembly/ or src/` : ""}. `;
  s += `Medians of tinybench samples (${r.plan.iterations}+ iterations, ${r.plan.warmupIterations} warm-up); run-to-run noise on this shared 2-core machine is 10-30%, ratios are from this one run. ${f1(r.seconds)} s in all.\n\n`;
  s += `## Machine probe\n\n`;
  s += table(["limit", "value"], [
    ["f32x4 mul+add, 12 chains (simd128)", `${f1(p.peakSimd128Gflops)} GFLOP/s`],
    ["f32x4.relaxed_madd (FMA), 12 chains", p.peakRelaxedGflops === null ? "n/a" : `${f1(p.peakRelaxedGflops)} GFLOP/s`],
    ["streaming read, 256 MiB, v128 loads, L3 evicted (best of 1, 4 and 8 streams)", `${f1(p.streamGBs)} GB/s` + (p.stream1GBs ? ` (1 stream ${f1(p.stream1GBs)}, 4 streams ${f1(p.stream4GBs!)}${p.stream8GBs ? `, 8 streams ${f1(p.stream8GBs)}` : ""})` : "")],
    ["read, 256 KiB (L2-resident)", `${f1(p.l2GBs)} GB/s`],
  ]);
  const groups: [Figure["group"], string][] = [
    ["gemm", "Prefill projections (GEMM, y = x W^T) vs tfjs-wasm matMul (XNNPACK) and onnxruntime-web"],
    ["gemv", "Decode projections (GEMV, 1 token, weights evicted from L3 before each call) vs XNNPACK and onnxruntime-web"],
    ["attn-absorbed", "Absorbed decode attention (fused, latent cache, + W_UV) vs naive decode"],
    ["attn-naive", "Naive decode attention (decompressed K/V cache)"],
    ["attn-recompute", "MLA recompute decode attention (latent cache; every cached token's K/V decompressed again inside the kernel)"],
    ["attn-mha", "MHA decode attention (K/V of every head cached)"],
    ["attn-gqa", "GQA decode attention (kv heads: the largest divisor of H up to 8, in the impl column)"],
    ["attn-mqa", "MQA decode attention (1 kv head)"],
    ["attn-seed", "The seed text's per-head low-rank scheme (r latents per head for K and V, decompressed inside the kernel)"],
    ["dsa", "DeepSeek-V3.2 sparse decode (indexer + top-2048 + sparse attention) vs dense absorbed decode attention, same fp8 paged cache; ours / peer = dense / DSA step"],
    ["weights", "Compressed projection weights (bf16, int8, fp8 e4m3 with 128x128 block scales) vs float32 weights in the same run: GEMV GB/s of the bytes read, GEMM FLOP rate, the whole V3 decode step; ours / peer = float32 ms / this format's ms"],
    ["threads", "Decode attention on 2 threads (split-KV + combine) vs 1 thread of the same pool; ours / peer = 1-thread ms / 2-thread ms; % peak is of one core"],
    ["step", "Whole absorbed decode step: wasm layer vs float64 reference"],
  ];
  const ceiling = dramCeilingGBs(r);
  for (const [g, title] of groups) {
    const fs = r.figures.filter((f) => f.group === g);
    if (!fs.length) continue;
    s += `\n## ${title}\n\n`;
    const two = fs.some((f) => f.peer2);
    s += table(["model", "shape", "impl", "build", "ms", "roofline ms", "ms / roofline", "GFLOP/s", "GB/s", "% peak", "% DRAM BW", "bound", "peer", "peer ms", "ours / peer", ...(two ? ["peer 2", "peer 2 ms", "ours / peer 2"] : [])],
      fs.map((f) => [f.model, f.what, f.impl, f.isa, f2(f.ms), rooflineOf(r.probe, f, ceiling) ? f2(rooflineOf(r.probe, f, ceiling)!) : "", rooflineOf(r.probe, f, ceiling) ? `${f2(f.ms / rooflineOf(r.probe, f, ceiling)!)}x` : "", f1(f.gflops), f1(f.gbs), f1(f.pctPeak), f1(f.pctBw) + (f.bwGBs ? ` (of ${f1(f.bwGBs)})` : ""), f.bound, f.peer?.impl ?? "", f.peer ? f2(f.peer.ms) : "", f.ratio !== undefined ? `x${f2(f.ratio)}` : "",
        ...(two ? [f.peer2?.impl ?? "", f.peer2 ? f2(f.peer2.ms) : "", f.ratio2 !== undefined ? `x${f2(f.ratio2)}` : ""] : [])]));
  }
  s += weightFormatsSection(r);
  s += rooflineSection(r);
  s += `\n## Targets (judged on the relaxed-simd build)\n\n`;
  s += table(["target", "measured", "met"], r.targets.map((t) => [t.target, t.value, t.met ? "yes" : "**no**"]));
  s += `\n"% DRAM BW" of a memory-bound figure divides by the probe's read loops run over the SAME buffer (the packed weights, the K/V cache) right before and right after the figure, the better of the two, shown in brackets: on this VM one read loop gets 22-29 GB/s depending on the buffer it reads and the minute.\n`;
  s += `\nEvery kernel's output was checked against float64 before it was timed (bench/lib/check.ts); per-figure details are in latest.json.\n`;
  return s;
}
