// A live decode step, timed in a Web Worker (bench-worker.ts) so the page's thread never blocks:
// the page picks the preset, context, backend and threads, shows the worker's progress, and
// renders the result; the same worker runs the conformance kit on the chosen backend. Threads run
// where the page is cross-origin isolated (npm run web serves it so; ?isolation=off shows the
// fallback and its reason). Speed is shown, never asserted.
import { PRESET_NAMES, WEIGHT_FORMATS, type WeightFormat } from "mlakit";
import type { PageBackend } from "./backends.js";
import { WEIGHT_BUDGET, benchConfig, weightBytes } from "./bench-config.js";
import type { BenchBackendSpec, BenchProgress, BenchReply, ThreadsAsked, WorkerRequest } from "./bench-protocol.js";
import { fmtSi } from "./analysis.js";
import { byId, bytes, el, int, labelled, sci, select, table } from "./dom.js";
import { type BenchRun, type CheckRun, state } from "./state.js";

const CONTEXTS = [16, 128, 512, 1024, 2048, 4096];
const SEED = 7;
/** Tokens per prefill call; `?prefillChunk=N` overrides it (the e2e test uses a small one so chunking is exercised). */
const PREFILL_CHUNK = chunkParam(new URLSearchParams(location.search).get("prefillChunk"), 256);
/** Cases per property of the page's conformance run (`?kitRuns=N` overrides it). */
const KIT_RUNS = chunkParam(new URLSearchParams(location.search).get("kitRuns"), 20);

function chunkParam(v: string | null, fallback: number): number {
  const n = Number(v);
  return v !== null && Number.isInteger(n) && n >= 1 ? n : fallback;
}

export function mountBenchSection(backends: PageBackend[], onRun: () => void): void {
  const formatSel = select("bench-weights", WEIGHT_FORMATS.map((f) => ({ value: f, label: f === "fp8" ? "fp8 (e4m3, 128x128 scales)" : f === "int8" ? "int8 (128x128 scales)" : f })), "f32");
  const presetSel = select("bench-preset", [], "deepseek-v2-lite");
  const ctxSel = select("bench-context", CONTEXTS.map((c) => ({ value: String(c), label: int(c) })), "1024");
  const backendSel = select("bench-backend", backends.map((b, i) => ({ value: String(i), label: b.label })), "0");
  const cores = navigator.hardwareConcurrency ?? 1;
  const threadsSel = select("bench-threads", [{ value: "1", label: "1" }, { value: "2", label: "2" }, { value: "auto", label: `auto (${cores})` }], "1");
  // Which presets fit depends on the weights' format and on the backend (the reference holds float64).
  const fitPresets = (): void => {
    const format = formatSel.value as WeightFormat, reference = backends[Number(backendSel.value)].build === null;
    const keep = presetSel.value;
    presetSel.replaceChildren(
      ...PRESET_NAMES.map((p) => {
        const w = weightBytes(benchConfig(p), format, reference);
        const opt = el("option", { value: p }, w > WEIGHT_BUDGET ? `${p} (weights ${bytes(w)}: too large for a page)` : `${p} (weights ${bytes(w)})`);
        opt.disabled = w > WEIGHT_BUDGET;
        return opt;
      }),
    );
    const first = [...presetSel.options].find((o) => !o.disabled)?.value ?? PRESET_NAMES[0];
    presetSel.value = [...presetSel.options].some((o) => o.value === keep && !o.disabled) ? keep : first;
  };
  fitPresets();
  presetSel.value = "deepseek-v2-lite";
  formatSel.addEventListener("change", fitPresets);
  backendSel.addEventListener("change", fitPresets);
  const button = el("button", { id: "bench-run" }, "Run decode step");
  const checkButton = el("button", { id: "check-run" }, "Check against the oracle");
  const out = byId("bench-result");
  byId("bench-controls").append(labelled("preset", presetSel), labelled("weights", formatSel), labelled("context", ctxSel), labelled("backend", backendSel), labelled("threads", threadsSel), button, checkButton);
  out.append(
    el("p", { class: "note" }, "Random weights with the preset's exact shapes (seeded), one layer, batch 1, run in a Web Worker so this page stays responsive."),
    el(
      "p",
      { class: "note", id: "bench-isolation" },
      state.isolated
        ? "This page is cross-origin isolated: the WASM backend can split the absorbed decode over threads."
        : "This page is not cross-origin isolated (served without COOP/COEP): the WASM backend runs on one thread whatever is asked, and says why.",
    ),
  );
  const checkOut = el("div", { id: "check-result" });
  out.after(checkOut);
  const threadsAsked = (): ThreadsAsked => (threadsSel.value === "auto" ? "auto" : Number(threadsSel.value));
  const specOf = (pb: (typeof backends)[number]): BenchBackendSpec => (pb.build === "relaxed" || pb.build === "simd128" ? { kind: "wasm", build: pb.build } : { kind: "reference" });

  const worker = new BenchWorker();
  checkButton.addEventListener("click", async () => {
    checkButton.disabled = button.disabled = true;
    delete document.body.dataset.check;
    state.check = null;
    checkOut.replaceChildren(el("p", { class: "note" }, `Running the conformance kit (${KIT_RUNS} random cases per property) in the worker…`));
    try {
      const pb = backends[Number(backendSel.value)];
      const asked = threadsAsked();
      const reply = await worker.run({ type: "check", backend: specOf(pb), threads: asked, weightFormat: formatSel.value as WeightFormat, numRuns: KIT_RUNS, seed: SEED }, () => {});
      if (reply.type !== "checked") throw new Error(`unexpected reply ${reply.type}`);
      const { type: _t, id: _i, ...got } = reply;
      const run: CheckRun = { ...got, backend: pb.label, threadsAsked: asked };
      state.check = run;
      checkOut.replaceChildren(
        el("p", { class: run.pass ? "note" : "error", id: "check-summary" }, `Conformance kit on ${run.backend}, ${run.weightFormat} weights, threads ${run.threads.reason}: ${run.properties.filter((p) => p.pass).length} of ${run.properties.length} properties hold (seed ${run.seed}, ${run.numRuns} cases each).`),
        el("pre", { class: "note" }, run.report),
      );
    } catch (e) {
      state.errors.push(`check: ${String(e)}`);
      checkOut.replaceChildren(el("p", { class: "error" }, String(e)));
    } finally {
      checkButton.disabled = button.disabled = false;
      document.body.dataset.check = state.check ? "done" : "error";
    }
  });
  button.addEventListener("click", async () => {
    button.disabled = checkButton.disabled = true;
    delete document.body.dataset.bench;
    state.bench = null;
    state.benchProgress = [];
    const bar = el("progress", { id: "bench-progress", max: "1", value: "0" });
    const msg = el("span", { class: "note", id: "bench-stage" }, "Starting the worker…");
    out.replaceChildren(el("p", {}, bar, " ", msg));
    try {
      const pb = backends[Number(backendSel.value)];
      const context = Number(ctxSel.value);
      const asked = threadsAsked();
      const reply = await worker.run({ type: "bench", backend: specOf(pb), threads: asked, preset: presetSel.value, weightFormat: formatSel.value as WeightFormat, context, prefillChunk: PREFILL_CHUNK, seed: SEED }, (p) => {
        state.benchProgress.push(p);
        bar.value = progressFraction(p);
        msg.textContent = progressText(p);
      });
      if (reply.type !== "done") throw new Error(`unexpected reply ${reply.type}`);
      if (reply.build !== pb.build) throw new Error(`the worker loaded build ${String(reply.build)}, not ${String(pb.build)}`);
      const run: BenchRun = { prefillChunk: PREFILL_CHUNK, backend: pb.label, build: pb.build, chosen: pb.chosen, preset: presetSel.value, config: benchConfig(presetSel.value), weightFormat: formatSel.value as WeightFormat, context, seed: SEED, inWorker: reply.inWorker, isolated: reply.isolated, threadsAsked: asked, threads: reply.threads, paths: reply.paths, skipped: reply.skipped };
      state.bench = run;
      render(out, run);
      onRun();
    } catch (e) {
      state.errors.push(`bench: ${String(e)}`);
      out.replaceChildren(el("p", { class: "error" }, String(e)));
    } finally {
      button.disabled = checkButton.disabled = false;
      document.body.dataset.bench = state.bench ? "done" : "error";
    }
  });
}

/** The absorbed path's prefill is the first half of the bar, the naive path's the second. */
function progressFraction(p: BenchProgress): number {
  if (p.path === null) return 0;
  const f = p.total === 0 ? 1 : p.done / p.total;
  return (p.path === "absorbed" ? 0 : 0.5) + 0.5 * (p.stage === "timing" ? 1 : 0.95 * f);
}

function progressText(p: BenchProgress): string {
  if (p.stage === "weights") return `Weights generated; prefilling ${int(p.total)} tokens…`;
  if (p.stage === "prefill") return `${p.path}: prefilled ${int(p.done)} of ${int(p.total)} tokens…`;
  return `${p.path}: timing the decode step…`;
}

type Reply = Extract<BenchReply, { type: "done" | "checked" }>;
type Request = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, "id"> : never) : never;

/** One module worker for the page's lifetime; one run at a time (the buttons are disabled meanwhile). */
class BenchWorker {
  private worker: Worker | null = null;
  private nextId = 1;

  run<R extends Request>(req: R, onProgress: (p: BenchProgress) => void): Promise<R extends { type: "check" } ? Extract<Reply, { type: "checked" }> : Extract<Reply, { type: "done" }>>;
  run(req: Request, onProgress: (p: BenchProgress) => void): Promise<Reply> {
    this.worker ??= new Worker(new URL("./bench-worker.ts", import.meta.url), { type: "module", name: "mlakit-decode" });
    const w = this.worker;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onMessage = (ev: MessageEvent<BenchReply>): void => {
        const m = ev.data;
        if (m.id !== id) return;
        if (m.type === "progress") return onProgress(m);
        cleanup();
        if (m.type === "done" || m.type === "checked") resolve(m);
        else reject(new Error(m.message));
      };
      const onError = (ev: ErrorEvent): void => {
        cleanup();
        this.worker = null; // a worker that failed to load or threw outside a run is not reused
        w.terminate();
        reject(new Error(`decode worker: ${ev.message || "failed to load"}`));
      };
      const cleanup = (): void => {
        w.removeEventListener("message", onMessage);
        w.removeEventListener("error", onError);
      };
      w.addEventListener("message", onMessage);
      w.addEventListener("error", onError);
      w.postMessage({ ...req, id } as WorkerRequest);
    });
  }
}

function render(out: HTMLElement, run: BenchRun): void {
  const [abs, naive] = run.paths;
  let diff = 0;
  if (naive) for (let i = 0; i < abs.y.length; i++) diff = Math.max(diff, Math.abs(abs.y[i] - naive.y[i]));
  const compare = naive
    ? `Absorbed/naive time: ${(abs.ms / naive.ms).toFixed(2)}x. The two paths' outputs differ by at most ${sci(diff)}. `
    : `Naive path skipped: ${run.skipped}. `;
  out.replaceChildren(
    table(
      ["path", "ms / step (median)", "GFLOP/s", "FLOPs / step", "weights held", "cache in use", "steps timed"],
      run.paths.map((p) => [p.path, p.ms.toPrecision(3), (p.flops / p.ms / 1e6).toFixed(2), fmtSi(p.flops), p.weightBytes !== null ? `${bytes(p.weightBytes)} (${run.weightFormat})` : `${run.weightFormat}, dequantised to float64`, bytes(p.cacheBytes), p.reps]),
    ),
    el(
      "p",
      { class: "note", id: "bench-summary" },
      `${run.preset}, ${run.weightFormat} weights, context ${int(run.context)}, backend ${run.backend}${run.chosen ? ", the WASM build the loader chose in this browser" : ""}, threads ${run.threads.reason}, timed in a Web Worker. ` +
        compare +
        `FLOPs from the cost model (src/analysis); times are medians over batches of steps (the browser coarsens its clock). ` +
        `Pick the same preset in the section above to see these points on its time chart.`,
    ),
  );
}
