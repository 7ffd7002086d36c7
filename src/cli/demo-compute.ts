// The demo's last part: what MLA's compressed cache costs in compute, measured on this machine.
// A short probe gives this machine's limits; then the decode attention and the whole decode step
// of each path (MLA naive, absorbed, recompute and MHA of the same heads by default) run on the
// WASM core at a preset's attention geometry, each beside the cost model's roofline time for
// exactly that work on the probed machine; then one line per claim of the seed text about time,
// with what this run measured.

import { type MlaConfig, preset } from "../config.js";
import { attentionCost, decodeShape, layerCost } from "../analysis/cost.js";
import { predicted } from "../analysis/report-measured.js";
import type { Machine } from "../analysis/roofline.js";
import type { AnyPath } from "../analysis/work.js";
import { DEFAULT_SEED_RANK } from "../analysis/kv-cache.js";
import { runProbeNode } from "../probe/node.js";
import { FLUSH_BYTES, makeFlusher } from "../probe/probe.js";
import { WasmKernels } from "../wasm/kernels.js";
import { type DecodeCase, attentionCase, stepCase } from "../wasm/decode-cases.js";
import { createWasmBackend, loadCoreNode } from "../wasm/node.js";
import type { WasmBuildChoice } from "../wasm/loader.js";
import type { Progress } from "./progress.js";
import { formatTable, int } from "./table.js";

export const DEMO_PATHS: readonly AnyPath[] = ["naive", "absorbed", "recompute", "mha"];
const LABEL: Record<AnyPath, string> = { naive: "MLA naive", absorbed: "MLA absorbed", recompute: "MLA recompute", mha: "MHA", gqa: "GQA", mqa: "MQA", seedPerHead: "seed scheme" };

export interface ComputeOptions {
  preset: string;
  contexts: number[];
  build: WasmBuildChoice;
  /** Fewer timed calls per figure (one warm-up, then 3; else 5 and ~0.3 s). */
  quick: boolean;
}

export interface ComputeRow {
  path: AnyPath;
  scope: "attention" | "step";
  /** Keys attended. */
  context: number;
  /** Median of the timed calls. */
  seconds: number;
  /** The cost model's roofline time for the same work on the probed machine. */
  predictedSeconds: number;
  measuredOverPredicted: number;
}

export interface DemoCompute {
  preset: string;
  build: string;
  machine: Machine & { peakSimd128Gflops: number; peakRelaxedGflops: number | null; probeSeconds: number };
  rows: ComputeRow[];
  /** One line per seed claim about time: what it says, what this run measured. */
  claims: { claim: string; measured: string }[];
  seconds: number;
}

/**
 * One warm-up call, then at least `runs` calls and ~`budgetMs`; the median. `flush` evicts the
 * last-level cache before every call (untimed), so a cache or weights that fit in it are read from
 * memory as a real step's would be, and the roofline's DRAM bandwidth applies.
 */
function median(c: DecodeCase, runs: number, budgetMs: number, flush: () => void): number {
  c.run();
  const ts: number[] = [];
  const t0 = performance.now();
  while (ts.length < runs || (performance.now() - t0 < budgetMs && ts.length < 50)) {
    flush();
    const t = performance.now();
    c.run();
    ts.push((performance.now() - t) / 1000);
  }
  ts.sort((a, b) => a - b);
  return ts[(ts.length - 1) >> 1];
}

export async function measureCompute(o: ComputeOptions, p: Progress): Promise<DemoCompute> {
  const t0 = performance.now();
  p.stage("probing this machine (FMA peak, streaming read)", true);
  const probe = await runProbeNode({ build: o.build, samples: o.quick ? 3 : 5, budgetMs: o.quick ? 50 : 150, streamBytes: 128 * 2 ** 20, onProgress: (s) => p.step(s.index, s.total) });
  const machine: DemoCompute["machine"] = {
    gflops: probe.peakGflops, gbps: probe.streamGBs, source: `measured by this demo's probe (${probe.seconds.toFixed(1)} s)`,
    peakSimd128Gflops: probe.peakSimd128Gflops, peakRelaxedGflops: probe.peakRelaxedGflops, probeSeconds: probe.seconds,
  };
  const cfg: MlaConfig = { ...preset(o.preset as never), max_batch_size: 1, max_seq_len: Math.max(...o.contexts) + 2 };
  const core = await loadCoreNode(o.build);
  const flush = await makeFlusher(core.module, FLUSH_BYTES);
  const backend = await createWasmBackend({ build: o.build });
  const rows: ComputeRow[] = [];
  const runs = o.quick ? 3 : 5, budgetMs = o.quick ? 0 : 300;
  const total = o.contexts.length * DEMO_PATHS.length;
  let done = 0;
  for (const S of o.contexts) {
    for (const path of DEMO_PATHS) {
      p.stage(`timing ${LABEL[path]} decode at ${int(S)} cached tokens`, true);
      p.step(done++, total);
      const k = await WasmKernels.create(core);
      const att = attentionCase(k, cfg, path, S, 7);
      const ta = median(att, runs, budgetMs, flush);
      att.dispose();
      const step = await stepCase(backend, cfg, path, S, 11);
      const ts = median(step, runs, budgetMs, flush);
      step.dispose();
      for (const [scope, seconds, context] of [["attention", ta, S], ["step", ts, S + 1]] as const) {
        const pred = predicted(cfg, { path, scope, context, seconds, label: "" }, machine);
        rows.push({ path, scope, context, seconds, predictedSeconds: pred, measuredOverPredicted: seconds / pred });
      }
    }
  }
  p.end();
  return { preset: o.preset, build: backend.build, machine, rows, claims: claimLines(cfg, rows), seconds: (performance.now() - t0) / 1000 };
}

const ms = (s: number) => `${(s * 1e3).toPrecision(3)} ms`;
const x = (r: number) => `${r.toPrecision(3)}x`;

/** The seed's claims about time (3-6 of docs/analysis.md), each with this run's measurement at its longest context. */
function claimLines(cfg: MlaConfig, rows: ComputeRow[]): DemoCompute["claims"] {
  const S = Math.max(...rows.filter((r) => r.scope === "attention").map((r) => r.context));
  const att = (path: AnyPath) => rows.find((r) => r.scope === "attention" && r.path === path && r.context === S)?.seconds;
  const [naive, absorbed, recompute, mha] = (["naive", "absorbed", "recompute", "mha"] as const).map(att);
  const out: DemoCompute["claims"] = [];
  const at = `at ${int(S)} cached tokens`;
  if (recompute !== undefined && absorbed !== undefined && naive !== undefined) {
    out.push({ claim: "3. decompression costs 4·h·s·d_head·r FLOPs per step", measured: `only an engine that decompresses every cached token pays it: recompute attention ${ms(recompute)} ${at}, ${x(recompute / absorbed)} the absorbed kernel (which decompresses nothing) and ${x(recompute / naive)} the naive one (which decompressed each token once, when cached)` });
  }
  if (mha !== undefined) {
    const c = attentionCost(cfg, "mha", S, 1, { format: "f32" });
    out.push({ claim: "4. standard attention costs 4·h·s·d_head FLOPs", measured: `MHA attention ${ms(mha)} ${at}: ${(c.flops / mha / 1e9).toPrecision(3)} GFLOP/s and ${(c.bytes / mha / 1e9).toPrecision(3)} GB/s, so its time is set by the K/V bytes it reads, not by those FLOPs` });
  }
  if (mha !== undefined && naive !== undefined && absorbed !== undefined && recompute !== undefined) {
    out.push({ claim: `5. MLA's compute is (r+1)x standard attention (${DEFAULT_SEED_RANK + 1}x at r = ${DEFAULT_SEED_RANK})`, measured: `attention time over MHA's ${at}: naive ${x(naive / mha)}, absorbed ${x(absorbed / mha)}, recompute ${x(recompute / mha)}` });
    const bytes = (path: AnyPath) => attentionCost(cfg, path, S, 1, { format: "f32" }).bytes;
    const step = (path: AnyPath) => layerCost(cfg, path, decodeShape(S + 1, 1), { format: "f32" });
    out.push({ claim: "6. MLA reads d_head / r less cache per step", measured: `absorbed reads ${x(bytes("mha") / bytes("absorbed"))} fewer attention bytes than MHA ${at} and takes ${x(absorbed / mha)} MHA's time: ${absorbed < mha ? "faster" : "not faster"} here, because it spends ${x(step("absorbed").flops / step("mha").flops)} MHA's FLOPs per step` });
  }
  return out;
}

export function computeText(r: DemoCompute): string {
  const m = r.machine;
  let s = `\nThe compute it costs, measured here (${r.preset}'s attention geometry, one layer, batch 1, float32, WASM ${r.build} build):\n`;
  s += `This machine (probe, ${m.probeSeconds.toFixed(1)} s): ${m.gflops.toFixed(1)} GFLOP/s FMA peak, ${m.gbps.toFixed(1)} GB/s streaming read.\n`;
  s += formatTable(
    ["path", "work", "keys", "measured", "roofline here", "measured / roofline"],
    r.rows.map((row) => [LABEL[row.path], row.scope === "attention" ? "attention" : "decode step", int(row.context), ms(row.seconds), ms(row.predictedSeconds), x(row.measuredOverPredicted)]),
  );
  s += `\n"roofline here": the cost model's max(FLOPs / peak, bytes / bandwidth) for the same work on the probed limits (attention: scores, softmax, weighted sum, plus W_UV for absorbed and the fused decompression for recompute; step: the whole layer). The last-level cache is evicted before every timed call.\n`;
  s += `\nThe seed text's claims about time, against this run:\n`;
  for (const c of r.claims) s += `- ${c.claim}: ${c.measured}.\n`;
  return s;
}
