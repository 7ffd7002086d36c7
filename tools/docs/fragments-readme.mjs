// @ts-check
// README.md's figures: the benchmark summary (bench/results/latest.json) and the runtime matrix
// (bench/results/runtimes.json).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { day, f1, pct, sci2, sciCeil, table, times, timesRange } from "./format.mjs";
import { fig, figs } from "./results.mjs";

/** The table `node examples/cache-memory.mjs` prints (computed from the presets; needs dist/). @param {string} root */
function cacheMemoryTable(root) {
  const r = spawnSync(process.execPath, [join(root, "examples", "cache-memory.mjs")], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`examples/cache-memory.mjs failed (run \`npm run build\` first): ${r.stderr}`);
  return r.stdout;
}

/** @param {import("./results.mjs").Results} r @param {string} root @returns {Record<string, string>} */
export function readmeFragments(r, root) {
  const L = r.latest, rt = r.runtimes;
  const attn = fig(L, "attn-absorbed", "V3", "H=128 S=4096");
  const byName = Object.fromEntries(rt.runtimes.map((x) => [x.runtime, x]));
  const sameErrors = (/** @type {any} */ a, /** @type {any} */ b) => a && b && a.vsOfficial === b.vsOfficial && a.vsOracle === b.vsOracle && a.decodeVsOracle === b.decodeVsOracle;
  return {
    "bench-minutes": `about ${Math.round(L.seconds / 60)} minutes`,
    "bench-summary":
      `From the committed run (${day(L.date)}, one core, float32, relaxed build; its probe measured a ` +
      `${f1(L.probe.peakRelaxedGflops)} GFLOP/s FMA peak and ${f1(L.probe.streamGBs)} GB/s DRAM read): prefill GEMMs ` +
      `${timesRange(figs(L, "gemm").map((f) => f.ratio ?? NaN))} XNNPACK and ${timesRange(figs(L, "gemm").map((f) => f.ratio2 ?? NaN))} onnxruntime-web; ` +
      `decode GEMVs ${timesRange(figs(L, "gemv").map((f) => f.ratio ?? NaN))} XNNPACK; absorbed decode attention (V3, H 128, S 4096) at ` +
      `${pct(attn.pctPeak)} of the run's peak, ${times(attn.ratio ?? NaN)} the naive kernel beside it; the whole absorbed decode step ` +
      `${timesRange(figs(L, "step").map((f) => f.ratio ?? NaN), 0)} the float64 oracle.`,
    "runtime-run": `${rt.host.cores} cores, ${f1(rt.seconds)} s, ${day(rt.date)}`,
    "runtime-table": table(
      ["runtime", "build chosen", "vectors", "max error vs official", "vs oracle", "decode step vs oracle", "threads (asked for 2)", "2-thread decode vs oracle", "kit on 2 threads"],
      rt.runtimes.map((x) => [
        x.version, x.relaxedValid ? x.build : `${x.build} (relaxed SIMD does not validate without a flag)`, `${x.casesPassed}/${x.cases}`, sci2(x.vsOfficial), sci2(x.vsOracle), sci2(x.decodeVsOracle),
        x.threads ? (x.threads.count > 1 ? x.threads.reason.replace(/^\d+: /, `${x.threads.count}: `) : x.threads.reason) : "-",
        x.threads?.err != null ? sci2(x.threads.err) : "-",
        x.threads?.kit ? `${x.threads.kit} properties` : "-",
      ]),
    ),
    "runtime-bun-note": sameErrors(byName.bun, byName.node) && byName.bun.build === "relaxed" && byName.node.build === "simd128"
      ? "(Bun's relaxed build gave Node's simd128 errors to the last digit: JavaScriptCore may run `relaxed_madd` as a separate multiply and add, and evidently does here; V8 in Deno and workerd fuses it.)"
      : "",
    "cache-memory-table": cacheMemoryTable(root),
    "wasm-vector-error": sciCeil(Math.max(...rt.runtimes.map((x) => x.vsOfficial))),
  };
}
