// What the page did, as data: the end-to-end test (test/browser/) reads it from
// `window.__mlakit` and recomputes every number with the float64 oracle in Node.
// Type-only and erased from the bundle; a relative path so test/ type-checks this file without the alias.
import type { MlaConfig } from "../../src/config.js";

export interface VerifyRow {
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
}

export interface BenchRun {
  backend: string;
  build: string | null;
  preset: string;
  config: MlaConfig;
  /** Keys the decode step attends: prefill of context-1 tokens, then one token at startPos context-1. */
  context: number;
  /** Weights: randomMlaWeights(config, new Rng(seed)); prefill x: new Rng(seed + 1).normalArray((context - 1) * dim); decode x: new Rng(seed + 2).normalArray(dim). */
  seed: number;
  paths: BenchPath[];
}

export interface PageState {
  /** Names the library's entry exported into the bundle. */
  entryExports: string[];
  backends: { name: string; build: string | null; precision: string }[];
  verify: VerifyRow[] | null;
  bench: BenchRun | null;
  errors: string[];
}

export const state: PageState = { entryExports: [], backends: [], verify: null, bench: null, errors: [] };

declare global {
  interface Window {
    __mlakit: PageState;
  }
}
window.__mlakit = state;
