// What the page did, as data: the end-to-end test (test/browser/) reads it from
// `window.__mlakit` and recomputes every number with the float64 oracle in Node.
// Type-only and erased from the bundle; a relative path so test/ type-checks this file without the alias.
import type { MlaConfig } from "../../src/config.js";
import type { WeightFormat } from "../../src/weight-formats.js";
import type { BenchProgress, CheckDone, ThreadsAsked, ThreadsGot } from "./bench-protocol.js";

export interface VerifyRow {
  /** PageBackend label, e.g. "wasm (relaxed)". */
  backend: string;
  name: string;
  pass: boolean;
  maxAbsErr: Record<string, number>;
  tolerance: number;
}

export interface BenchPath {
  path: "absorbed" | "naive";
  /** Median ms of one decode step. */
  ms: number;
  reps: number;
  /** FLOPs of one decode step of one layer, by the cost model (layerCost at decodeShape(context, 1)). */
  flops: number;
  /** Output of the decode step, [D]. */
  y: number[];
  cacheBytes: number;
  /** The layer's packed weights (WASM: WasmMla.weightBytes), null on the reference. */
  weightBytes: number | null;
}

export interface BenchRun {
  /** PageBackend label, e.g. "wasm (relaxed)". */
  backend: string;
  build: string | null;
  /** The build the loader picked on its own ("auto"). */
  chosen: boolean;
  preset: string;
  config: MlaConfig;
  /** Format of the projection weights. */
  weightFormat: WeightFormat;
  /** Tokens per prefill call (the prefill is split into calls of this many tokens). */
  prefillChunk: number;
  /** Keys the decode step attends: prefill of context-1 tokens, then one token at startPos context-1. */
  context: number;
  /** Weights: randomMlaWeightsIn(config, weightFormat, new Rng(seed)) (= randomMlaWeights converted to the format); prefill x: new Rng(seed + 1).normalArray((context - 1) * dim); decode x: new Rng(seed + 2).normalArray(dim). */
  seed: number;
  /** The worker said it ran in a dedicated worker scope (no document). */
  inWorker: boolean;
  /** The worker's crossOriginIsolated. */
  isolated: boolean;
  /** Threads asked for, and what the backend got (backend.threads). */
  threadsAsked: ThreadsAsked;
  threads: ThreadsGot;
  paths: BenchPath[];
  /** Why the naive path did not run (its cache would not fit the worker's budget), else null. */
  skipped: string | null;
}

/** The conformance kit run in the decode worker on one backend: the worker's reply, with the page's backend label and the threads it asked for. */
export type CheckRun = Omit<CheckDone, "type" | "id"> & { backend: string; threadsAsked: ThreadsAsked };

/** The context box of the KV-cache section: what was typed, and the error shown for it (null: valid, drawn). */
export interface KvInput {
  text: string;
  error: string | null;
  /** The context the tables and charts show: the last valid one. */
  shown: number;
}

export interface PageState {
  /** Names the library's entry exported into the bundle (for the test, not shown on the page). */
  entryExports: string[];
  /** The first is the WASM build the loader chose ("auto"); the other build follows when it runs here. */
  backends: { name: string; label: string; build: string | null; chosen: boolean; precision: string }[];
  /** WebAssembly.validate(build/mla-relaxed.wasm) in this browser. */
  relaxedValidates: boolean | null;
  verify: VerifyRow[] | null;
  bench: BenchRun | null;
  check: CheckRun | null;
  /** The page's crossOriginIsolated (COOP + COEP: SharedArrayBuffer, so threads). */
  isolated: boolean;
  /** The decode worker's progress messages of the latest run, in arrival order. */
  benchProgress: BenchProgress[];
  kv: KvInput | null;
  errors: string[];
}

export const state: PageState = { entryExports: [], backends: [], relaxedValidates: null, verify: null, bench: null, check: null, isolated: globalThis.crossOriginIsolated === true, benchProgress: [], kv: null, errors: [] };

declare global {
  interface Window {
    __mlakit: PageState;
  }
}
window.__mlakit = state;
