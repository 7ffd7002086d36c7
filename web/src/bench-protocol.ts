// Messages between the page and its decode worker (bench-worker.ts). Type-only: erased from both bundles.
import type { BenchPath } from "./state.js";
import type { WeightFormat } from "../../src/weight-formats.js";

/** Which backend the worker builds: a WASM build loaded the library's default way, or the float64 oracle. */
export type BenchBackendSpec = { kind: "wasm"; build: "simd128" | "relaxed" } | { kind: "reference" };

/** Threads the WASM backend is asked for (createWasmBackend's option: a count or "auto"). */
export type ThreadsAsked = number | "auto";

/** What the backend got: `backend.threads` (the reference: always 1). */
export interface ThreadsGot {
  count: number;
  reason: string;
}

export interface BenchRequest {
  type: "bench";
  id: number;
  backend: BenchBackendSpec;
  threads: ThreadsAsked;
  preset: string;
  /** Format of the projection weights, drawn straight into it (randomMlaWeightsIn). */
  weightFormat: WeightFormat;
  context: number;
  prefillChunk: number;
  seed: number;
}

/** The conformance kit (mlakit/conformance checkBackend) on the backend, in the worker. */
export interface CheckRequest {
  type: "check";
  id: number;
  backend: BenchBackendSpec;
  threads: ThreadsAsked;
  /** The layers get their weights in this format, the oracle their exact values (checkBackend's weightFormat). */
  weightFormat: WeightFormat;
  numRuns: number;
  seed: number;
}

export type WorkerRequest = BenchRequest | CheckRequest;

/** A stage of one path: weights generated, `done` of `total` prefill tokens written, or the step being timed. */
export interface BenchProgress {
  type: "progress";
  id: number;
  path: "absorbed" | "naive" | null;
  stage: "weights" | "prefill" | "timing";
  done: number;
  total: number;
}

export interface BenchDone {
  type: "done";
  id: number;
  /** The WASM build the worker loaded (null: reference). */
  build: string | null;
  threads: ThreadsGot;
  /** True when the code ran in a dedicated worker scope (never on the page's thread). */
  inWorker: boolean;
  /** The worker's crossOriginIsolated (false: no SharedArrayBuffer, so no threads). */
  isolated: boolean;
  paths: BenchPath[];
  /** The naive path when its per-head cache would exceed the worker's budget (bench-config.ts), and why. */
  skipped: string | null;
}

export interface CheckDone {
  type: "checked";
  id: number;
  build: string | null;
  threads: ThreadsGot;
  weightFormat: WeightFormat;
  pass: boolean;
  seed: number;
  numRuns: number;
  properties: { name: string; pass: boolean }[];
  /** checkBackend's report (the counterexample and its replay, when a property failed). */
  report: string;
}

export interface BenchFailed {
  type: "error";
  id: number;
  message: string;
}

export type BenchReply = BenchProgress | BenchDone | CheckDone | BenchFailed;
