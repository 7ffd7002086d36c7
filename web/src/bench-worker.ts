// The decode benchmark off the page's thread: a layer of the preset's shape with seeded random
// weights, a prefill of context-1 tokens in chunks, then one new token at position context-1 that
// attends `context` keys (the cost model's decodeShape), through the absorbed and the naive path.
// The WASM core is loaded with createWasmBackend's defaults (the package's .wasm files by
// `new URL(..., import.meta.url)`), as a user's bundle would, with the threads the page asked for
// (they run only where this worker is cross-origin isolated; backend.threads says what it got).
// Progress is posted after each stage. A "check" request runs the conformance kit on the backend.
import { type AttentionLayer, type Backend, type MlaWeights, Rng, type WasmBackend, type WasmMla, createWasmBackend, randomMlaWeightsIn, referenceBackend } from "mlakit";
import { PROPERTY_NAMES, checkBackend } from "mlakit/conformance";
import type { BenchBackendSpec, BenchReply, BenchRequest, CheckRequest, ThreadsAsked, ThreadsGot, WorkerRequest } from "./bench-protocol.js";
import { NAIVE_CACHE_BUDGET, benchConfig, naiveCacheBytes } from "./bench-config.js";
import { bytes } from "./dom.js";
import { decodeStepFlops } from "./cost.js";
import type { BenchPath } from "./state.js";

const MIN_SAMPLES = 5;
const MIN_MS = 300;

const post = (m: BenchReply): void => (self as unknown as Worker).postMessage(m);

/** One backend per build and thread count for the worker's lifetime (compiling the core once). */
const loaded = new Map<string, Promise<Backend>>();
function backendFor(spec: BenchBackendSpec, threads: ThreadsAsked): Promise<Backend> {
  const key = spec.kind === "wasm" ? `${spec.build}/${threads}` : "reference";
  if (!loaded.has(key)) loaded.set(key, spec.kind === "wasm" ? createWasmBackend({ build: spec.build, threads }) : Promise.resolve(referenceBackend));
  return loaded.get(key)!;
}

const threadsOf = (b: Backend): ThreadsGot => (b.name === "wasm" ? (b as WasmBackend).threads : { count: 1, reason: "1: the float64 reference runs on one thread" });
const buildOf = (b: Backend): string | null => (b.name === "wasm" ? (b as WasmBackend).build : null);

self.addEventListener("message", (ev: MessageEvent<WorkerRequest>) => {
  const req = ev.data;
  (req.type === "check" ? check(req) : run(req)).catch((e: unknown) => post({ type: "error", id: req.id, message: String(e) }));
});

async function check(req: CheckRequest): Promise<void> {
  const backend = await backendFor(req.backend, req.threads);
  const r = await checkBackend(backend, { numRuns: req.numRuns, seed: req.seed, properties: PROPERTY_NAMES, weightFormat: req.weightFormat });
  post({ type: "checked", id: req.id, build: buildOf(backend), threads: threadsOf(backend), weightFormat: req.weightFormat, pass: r.pass, seed: r.seed, numRuns: req.numRuns, properties: r.properties.map((p) => ({ name: p.name, pass: p.pass })), report: r.report });
}

async function run(req: BenchRequest): Promise<void> {
  const { id, context, prefillChunk, seed } = req;
  const backend = await backendFor(req.backend, req.threads);
  const cfg = benchConfig(req.preset);
  const D = cfg.dim;
  // drawn straight into the format: a layer too large for a float32 copy still fits
  const weights = randomMlaWeightsIn(cfg, req.weightFormat, new Rng(seed));
  const prefill = new Rng(seed + 1).normalArray((context - 1) * D);
  const step = new Rng(seed + 2).normalArray(D);
  post({ type: "progress", id, path: null, stage: "weights", done: 0, total: context - 1 });
  const paths: BenchPath[] = [];
  const naiveBytes = naiveCacheBytes(cfg, context);
  const skipped = naiveBytes > NAIVE_CACHE_BUDGET ? `the naive path's per-head cache would take ${bytes(naiveBytes)} at this context (over the worker's ${bytes(NAIVE_CACHE_BUDGET)})` : null;
  for (const path of skipped ? (["absorbed"] as const) : (["absorbed", "naive"] as const)) {
    const layer = backend.name === "wasm"
      ? await (backend as WasmBackend).createMla(cfg, weights, { path, weightFormat: req.weightFormat })
      : await backend.createMla(cfg, weights as MlaWeights, { path }); // the reference dequantises a quantised projection exactly
    try {
      for (let start = 0; start < context - 1; start += prefillChunk) {
        const n = Math.min(prefillChunk, context - 1 - start);
        layer.forward(prefill.subarray(start * D, (start + n) * D), { batch: 1, seqlen: n, startPos: start });
        post({ type: "progress", id, path, stage: "prefill", done: start + n, total: context - 1 });
      }
      post({ type: "progress", id, path, stage: "timing", done: context - 1, total: context - 1 });
      const { ms, reps, y } = timeStep(layer, step, context - 1);
      paths.push({ path, ms, reps, y, flops: decodeStepFlops(cfg, context, path), cacheBytes: layer.cache.bytesInUse(), weightBytes: backend.name === "wasm" ? (layer as WasmMla).weightBytes : null });
    } finally {
      layer.dispose();
    }
  }
  const g = globalThis as { WorkerGlobalScope?: unknown; crossOriginIsolated?: boolean };
  post({ type: "done", id, build: buildOf(backend), threads: threadsOf(backend), inWorker: typeof g.WorkerGlobalScope !== "undefined" && typeof document === "undefined", isolated: g.crossOriginIsolated === true, paths, skipped });
}

// Repeats the identical step (a call at the same startPos rolls the cache back first, per the
// layer interface) and reports a median.
function timeStep(layer: AttentionLayer, x: Float32Array, startPos: number): { ms: number; reps: number; y: number[] } {
  const opts = { batch: 1, seqlen: 1, startPos };
  const t = performance.now();
  const y = Array.from(layer.forward(x, opts)); // first call: warm-up and the output the test checks
  // Browsers coarsen performance.now() (0.1 ms without cross-origin isolation, workers too): time
  // batches of k steps lasting >= ~10 ms each, and report the median batch's time per step.
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
