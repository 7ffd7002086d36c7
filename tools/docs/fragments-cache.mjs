// @ts-check
// docs/cache.md's figures: the cache-format section of the committed run (latest.json's
// cacheFormats: the accuracy study and the paged kernel per format) and, for the cost of paging,
// the run before the redesign (before-redesign.json), whose contiguous kernel still existed.
import { day, ms2, pct, range, sci, table, times } from "./format.mjs";
import { fig } from "./results.mjs";

const FORMATS = ["f32", "bf16", "f16", "int8", "fp8_e4m3"];

/** @param {import("./results.mjs").Results} r @returns {Record<string, string>} */
export function cacheFragments(r) {
  const cf = r.latest.cacheFormats, acc = cf.accuracy;
  const at = (/** @type {string} */ c, /** @type {string} */ f) => acc.find((a) => a.case === c && a.format === f);
  const cases = [...new Set(acc.map((a) => a.case))];
  const sample = [cases.find((c) => !c.startsWith("random")), cases.find((c) => c.startsWith("random"))].filter((c) => c !== undefined);
  const perCase = (/** @type {(c: string) => number} */ fn) => cases.map(fn);
  const row = (/** @type {string} */ f, /** @type {number} */ H, isa = "relaxed") => {
    const x = cf.rows.find((y) => y.format === f && y.H === H && y.isa === isa);
    if (!x) throw new Error(`latest.json cacheFormats: no row ${f} H ${H} ${isa}`);
    return x;
  };
  const lossy = FORMATS.slice(1);
  const f32 = row("f32", 128);
  const beforeF32 = r.before.cacheFormats.rows.find((y) => y.format === "f32" && y.H === 128 && y.isa === "relaxed");
  const fused = fig(r.before, "attn-absorbed", "V3", "H=128 S=4096");
  const bpt = (/** @type {string} */ f) => row(f, 128).bytesPerToken;
  return {
    "cache-accuracy-sample": table(
      ["case", "format", "bytes/token", "bytes/token (V3)", "max abs error", "cal_diff", "o_lat error/bound"],
      sample.flatMap((c) => FORMATS.map((f, i) => { const a = at(c, f); return [i === 0 ? c : "", f, String(a.bytesPerToken), String(a.bytesPerTokenV3), sci(a.maxAbsError), sci(a.calDiff), a.latentWorstRatio.toFixed(3)]; })),
    ),
    "cache-accuracy-cases": `${cases.length}`,
    "cache-accuracy-reading":
      `f16 is ${range(perCase((c) => at(c, "bf16").maxAbsError / at(c, "f16").maxAbsError), 1)}x more accurate than bf16 at the same size ` +
      `(the normalised latent never needs bf16's range); int8 with one scale per token is ${range(perCase((c) => at(c, "int8").maxAbsError / at(c, "bf16").maxAbsError), 1)}x worse than bf16 ` +
      `at half the bytes; fp8 is ${range(perCase((c) => at(c, "fp8_e4m3").maxAbsError / at(c, "bf16").maxAbsError), 0)}x worse than bf16 at ` +
      `${pct((100 * at(cases[0], "fp8_e4m3").bytesPerTokenV3) / at(cases[0], "bf16").bytesPerTokenV3)} of its bytes (cal_diff up to ${sci(Math.max(...acc.filter((a) => a.format === "fp8_e4m3").map((a) => a.calDiff)))})`,
    "cache-bound-slack":
      `The o_lat bound is ${range(acc.filter((a) => a.format !== "f32").map((a) => 1 / a.latentWorstRatio), 0)}x above the observed error (lossy formats); the y bound adds the ` +
      `weights without cancellation and sits ${range(acc.filter((a) => a.format !== "f32").map((a) => 1 / a.worstRatio), 0)}x above it (it is a worst case)`,
    "cache-speed-run": `Relaxed-simd build, run of ${day(r.latest.date)}`,
    "cache-speed-table": table(
      ["format", "bytes/token", "max abs err", "cal_diff", "H 128: attention ms", "vs f32", "+ W_UV ms", "H 16: attention ms", "vs f32"],
      FORMATS.map((f) => { const a = row(f, 128), b = row(f, 16); return [f, String(a.bytesPerToken), sci(a.maxAbsError), sci(a.calDiff), ms2(a.attnMs), times(a.speedupVsF32), ms2(a.kernelMs), ms2(b.attnMs), times(b.speedupVsF32)]; }),
    ),
    "cache-simd128":
      `The simd128 build (no FMA) takes ${ms2(row("f32", 128, "simd128").attnMs)} ms for f32 at H 128 and runs the other formats at ` +
      `${range(lossy.map((f) => row(f, 128, "simd128").speedupVsF32), 2)}x of that`,
    "cache-compute-bound": `so ${f32.attnGflops.toFixed(1)} GFLOP/s reads ${f32.attnGBs.toFixed(2)} GB/s of cache, far below the ${r.latest.probe.streamGBs.toFixed(1)} GB/s the same run's probe streamed`,
    "cache-dequant-cost": `up to ${pct(100 * Math.max(...lossy.flatMap((f) => [row(f, 128), row(f, 16)]).map((x) => 1 - x.speedupVsF32)))} in this run`,
    "cache-fp8-memory": `${bpt("f32")} -> ${bpt("fp8_e4m3")} bytes per token and layer for fp8 (${(bpt("f32") / bpt("fp8_e4m3")).toFixed(1)}x more context in the same RAM, ${(bpt("f32") / bpt("fp8_e4m3")).toFixed(1)}x smaller \`saveCache\` files)`,
    "cache-paging-cost": `${ms2(beforeF32.kernelMs)} ms against ${ms2(fused.ms)} ms for the contiguous kernel in the run before the one-layer redesign, ${day(r.before.date)}`,
  };
}
