// Messages between the page and its decode worker (bench-worker.ts). Type-only: erased from both bundles.
import type { BenchPath } from "./state.js";

/** Which backend the worker builds: a WASM build loaded the library's default way, or the float64 oracle. */
export type BenchBackendSpec = { kind: "wasm"; build: "simd128" | "relaxed" } | { kind: "reference" };

export interface BenchRequest {
  id: number;
  backend: BenchBackendSpec;
  preset: string;
  context: number;
  prefillChunk: number;
  seed: number;
}

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
  /** True when the code ran in a dedicated worker scope (never on the page's thread). */
  inWorker: boolean;
  paths: BenchPath[];
}

export interface BenchFailed {
  type: "error";
  id: number;
  message: string;
}

export type BenchReply = BenchProgress | BenchDone | BenchFailed;
