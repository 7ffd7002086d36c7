// @ts-check
// The committed results the docs quote, read from bench/results/. Every figure in the prose of
// README.md, docs/performance.md and docs/cache.md comes from one of these files.
import { readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * @typedef {{ group: string, model: string, what: string, impl: string, isa: string, ms: number, gflops: number, gbs: number, pctPeak: number, pctBw: number, bwGBs?: number, ratio?: number, ratio2?: number, check?: string, peer?: { ms: number, gflops: number, gbs: number }, peer2?: { ms: number, gflops: number, gbs: number }, bound: string }} Figure
 * @typedef {{ date: string, seconds: number, machine: any, probe: { peakRelaxedGflops: number, peakSimd128Gflops: number, streamGBs: number, stream1GBs: number, stream4GBs: number, l2GBs: number }, figures: Figure[], targets: { target: string, met: boolean, value: string }[], cacheFormats: { S: number, rows: any[], accuracy: any[] } }} BenchRun
 * @typedef {{ date: string, seconds: number, host: { node: string, cores: number }, tolerance: number, runtimes: any[], examples: any[] }} RuntimeRun
 * @typedef {{ latest: BenchRun, before: BenchRun, rerun: BenchRun, runtimes: RuntimeRun, variants: { date: string, rows: any[] }, native: import("./fragments-native.mjs").NativeRun }} Results
 */

/** The files, by what the docs call them. */
export const RESULT_FILES = {
  latest: "bench/results/latest.json", // the committed benchmark run (`npm run bench`)
  before: "bench/results/before-redesign.json", // the run before the one-layer redesign
  rerun: "bench/results/full-run-2.json", // a second run of the same code as `before`, minutes later
  runtimes: "bench/results/runtimes.json", // the runtime matrix (`node test/runtimes/run.mjs --results ...`)
  variants: "bench/results/variants.json", // `npm run bench:variants`
  native: "bench/results/native.json", // `npm run bench:native`
};

/** @param {string} root @returns {Results} */
export function readResults(root) {
  /** @type {any} */
  const out = {};
  for (const [k, f] of Object.entries(RESULT_FILES)) out[k] = JSON.parse(readFileSync(join(root, f), "utf8"));
  return out;
}

/** Relaxed-build figures of one group (the build the targets are judged on). @param {BenchRun} run @param {string} group @param {string} [isa] */
export const figs = (run, group, isa = "relaxed") => run.figures.filter((f) => f.group === group && f.isa === isa);

/** The one figure of a group matching model and `what`. @param {BenchRun} run @param {string} group @param {string} model @param {string} what @param {string} [isa] */
export function fig(run, group, model, what, isa = "relaxed") {
  const f = run.figures.find((x) => x.group === group && x.model === model && x.what === what && x.isa === isa);
  if (!f) throw new Error(`no ${group} figure ${model} ${what} (${isa}) in the run of ${run.date}`);
  return f;
}
