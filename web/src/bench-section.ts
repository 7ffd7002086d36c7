// A live decode step in this browser: a layer of the chosen preset's shape with seeded random
// weights, a prefill of context-1 tokens, then one new token at position context-1 that attends
// `context` keys (the cost model's decodeShape), through the absorbed and the naive path.
// Timing repeats the identical step (a call at the same startPos rolls the cache back first, per
// the layer interface) and reports a median; speed is shown, never asserted.
import { type AttentionLayer, type MlaConfig, PRESET_NAMES, Rng, mlaWeightShapes, preset, randomMlaWeights, validateConfig } from "mlakit";
import type { PageBackend } from "./backends.js";
import { decodeStepFlops } from "./cost.js";
import { fmtSi } from "./analysis.js";
import { byId, bytes, el, int, labelled, sci, select, table } from "./dom.js";
import { type BenchPath, type BenchRun, state } from "./state.js";

/** Weights above this many bytes (float32) are too large to generate in a page. */
const WEIGHT_BUDGET = 128 * 2 ** 20;
const CONTEXTS = [16, 128, 512, 1024, 2048, 4096];
const SEED = 7;
const MIN_SAMPLES = 5;
const MIN_MS = 300;
/** Tokens per prefill call; `?prefillChunk=N` overrides it (the e2e test uses a small one so chunking is exercised). */
const PREFILL_CHUNK = chunkParam(new URLSearchParams(location.search).get("prefillChunk"), 256);

function chunkParam(v: string | null, fallback: number): number {
  const n = Number(v);
  return v !== null && Number.isInteger(n) && n >= 1 ? n : fallback;
}

export function benchConfig(name: string): MlaConfig {
  return validateConfig({ ...preset(name), max_batch_size: 1 });
}

function weightBytes(cfg: MlaConfig): number {
  return Object.values(mlaWeightShapes(cfg)).reduce((n, s) => n + (s as number[]).reduce((a, b) => a * b, 1), 0) * 4;
}

export function mountBenchSection(backends: PageBackend[], onRun: () => void): void {
  const presetSel = select(
    "bench-preset",
    PRESET_NAMES.map((p) => {
      const w = weightBytes(benchConfig(p));
      return { value: p, label: w > WEIGHT_BUDGET ? `${p} (weights ${bytes(w)}: too large for a page)` : `${p} (weights ${bytes(w)})`, disabled: w > WEIGHT_BUDGET };
    }),
    "deepseek-v2-lite",
  );
  const ctxSel = select("bench-context", CONTEXTS.map((c) => ({ value: String(c), label: int(c) })), "1024");
  const backendSel = select("bench-backend", backends.map((b, i) => ({ value: String(i), label: b.label })), "0");
  const button = el("button", { id: "bench-run" }, "Run decode step");
  const out = byId("bench-result");
  byId("bench-controls").append(labelled("preset", presetSel), labelled("context", ctxSel), labelled("backend", backendSel), button);
  out.append(el("p", { class: "note" }, "Random weights with the preset's exact shapes (seeded), one layer, batch 1."));

  button.addEventListener("click", async () => {
    button.disabled = true;
    delete document.body.dataset.bench;
    state.bench = null;
    out.replaceChildren(el("p", {}, "Generating weights and prefilling the cache…"));
    try {
      const run = await runBench(backends[Number(backendSel.value)], presetSel.value, Number(ctxSel.value), (msg) => out.replaceChildren(el("p", {}, msg)));
      state.bench = run;
      render(out, run);
      onRun();
    } catch (e) {
      state.errors.push(`bench: ${String(e)}`);
      out.replaceChildren(el("p", { class: "error" }, String(e)));
    } finally {
      button.disabled = false;
      document.body.dataset.bench = state.bench ? "done" : "error";
    }
  });
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

async function runBench(pb: PageBackend, presetName: string, context: number, progress: (msg: string) => void): Promise<BenchRun> {
  const cfg = benchConfig(presetName);
  const D = cfg.dim;
  const weights = randomMlaWeights(cfg, new Rng(SEED));
  const prefill = new Rng(SEED + 1).normalArray((context - 1) * D);
  const step = new Rng(SEED + 2).normalArray(D);
  const paths: BenchPath[] = [];
  for (const path of ["absorbed", "naive"] as const) {
    const layer = await pb.backend.createMla(cfg, weights, { path });
    try {
      // Prefill in chunks, yielding between them so the page stays responsive.
      for (let start = 0; start < context - 1; start += PREFILL_CHUNK) {
        progress(`${path}: prefilling tokens ${int(start)}..${int(context - 1)}…`);
        await tick();
        const n = Math.min(PREFILL_CHUNK, context - 1 - start);
        layer.forward(prefill.subarray(start * D, (start + n) * D), { batch: 1, seqlen: n, startPos: start });
      }
      progress(`${path}: timing the decode step…`);
      await tick();
      const { ms, reps, y } = timeStep(layer, step, context - 1);
      paths.push({ path, ms, reps, y, flops: decodeStepFlops(cfg, context, path), cacheBytes: layer.cache.bytesInUse() });
    } finally {
      layer.dispose();
    }
  }
  return { prefillChunk: PREFILL_CHUNK, backend: pb.label, build: pb.build, chosen: pb.chosen, preset: presetName, config: cfg, context, seed: SEED, paths };
}

function timeStep(layer: AttentionLayer, x: Float32Array, startPos: number): { ms: number; reps: number; y: number[] } {
  const opts = { batch: 1, seqlen: 1, startPos };
  const t = performance.now();
  const y = Array.from(layer.forward(x, opts)); // first call: warm-up and the output the test checks
  // Browsers coarsen performance.now() (0.1 ms without cross-origin isolation): time batches of
  // k steps lasting >= ~10 ms each, and report the median batch's time per step.
  const k = Math.max(1, Math.ceil(10 / Math.max(performance.now() - t, 0.1)));
  const perStep: number[] = [];
  const t0 = performance.now();
  while (perStep.length < MIN_SAMPLES || (performance.now() - t0 < MIN_MS && perStep.length < 200)) {
    const a = performance.now();
    for (let i = 0; i < k; i++) layer.forward(x, opts);
    perStep.push((performance.now() - a) / k);
  }
  perStep.sort((a, b) => a - b);
  return { ms: perStep[perStep.length >> 1], reps: perStep.length * k, y };
}

function render(out: HTMLElement, run: BenchRun): void {
  const [abs, naive] = run.paths;
  let diff = 0;
  for (let i = 0; i < abs.y.length; i++) diff = Math.max(diff, Math.abs(abs.y[i] - naive.y[i]));
  out.replaceChildren(
    table(
      ["path", "ms / step (median)", "GFLOP/s", "FLOPs / step", "cache in use", "steps timed"],
      run.paths.map((p) => [p.path, p.ms.toPrecision(3), (p.flops / p.ms / 1e6).toFixed(2), fmtSi(p.flops), bytes(p.cacheBytes), p.reps]),
    ),
    el(
      "p",
      { class: "note", id: "bench-summary" },
      `${run.preset}, context ${int(run.context)}, backend ${run.backend}${run.chosen ? ", the WASM build the loader chose in this browser" : ""}. ` +
        `Absorbed/naive time: ${(abs.ms / naive.ms).toFixed(2)}x. The two paths' outputs differ by at most ${sci(diff)}. ` +
        `FLOPs from the cost model (src/analysis); times are medians over batches of steps (the browser coarsens its clock). ` +
        `Pick the same preset in the section above to see these points on its time chart.`,
    ),
  );
}
