// Compressed projection weights (src/weight-formats.ts, assembly/weights.ts), one build, one run:
//   - decode GEMV per format at V3 and V2-Lite shapes, L3 evicted before each call: GB/s of the
//     bytes actually read (codes + scales) against the probe's read of the same buffer, and the
//     speed-up over the float32 GEMV of the same shape (peer);
//   - prefill GEMM (M 64) per format against the float32 GEMM's FLOP rate (peer);
//   - the whole absorbed decode step at V3 S 1024 and 4096 per format against float32 (peer);
//   - memory of one loaded V3 layer per format (the layer's packed weights, and its whole memory).
// Every output is checked first against float64 on the dequantised weights (spot rows for the
// projections, cal_diff for the step).
import { PRESETS, makeConfig } from "../src/config.js";
import { WasmKernels, type PackedWeight } from "../src/wasm/kernels.js";
import { loadCoreNode } from "../src/wasm/node.js";
import { WasmMla } from "../src/wasm/mla-layer.js";
import { type QuantisedWeight, convertMlaWeights, dequantiseMlaWeights, dequantiseWeight, quantiseWeight } from "../src/weight-formats.js";
import { ReferenceMla } from "../src/reference/mla.js";
import { fillUniform } from "./lib/data.js";
import { assertOk, checkCalDiff } from "./lib/check.js";
import { timeIt, type TimingPlan } from "./lib/timing.js";
import type { Isa } from "./lib/env.js";
import { makeBufferReader, type ProbeResult } from "./probe.js";
import { makeFigure, type Figure } from "./figures.js";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { rootPath } from "./lib/env.js";
import { parseVectorCaseText } from "../src/io/mla-vectors.js";
import { benchWeights, fillWasmCache, referenceStep, stepFlop, stepInputs, weightBytes } from "./step.js";

export const WEIGHT_BENCH_FORMATS = ["f32", "bf16", "int8", "fp8"] as const;
type Fmt = (typeof WEIGHT_BENCH_FORMATS)[number];

export interface WeightMemoryRow { model: string; format: Fmt; weightBytes: number; layerBytes: number }

/** Output error a format's conversion causes, against the float32 weights' output (both in float64). */
export interface WeightAccuracyRow { weights: string; format: Fmt | "int8 per row"; maxAbsErr: number; relRms: number }

/** The conversions measured: the three formats with 128x128 blocks, and int8 with one scale per row (the alternative not chosen). */
const ACCURACY_VARIANTS: { name: WeightAccuracyRow["format"]; format: "bf16" | "int8" | "fp8"; block: [number, number] }[] = [
  { name: "bf16", format: "bf16", block: [128, 128] },
  { name: "int8", format: "int8", block: [128, 128] },
  { name: "int8 per row", format: "int8", block: [1, 2 ** 30] },
  { name: "fp8", format: "fp8", block: [128, 128] },
];

/**
 * The conversion's error, not the kernels': the float64 oracle on the converted weights' exact
 * values against the oracle on the float weights, over the official vectors' weights and calls
 * (every case in vectors/deepseek-v3-mla) and one V3-shaped layer (one decode token after 8).
 */
export async function weightAccuracy(quick: boolean): Promise<WeightAccuracyRow[]> {
  const rows: WeightAccuracyRow[] = [];
  const dir = rootPath("vectors", "deepseek-v3-mla");
  const cases = readdirSync(dir).filter((f) => f.endsWith(".json")).sort().map((f) => parseVectorCaseText(readFileSync(join(dir, f), "utf8"), f));
  const stats = (a: ArrayLike<number>[], b: ArrayLike<number>[]) => {
    let max = 0, se = 0, sr = 0;
    a.forEach((x, c) => {
      for (let i = 0; i < x.length; i++) (max = Math.max(max, Math.abs(x[i] - b[c][i]))), (se += (x[i] - b[c][i]) ** 2), (sr += b[c][i] ** 2);
    });
    return { maxAbsErr: max, relRms: Math.sqrt(se / sr) };
  };
  for (const { name, format, block } of ACCURACY_VARIANTS) {
    const got: ArrayLike<number>[] = [], want: ArrayLike<number>[] = [];
    for (const vc of cases) {
      const ref = new ReferenceMla(vc.config, vc.weights, { path: "absorbed" }), conv = new ReferenceMla(vc.config, convertMlaWeights(vc.config, vc.weights, format, block), { path: "absorbed" });
      for (const call of vc.calls) {
        const opts = { batch: vc.batch, seqlen: call.seqlen, startPos: call.startPos };
        want.push(ref.forward(call.input.data, opts));
        got.push(conv.forward(call.input.data, opts));
      }
    }
    rows.push({ weights: `official vectors (${cases.length} cases)`, format: name, ...stats(got, want) });
  }
  if (!quick) {
    const cfg = makeConfig({ ...PRESETS["deepseek-v3"], max_seq_len: 128, max_batch_size: 1 });
    const w = benchWeights(cfg, 7), x = fillUniform(new Float32Array(9 * cfg.dim), 9, 1);
    const run = (weights: typeof w | ReturnType<typeof convertMlaWeights>) => {
      const l = new ReferenceMla(cfg, weights, { path: "absorbed" });
      l.forward(x.subarray(0, 8 * cfg.dim), { batch: 1, seqlen: 8, startPos: 0 });
      return l.forward(x.subarray(8 * cfg.dim), { batch: 1, seqlen: 1, startPos: 8 });
    };
    const base = run(w);
    for (const { name, format, block } of ACCURACY_VARIANTS) rows.push({ weights: "V3-shaped random (decode after 8 tokens)", format: name, ...stats([run(convertMlaWeights(cfg, w, format, block))], [base]) });
  }
  return rows;
}

/** Spot-check rows of y = x W^T against float64 on the exact weights. */
function spotCheck(y: Float32Array, x: Float32Array, w: ArrayLike<number>, M: number, N: number, K: number): { worst: number; detail: string } {
  let worst = 0;
  for (const i of [0, M - 1]) {
    for (const n of [0, 1, N >> 1, N - 1]) {
      let s = 0, a = 0;
      for (let k = 0; k < K; k++) (s += x[i * K + k] * w[n * K + k]), (a += Math.abs(x[i * K + k] * w[n * K + k]));
      worst = Math.max(worst, Math.abs(y[i * N + n] - s) / ((2 * K + 1) * 2 ** -24 * a + 1e-30)); // vs the derived bound gamma_(2K+1) sum|x w|
    }
  }
  if (!(worst <= 1)) throw new Error(`weights bench: an output is outside gamma_(2K+1) sum|x w| (x${worst.toFixed(2)} of the bound)`);
  return { worst, detail: `spot rows within ${(100 * worst).toFixed(0)}% of gamma_(2K+1) sum|x w|` };
}

export async function runWeightFormats(probe: ProbeResult, plan: TimingPlan, dramPlan: TimingPlan, flush: () => void, isa: Isa, quick: boolean, log: (s: string) => void): Promise<{ figures: Figure[]; memory: WeightMemoryRow[]; accuracy: WeightAccuracyRow[] }> {
  const out: Figure[] = [];
  const k = await WasmKernels.create(await loadCoreNode(isa));
  const read = await makeBufferReader(k.arena.memory, plan);
  const shapes: [string, string, number, number][] = quick
    ? [["V3", "wo", 7168, 16384]]
    : [["V3", "wo", 7168, 16384], ["V3", "wq_b", 24576, 1536], ["V2-Lite", "wq", 3072, 2048], ["V2-Lite", "wkv_b", 4096, 512]];
  for (const [model, name, N, K] of shapes) {
    const src = fillUniform(new Float32Array(N * K), N + K, Math.sqrt(3 / K));
    let f32: { ms: number; gemmMs: number } | null = null;
    for (const format of WEIGHT_BENCH_FORMATS) {
      const q: QuantisedWeight | null = format === "f32" ? null : quantiseWeight(format, src, [N, K]);
      const exact = q ? dequantiseWeight(q) : src;
      const w: PackedWeight = q ? k.packQuantised({ w: q, N, K, r0: 0, c0: 0, kn: false }) : k.packNK(src, N, K);
      const bytes = 4 * w.buf.length + 4 * (w.scales?.length ?? 0);
      for (const M of quick ? [1] : [1, 64]) {
        const xArr = fillUniform(new Float32Array(M * K), 3 + M, 1), x = k.alloc(M * K, xArr), y = k.alloc(M * N);
        k.linear(M, x, w, y);
        const chk = spotCheck(y.toArray(), xArr, exact, M, N, K);
        const decode = M === 1;
        let bw = decode ? read(w.buf.ptr, 4 * w.buf.length) : undefined;
        // the GEMMs take up to a second a call: a few samples each (the GEMM group of bench/run.ts times them at length)
        const t = timeIt(`weights ${format} ${name} M=${M}`, () => k.linear(M, x, w, y), decode ? dramPlan : { ...plan, iterations: Math.min(plan.iterations, 3), time: 0 }, decode ? flush : undefined);
        if (decode) bw = Math.max(bw!, read(w.buf.ptr, 4 * w.buf.length));
        // the same call with its weights left in the caches: what the kernel's instructions allow without DRAM (weights <= 32 MiB only)
        const warm = decode && bytes <= 24 * 2 ** 20 ? timeIt(`weights ${format} ${name} in cache`, () => k.linear(M, x, w, y), plan).medianMs : null;
        if (format === "f32") f32 = { ...(f32 ?? { ms: 0, gemmMs: 0 }), ...(decode ? { ms: t.medianMs } : { gemmMs: t.medianMs }) };
        const peerMs = decode ? f32!.ms : f32!.gemmMs;
        out.push(makeFigure(probe, {
          group: "weights", model, what: `${name} ${N}x${K}, M=${M}`, impl: `${decode ? "gemv" : "gemm"} ${format}${q ? ` (kg ${w.kg})` : ""}`, isa, ms: t.medianMs,
          flop: 2 * M * N * K, bytes: bytes + 4 * M * (N + K), bound: decode ? "memory" : "compute", ...(decode && { bwGBs: bw }),
          ...(format !== "f32" && { peer: { impl: `float32 ${decode ? "gemv" : "gemm"}`, ms: peerMs, gflops: (2 * M * N * K) / (peerMs * 1e6), gbs: (4 * N * K) / (peerMs * 1e6) } }),
          check: chk.detail, note: `${(bytes / 2 ** 20).toFixed(1)} MiB of weights read${decode ? " (L3 evicted before each call)" : ""}${warm ? `; in cache (not evicted): ${warm.toFixed(3)} ms = ${(bytes / (warm * 1e6)).toFixed(1)} GB/s` : ""}`,
        }));
        log(`weights ${model} ${name} M=${M} ${format}: ${t.medianMs.toFixed(2)} ms, ${(bytes / (t.medianMs * 1e6)).toFixed(1)} GB/s of ${(bytes / 2 ** 20).toFixed(0)} MiB${format !== "f32" ? `, x${(peerMs / t.medianMs).toFixed(2)} vs float32` : ""}`);
        x.free();
        y.free();
      }
      w.buf.free();
      w.scales?.free();
    }
  }

  // ---- the whole decode step per format, and the memory of one loaded layer ---------------
  const memory: WeightMemoryRow[] = [];
  for (const [model, preset] of (quick ? [["V3", "deepseek-v3"]] : [["V3", "deepseek-v3"], ["V2-Lite", "deepseek-v2-lite"]]) as [string, "deepseek-v3" | "deepseek-v2-lite"][]) {
    const cfg = makeConfig({ ...PRESETS[preset], max_seq_len: 4096 + 16, max_batch_size: 1 });
    const floatW = benchWeights(cfg, 101);
    const { kv_lora_rank: C, qk_rope_head_dim: dr } = cfg;
    const steps = model === "V3" ? (quick ? [1024] : [1024, 4096]) : quick ? [] : [1024]; // V2-Lite at S 1024: the native F16 anchor's point
    const f32ms = new Map<number, number>();
    for (const format of WEIGHT_BENCH_FORMATS) {
      const w = format === "f32" ? floatW : convertMlaWeights(cfg, floatW, format);
      const layer = new WasmMla(cfg, w, await WasmKernels.create(await loadCoreNode(isa)), { path: "absorbed" });
      try {
        memory.push({ model, format, weightBytes: layer.weightBytes, layerBytes: layer.kernels.arena.memory.buffer.byteLength });
        log(`weights ${model} layer ${format}: packed weights ${(layer.weightBytes / 1e6).toFixed(1)} MB, linear memory ${(layer.kernels.arena.memory.buffer.byteLength / 1e6).toFixed(1)} MB`);
        if (!steps.length) continue;
        const exactW = format === "f32" ? floatW : dequantiseMlaWeights(cfg, w);
        for (const S of steps) {
          const { kv, pe, x } = stepInputs(cfg, S);
          fillWasmCache(layer, S, kv, pe);
          const opts = { batch: 1, seqlen: 1, startPos: S };
          const y = layer.forward(x, opts);
          // the float64 oracle on the exact weights, the same cache rows
          const chk = checkCalDiff(y, referenceStep(cfg, exactW, S, kv, pe, x), `${format} step vs float64 on the dequantised weights`);
          assertOk(`weights step ${model} S=${S} ${format}`, chk);
          const t = timeIt(`weights step ${model} ${S} ${format}`, () => void layer.forward(x, opts), plan);
          if (format === "f32") f32ms.set(S, t.medianMs);
          const base = f32ms.get(S)!;
          out.push(makeFigure(probe, {
            group: "weights", model, what: `step S=${S}`, impl: `WasmMla absorbed forward, ${format} weights`, isa, ms: t.medianMs,
            flop: stepFlop(cfg, S), bytes: layer.weightBytes + 4 * (S + 1) * (C + dr),
            ...(format !== "f32" && { peer: { impl: "float32 weights", ms: base, gflops: stepFlop(cfg, S) / (base * 1e6), gbs: (weightBytes(cfg) + 4 * (S + 1) * (C + dr)) / (base * 1e6) } }),
            check: chk.detail, note: `packed weights ${(layer.weightBytes / 1e6).toFixed(0)} MB`,
          }));
          log(`weights step ${model} S=${S} ${format}: ${t.medianMs.toFixed(2)} ms${format !== "f32" ? ` (x${(base / t.medianMs).toFixed(2)} vs float32)` : ""}`);
        }
      } finally {
        layer.dispose();
      }
    }
  }
  const accuracy = await weightAccuracy(quick);
  for (const a of accuracy) log(`weights accuracy ${a.weights} ${a.format}: max |err| ${a.maxAbsErr.toExponential(2)}, rel. RMS ${a.relRms.toExponential(2)}`);
  return { figures: out, memory, accuracy };
}
