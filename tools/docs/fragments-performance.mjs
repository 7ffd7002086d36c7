// @ts-check
// docs/performance.md's figures: the committed run (latest.json) for the results and their
// reading, the run before the one-layer redesign (before-redesign.json) for the before/after,
// a second run of that code minutes later (full-run-2.json) for run-to-run variation, and the
// variants harness (variants.json).
import { day, f1, ms2, pct, pctRange, range, table, times, timesRange } from "./format.mjs";
import { fig, figs } from "./results.mjs";

/** @typedef {import("./results.mjs").Figure} Figure @typedef {import("./results.mjs").BenchRun} BenchRun */

const lo = (/** @type {number[]} */ xs) => Math.min(...xs), hi = (/** @type {number[]} */ xs) => Math.max(...xs);
const median = (/** @type {number[]} */ xs) => { const s = [...xs].sort((a, b) => a - b), m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const split = (/** @type {Figure} */ f) => { const [w, m] = f.what.split(", M="); return { weight: w, M: m }; };
const sOf = (/** @type {Figure} */ f) => Number(/S=(\d+)/.exec(f.what)?.[1]);
const worstBy = (/** @type {Figure[]} */ fs, /** @type {(f: Figure) => number} */ k) => fs.reduce((a, b) => (k(a) <= k(b) ? a : b));
const bestBy = (/** @type {Figure[]} */ fs, /** @type {(f: Figure) => number} */ k) => fs.reduce((a, b) => (k(a) >= k(b) ? a : b));
const name = (/** @type {Figure} */ f) => `${f.model} ${f.what.replace(", M=", ", M ").replace("=", " ").replace(" S=", ", S ")}`;
const MiB = 2 ** 20;

/** Per-format paged attention vs f32 at H 128 (relaxed). @param {BenchRun} run */
const formatRatios = (run) => run.cacheFormats.rows.filter((x) => x.isa === "relaxed" && x.H === 128 && x.format !== "f32").map((x) => x.speedupVsF32);

/** A range of one ratio over a group's relaxed figures. @param {BenchRun} run @param {string} group @param {(f: Figure) => number | undefined} k @param {number} [digits] */
const ratios = (run, group, k, digits = 2) => timesRange(figs(run, group).map((f) => k(f) ?? NaN), digits);

/** @param {import("./results.mjs").Results} r @returns {Record<string, string>} */
export function performanceFragments(r) {
  const L = r.latest, B = r.before, R2 = r.rerun, P = L.probe;
  const gemm = figs(L, "gemm"), gemv = figs(L, "gemv"), attn = figs(L, "attn-absorbed"), naive = figs(L, "attn-naive"), step = figs(L, "step");
  const bigGemv = gemv.filter((f) => f.bytes > 64 * MiB);
  const attn4096 = fig(L, "attn-absorbed", "V3", "H=128 S=4096");
  const naiveFor = (/** @type {Figure} */ a) => fig(L, "attn-naive", a.model, a.what);
  const absorbedBytesPerToken = L.cacheFormats.rows.find((x) => x.format === "f32").bytesPerToken;
  const naivePerToken = (/** @type {string} */ model) => { const f = naive.find((x) => x.model === model); return f ? f.bytes / sOf(f) : NaN; };
  const calDiffs = L.figures.flatMap((f) => [...(f.check ?? "").matchAll(/cal_diff ([0-9.e+-]+)/g)].map((m) => Number(m[1])));

  // Run-to-run: the same code twice (before-redesign and full-run-2), figure by figure.
  const pairs = B.figures.filter((f) => f.isa === "relaxed").flatMap((f) => { const g = R2.figures.find((x) => x.group === f.group && x.model === f.model && x.what === f.what && x.isa === f.isa); return g ? [[f, g]] : []; });
  const msDiff = pairs.map(([a, b]) => 100 * Math.abs(b.ms / a.ms - 1));
  const ratioDiff = pairs.filter(([a, b]) => a.ratio && b.ratio).map(([a, b]) => 100 * Math.abs((b.ratio ?? 0) / (a.ratio ?? 1) - 1));
  const stepPairs = pairs.filter(([a]) => a.group === "step");
  const stepRatioDiff = stepPairs.map(([a, b]) => 100 * Math.abs((b.ratio ?? 0) / (a.ratio ?? 1) - 1));
  const inRun = (/** @type {BenchRun} */ run, /** @type {string} */ g, /** @type {string} */ m, /** @type {string} */ w) => fig(run, g, m, w);

  // The whole step's bounds (V3): weights from DRAM at short S, attention at long S.
  const s1k = fig(L, "step", "V3", "S=1024"), s4k = fig(L, "step", "V3", "S=4096"), s16k = fig(L, "step", "V3", "S=16384");
  const ref = (/** @type {Figure} */ f) => f.peer?.ms ?? NaN;
  const gemvGBs = gemv.map((f) => f.gbs);
  const floorMs = [s1k.bytes / 1e6 / hi(gemvGBs), s1k.bytes / 1e6 / lo(gemvGBs)];
  const refGBs = s1k.bytes / 1e6 / ref(s1k);
  const keyFlop = (s16k.flop - s4k.flop) / (16384 - 4096), keyMs = (ref(s16k) - ref(s4k)) / (16384 - 4096);
  const refAttnGflops = keyFlop / keyMs / 1e6;
  const wasmAttnGflops = fig(L, "attn-absorbed", "V3", "H=128 S=16384").gflops;

  // Variants: x vs core per variant and build, over the shapes (attention split by heads).
  const V = r.variants.rows;
  const vs = (/** @type {string} */ v, /** @type {string} */ isa, /** @type {(s: string) => boolean} */ shape = () => true) => V.filter((x) => x.variant === v && x.isa === isa && shape(x.shape)).map((x) => x.vsCore);
  const h128 = (/** @type {string} */ s) => /H=?\s?128/.test(s), h16 = (/** @type {string} */ s) => /H=?\s?16\b/.test(s);
  const vr = (/** @type {number[]} */ xs) => (xs.length ? range(xs, 2) : "-");
  const fusedVariants = ["attn_absorbed_02_fused_kb64_4x8", "attn_absorbed_03_fused_kb256_4x8", "attn_absorbed_04_fused_kb64_panelouter_4x8", "attn_absorbed_05_fused_kb64_pT_4x8"];
  const VARIANTS = [
    ["gemm", "gemm_01_4x8_packed", "4x8 tile, 8-row panels, no K blocking"],
    ["gemm", "gemm_02_4x8_k4", "01 with k unrolled by 4, immediate load offsets"],
    ["gemv", "gemv_01_4row", "unpacked W, 4 rows share each x load"],
    ["gemv", "gemv_02_packed8_4stream", "packed panels from 4 quarters of W at once: 4 DRAM streams (promoted: the core's `gemv_1x8` now works this way)"],
    ["attn_absorbed", "attn_absorbed_01_twopass_4x8", "scores GEMM over all S, softmax, P^T kv GEMM in 256-key blocks"],
    ["attn_absorbed", "attn_absorbed_02_fused_kb64_4x8", "one pass, 64-key blocks (144 KiB, L2), all heads per block, q packed in 8-head panels, rescale folded into the P^T kv tile load"],
    ["attn_absorbed", "attn_absorbed_03_fused_kb256_4x8", "02 with 256-key blocks"],
    ["attn_absorbed", "attn_absorbed_04_fused_kb64_panelouter_4x8", "02 with the head panel outer in the score loop"],
    ["attn_absorbed", "attn_absorbed_05_fused_kb64_pT_4x8", "04 + probabilities transposed head-major for P^T kv"],
    ["attn_naive", "attn_naive_01_twopass_stream", "two passes in storage order"],
    ["attn_naive", "attn_naive_02_twopass_stream_acc4", "01 with 4 accumulator chains"],
  ];

  const targetsList = L.targets.map((t) => `- ${t.target}: ${t.value} (${t.met ? "met" : "**missed**"})`).join("\n");
  const dirty = L.machine.source?.dirty?.length ?? 0;

  return {
    "perf-latest-run": `${day(L.date)}, ${L.mode} mode, ${Math.round(L.seconds)} s, kernels built from commit ${String(L.machine.source?.commit ?? "?").slice(0, 7)}${dirty ? ` with ${dirty} uncommitted file(s)` : ""}`,
    "perf-before-run": `${day(B.date)}, commit ${String(B.machine.source?.commit ?? "?").slice(0, 7)}`,
    "perf-rerun-run": `${day(R2.date)}, ${Math.round((Date.parse(R2.date) - Date.parse(B.date)) / 60000)} minutes after it`,
    "perf-probe-before-after": `the probe's relaxed FMA peak moved from ${f1(B.probe.peakRelaxedGflops)} to ${f1(P.peakRelaxedGflops)} GFLOP/s and its DRAM read from ${f1(B.probe.streamGBs)} to ${f1(P.streamGBs)} GB/s`,
    "perf-before-after-table": table(
      ["figure (relaxed build, range over every shape)", `before (${day(B.date)})`, `after (${day(L.date)})`],
      [
        ["prefill GEMM vs XNNPACK (tfjs-backend-wasm)", ...[B, L].map((run) => ratios(run, "gemm", (f) => f.ratio))],
        ["prefill GEMM vs onnxruntime-web", ...[B, L].map((run) => ratios(run, "gemm", (f) => f.ratio2))],
        ["decode GEMV vs XNNPACK", ...[B, L].map((run) => ratios(run, "gemv", (f) => f.ratio))],
        ["absorbed decode attention vs the naive decode kernel, same S (naive time / absorbed time)", ...[B, L].map((run) => ratios(run, "attn-absorbed", (f) => f.ratio))],
        ["whole absorbed decode step vs the float64 oracle", ...[B, L].map((run) => ratios(run, "step", (f) => f.ratio, 1))],
        ["paged attention per format vs f32 (H 128, S 4096)", ...[B, L].map((run) => timesRange(formatRatios(run)))],
      ],
    ),
    "perf-lowest-gemm": (() => { const w = worstBy(gemm, (f) => f.ratio ?? 0); return `The lowest GEMM ratio after the redesign (${times(w.ratio ?? NaN)}, ${name(w)}: ${ms2(w.ms)} ms against XNNPACK's ${ms2(w.peer?.ms ?? NaN)} ms)`; })(),
    "perf-step-host": (() => {
      // The step whose ratio moved most between the runs says why it moved.
      const moved = step.map((a) => [inRun(B, "step", a.model, a.what), a]).reduce((x, y) => ((y[1].ratio ?? 0) / (y[0].ratio ?? 1) > (x[1].ratio ?? 0) / (x[0].ratio ?? 1) ? y : x));
      const [b, a] = moved;
      return `at ${a.model} ${a.what.replace("=", " ")}, where the ratio moved most, the reference step took ${Math.round(ref(b))} ms before and ${Math.round(ref(a))} ms after (x${f1(ref(a) / ref(b))}), the wasm step ${ms2(b.ms)} and ${ms2(a.ms)} ms (x${f1(a.ms / b.ms)})`;
    })(),
    "perf-latest-targets": targetsList,
    "perf-peak-relaxed": `${f1(P.peakRelaxedGflops)} GFLOP/s`,
    "perf-peak-simd128": `${f1(P.peakSimd128Gflops)} GFLOP/s`,
    "perf-plan": `>= ${L.plan.iterations} samples and >= ${(L.plan.time / 1000).toFixed(1)} s per figure after ${L.plan.warmupIterations} warm-up calls`,
    "perf-bw-spread": (() => { const d = [...gemv, ...naive].map((f) => f.bwGBs ?? NaN); return `${range(d, 1)} GB/s over the buffers of the memory-bound figures against ${f1(P.streamGBs)} GB/s over the probe's own 256 MiB buffer`; })(),
    "perf-ridge": `${f1(P.peakRelaxedGflops)} / ${f1(P.streamGBs)} = ${f1(P.peakRelaxedGflops / P.streamGBs)} FLOP/byte in the committed run`,
    "perf-caldiff-range": `${lo(calDiffs).toExponential(0)} .. ${hi(calDiffs).toExponential(0)}`,
    "perf-noise":
      `two full runs of the same code, ${Math.round((Date.parse(R2.date) - Date.parse(B.date)) / 60000)} minutes apart (\`before-redesign.json\`, \`full-run-2.json\`), differed per figure by a median of ${pct(median(msDiff))} and up to ${pct(hi(msDiff))} in time (relaxed build), ` +
      `and in their ratio to the peer timed beside them by a median of ${pct(median(ratioDiff))} and up to ${pct(hi(ratioDiff))}`,
    "perf-probe-latest":
      `Machine probe of that run: f32x4 FMA peak **${f1(P.peakRelaxedGflops)} GFLOP/s** (relaxed), mul+add chains ${f1(P.peakSimd128Gflops)} GFLOP/s (simd128), ` +
      `DRAM read **${f1(P.streamGBs)} GB/s** (1 stream ${f1(P.stream1GBs)}, 4 streams ${f1(P.stream4GBs)}), L2-resident read ${f1(P.l2GBs)} GB/s. Ridge: ${f1(P.peakRelaxedGflops / P.streamGBs)} FLOP/byte.`,
    "perf-table-gemm": table(
      ["model", "weight (N x K)", "M", "ms", "GFLOP/s", "% of peak", "XNNPACK ms", "x vs XNNPACK", "onnxruntime-web ms", "x vs ORT"],
      gemm.map((f) => [f.model, split(f).weight, split(f).M, ms2(f.ms), f1(f.gflops), pct(f.pctPeak), ms2(f.peer?.ms ?? NaN), times(f.ratio ?? NaN), ms2(f.peer2?.ms ?? NaN), times(f.ratio2 ?? NaN)]),
    ),
    "perf-gemm-simd128": (() => { const s = figs(L, "gemm", "simd128"); return `simd128 build: ${range(s.map((f) => f.gflops), 0)} GFLOP/s, ${timesRange(s.map((f) => f.ratio ?? NaN))} vs XNNPACK.`; })(),
    "perf-table-gemv": table(
      ["model", "weight (N x K)", "MiB", "ms", "GB/s", "% of the same buffer's read", "XNNPACK GB/s", "x vs XNNPACK", "ORT GB/s", "x vs ORT"],
      gemv.map((f) => [f.model, split(f).weight, String(Math.round(f.bytes / MiB)), ms2(f.ms), f1(f.gbs), `${pct(f.pctBw)} (of ${f1(f.bwGBs ?? NaN)})`, f1(f.peer?.gbs ?? NaN), times(f.ratio ?? NaN), f1(f.peer2?.gbs ?? NaN), times(f.ratio2 ?? NaN)]),
    ),
    "perf-table-attn": table(
      ["model", "S", "absorbed ms", "GFLOP/s", "% of peak", "bound", "naive ms", "naive GB/s", "% of the cache's read", "naive / absorbed time", "cache per token absorbed / naive"],
      attn.map((a) => { const n = naiveFor(a); return [`${a.model} (H ${/H=(\d+)/.exec(a.what)?.[1]})`, String(sOf(a)), ms2(a.ms), f1(a.gflops), pct(a.pctPeak), a.bound, ms2(n.ms), f1(n.gbs), `${pct(n.pctBw)} (of ${f1(n.bwGBs ?? NaN)})`, times(a.ratio ?? NaN), `${absorbedBytesPerToken} B / ${naivePerToken(a.model)} B`]; }),
    ),
    "perf-table-step": table(
      ["model", "S", "wasm ms", "reference ms", "x vs reference", "wasm GFLOP/s", "wasm GB/s (weights + cache)", "% of probe DRAM BW"],
      step.map((f) => [f.model, String(sOf(f)), ms2(f.ms), String(Math.round(ref(f))), times(f.ratio ?? NaN).replace(/(\.\d)\d$/, "$1"), f1(f.gflops), f1(f.gbs), pct(f.pctBw)]),
    ),
    ...dsaFragments(L),
    ...threadFragments(L),
    ...weightFragments(L),
    "perf-targets-table": table(["target (single thread, float32, one run)", "measured (relaxed build)", "met"], L.targets.map((t) => [t.target, t.value, t.met ? "**yes**" : "**no**"])),
    "perf-gemm-pct-range": pctRange(gemm.map((f) => f.pctPeak)),
    "perf-peer-gflops": `XNNPACK's wasm GEMM runs at ${range(gemm.map((f) => f.peer?.gflops ?? NaN), 0)} GFLOP/s here (it is built for simd128, without FMA), onnxruntime-web's at ${range(gemm.map((f) => f.peer2?.gflops ?? NaN), 0)}`,
    "perf-variant-gemm02": `${vr(vs("gemm_02_4x8_k4", "relaxed"))}x the core`,
    "perf-attn-v3-4096": `${pct(attn4096.pctPeak)} of the FMA peak at H 128, S 4096 (${f1(attn4096.gflops)} GFLOP/s, ${ms2(attn4096.ms)} ms; W_UV included)`,
    "perf-attn-v3-1024": `${pct(fig(L, "attn-absorbed", "V3", "H=128 S=1024").pctPeak)}`,
    "perf-attn-flop-ratio": times(attn4096.flop / naiveFor(attn4096).flop).replace(/^x/, "") + "x",
    "perf-attn-gflops-range": `${range(attn.filter((f) => f.model === "V3").map((f) => f.gflops), 1)} GFLOP/s`,
    "perf-naive-gbs-range": `${range(naive.map((f) => f.gbs), 1)} GB/s`,
    "perf-absorbed-vs-naive": `naive time / absorbed time is ${timesRange(attn.filter((f) => f.model === "V3" && sOf(f) >= 4096).map((f) => f.ratio ?? NaN))} at H 128 for S >= 4096 and ${timesRange(attn.filter((f) => f.model === "V2-Lite").map((f) => f.ratio ?? NaN))} for V2-Lite's 16 heads`,
    "perf-cache-per-token": `${absorbedBytesPerToken} bytes of cache per token instead of ${naivePerToken("V3")} (V3) or ${naivePerToken("V2-Lite")} (V2-Lite), i.e. ${Math.round(naivePerToken("V3") / absorbedBytesPerToken)}x (${(naivePerToken("V2-Lite") / absorbedBytesPerToken).toFixed(1)}x) more context in the same RAM`,
    "perf-gemv-reading":
      `reads ${range(gemvGBs, 1)} GB/s, ${pctRange(gemv.map((f) => f.pctBw))} of what the probe's own read loops get from the same packed weights ` +
      `(${pctRange(bigGemv.map((f) => f.pctBw))} for the ${bigGemv.length} over 64 MiB), and ${timesRange(gemv.map((f) => f.ratio ?? NaN))} XNNPACK, ${timesRange(gemv.map((f) => f.ratio2 ?? NaN))} onnxruntime-web in the same run`,
    "perf-gemv-denominator": `the probe's 256 MiB buffer read at ${f1(P.streamGBs)} GB/s in this run while the same loops over the GEMVs' weights read ${range(gemv.map((f) => f.bwGBs ?? NaN), 1)} GB/s; against the former the GEMVs would show ${pctRange(gemv.map((f) => (100 * f.gbs) / P.streamGBs))}`,
    "perf-step-dram":
      `it must read ${Math.round(s1k.bytes / 1e6)} MB of float32 weights and cache; at the ${range(gemvGBs, 1)} GB/s the GEMVs reach that is >= ${range(floorMs, 0)} ms (this run: ${ms2(s1k.ms)} ms). ` +
      `The reference reads the same float32 weights in JS at ~${f1(refGBs)} GB/s (${Math.round(ref(s1k))} ms). Ratio bound: ~${range([ref(s1k) / floorMs[1], ref(s1k) / floorMs[0]], 0)}x`,
    "perf-step-attention":
      `the wasm attention runs at ~${f1(wasmAttnGflops)} GFLOP/s (V3, S 16384), the reference's float64 JS attention at ~${f1(refAttnGflops)} GFLOP/s (its cost per extra cached key, ` +
      `(${Math.round(ref(s16k))} - ${Math.round(ref(s4k))}) ms / ${16384 - 4096} keys = ${keyMs.toFixed(2)} ms, for ${Math.round(keyFlop / 1000)} kFLOP). The ratio therefore tends to ~${Math.round(wasmAttnGflops / refAttnGflops)}x: ` +
      `x${f1(s4k.ratio ?? NaN)} at S 4096 and x${f1(s16k.ratio ?? NaN)} at S 16384 in this run`,
    "perf-step-v2lite": timesRange(step.filter((f) => f.model === "V2-Lite").map((f) => f.ratio ?? NaN), 1),
    "perf-variants-run": `${day(r.variants.date)} (before the one-layer redesign, so "core" is the core of that day)`,
    "perf-variants-table": table(
      ["family", "variant (file in assembly/variants/)", "idea", "x vs core, relaxed (simd128)", "at H 16, relaxed (simd128)"],
      VARIANTS.map(([fam, v, idea]) => {
        const attnFam = fam === "attn_absorbed";
        const main = (/** @type {string} */ isa) => vr(vs(v, isa, attnFam ? h128 : () => true));
        return [fam, `\`${v}\``, idea, `${main("relaxed")} (${main("simd128")})`, attnFam ? `${vr(vs(v, "relaxed", h16))} (${vr(vs(v, "simd128", h16))})` : "-"];
      }),
    ),
    "perf-streams": `one stream ${f1(P.stream1GBs)} GB/s, four streams ${f1(P.stream4GBs)} GB/s`,
    "perf-fused-variants": `${vr(fusedVariants.flatMap((v) => vs(v, "relaxed", h128)))}x the core of the day at H 128 (relaxed)`,
    "perf-kb256": `${vr(vs("attn_absorbed_03_fused_kb256_4x8", "relaxed", h128))}x`,
    "perf-candidate-04": `${vr(vs("attn_absorbed_04_fused_kb64_panelouter_4x8", "relaxed", h128))}x at H 128 / S 4096 and ${vr(vs("attn_absorbed_04_fused_kb64_panelouter_4x8", "relaxed", h16))}x at H 16`,
    "perf-candidate-01": `${vr(vs("attn_absorbed_01_twopass_4x8", "relaxed", h16))}x at H 16`,
    "perf-rerun":
      (() => {
        const gw = (/** @type {BenchRun} */ run) => worstBy(figs(run, "gemm"), (f) => f.pctPeak), a = (/** @type {BenchRun} */ run) => fig(run, "attn-absorbed", "V3", "H=128 S=4096");
        const wqb = (/** @type {BenchRun} */ run) => fig(run, "gemv", "V3", "wq_b 24576x1536, M=1"), st = (/** @type {BenchRun} */ run, /** @type {string} */ s) => fig(run, "step", "V3", s);
        return `GEMM lowest ${pct(gw(R2).pctPeak)} of peak (${name(gw(R2))}; ${pct(gw(B).pctPeak)}, ${name(gw(B))}, in the first) with every ratio to XNNPACK still >= ${times(lo(figs(R2, "gemm").map((f) => f.ratio ?? NaN)))}; ` +
          `absorbed attention ${pct(a(R2).pctPeak)} (${pct(a(B).pctPeak)}); GEMV V3 wq_b ${pct(wqb(R2).pctBw)} of its buffer's read (${pct(wqb(B).pctBw)}); ` +
          `whole step ${times(st(R2, "S=16384").ratio ?? NaN)} at V3 S 16384 (${times(st(B, "S=16384").ratio ?? NaN)}) and ${times(st(R2, "S=1024").ratio ?? NaN)} at V3 S 1024 (${times(st(B, "S=1024").ratio ?? NaN)})`;
      })(),
    "perf-ref-step-time": `${f1(ref(s16k) / 1000)} s at V3 S 16384`,
    "perf-step-rerun-spread": `${pctRange(stepRatioDiff)} on the whole decode step's ratio`,
    "perf-best-gemm-shape": (() => { const b = bestBy(gemm, (f) => f.pctPeak); return `${pct(b.pctPeak)} (${name(b)})`; })(),
  };
}

/** The DeepSeek-V3.2 sparse decode figures (group "dsa", bench/dsa.ts). @param {BenchRun} L @returns {Record<string, string>} */
function dsaFragments(L) {
  const byIsa = (/** @type {string} */ isa) => L.figures.filter((f) => f.group === "dsa" && f.isa === isa);
  const part = (/** @type {Figure[]} */ fs, /** @type {Figure} */ step, /** @type {string} */ p) => fs.find((f) => f.model === step.model && f.what === step.what && f.impl.startsWith(p));
  const rows = (/** @type {string} */ isa) => {
    const fs = byIsa(isa);
    return fs.filter((f) => f.impl.startsWith("DSA step")).map((st) => {
      const d = part(fs, st, "dense"), ix = part(fs, st, "indexer"), tk = part(fs, st, "top-k"), sp = part(fs, st, "sparse");
      return [st.model, String(sOf(st)), isa, ms2(d?.ms ?? NaN), ms2(ix?.ms ?? NaN), ms2(tk?.ms ?? NaN), ms2(sp?.ms ?? NaN), ms2(st.ms), times(st.ratio ?? NaN).replace(/(\.\d)\d$/, "$1"), `${pct(ix?.pctPeak ?? NaN)} (${f1(ix?.gflops ?? NaN)})`, pct(d?.pctPeak ?? NaN)];
    });
  };
  const rel = byIsa("relaxed"), steps = rel.filter((f) => f.impl.startsWith("DSA step"));
  const at = (/** @type {string} */ model, /** @type {number} */ S) => steps.find((f) => f.model === model && sOf(f) === S);
  const big = at("V3.2", 131072), small = at("V3.2 H16", 131072);
  const idx = rel.filter((f) => f.impl.startsWith("indexer"));
  const first = (/** @type {string} */ model) => steps.filter((f) => f.model === model && (f.ratio ?? 0) > 1).map(sOf).sort((a, b) => a - b)[0];
  const stepShare = big ? (part(rel, big, "indexer")?.ms ?? NaN) / big.ms : NaN;
  return {
    "perf-table-dsa": table(
      ["model", "S", "build", "dense ms", "indexer ms", "top-k ms", "sparse ms", "DSA step ms", "dense / DSA step", "indexer % peak (GFLOP/s)", "dense % peak"],
      [...rows("relaxed"), ...rows("simd128")],
    ),
    "perf-dsa-reading": big && small
      ? `at S 128k the sparse step is ${times(big.ratio ?? NaN).replace(/(\.\d)\d$/, "$1")} faster than dense attention with 128 heads and ${times(small.ratio ?? NaN).replace(/(\.\d)\d$/, "$1")} with 16; the indexer is ${pct(100 * stepShare)} of that step at H 128 and runs at ${pctRange(idx.map((f) => f.pctPeak))} of the FMA peak over the sizes; sparse is faster from S ${first("V3.2") ?? "-"} on at H 128 and from S ${first("V3.2 H16") ?? "-"} on at H 16 (the sizes timed: 4k, 16k, 64k, 128k)`
      : "not measured in the committed run",
  };
}

/** How much of the second core a 2-thread figure had (bench/lib/timing.ts timePaired), or "-" for a figure without it. @param {any} f */
const coresCell = (f) => (f.cores ? `${f.cores.withBoth}/${f.cores.pairs}${f.cores.ratioWithBoth == null ? "" : `: ${times(f.cores.ratioWithBoth)}`} (FMA peak 2/1 median ${f.cores.peakMedian.toFixed(2)})` : "-");

/** Compressed projection weights against float32 weights (group "weights", bench/weight-formats.ts). @param {BenchRun} L @returns {Record<string, string>} */
function weightFragments(L) {
  const w = L.figures.filter((f) => f.group === "weights");
  const A = /** @type {any} */ (L);
  const none = "not measured in the committed run";
  if (!w.length) return { "perf-table-weights": none, "perf-weights-memory": none, "perf-weights-accuracy": none, "perf-weights-cost": none };
  return {
    "perf-table-weights": table(
      ["model", "shape", "impl", "build", "ms", "GB/s of the bytes read", "% of the probe's read of the buffer", "GFLOP/s", "float32 ms", "float32 / this"],
      w.map((f) => [f.model, f.what, f.impl, f.isa, ms2(f.ms), f1(f.gbs), f.bwGBs ? pct(f.pctBw) : "-", f1(f.gflops), f.peer ? ms2(f.peer.ms) : "-", f.ratio !== undefined ? times(f.ratio) : "-"]),
    ),
    "perf-weights-memory": A.weightFormats?.length
      ? table(["model", "format", "packed weights (MB)", "the layer's linear memory (MB)"], A.weightFormats.map((/** @type {any} */ m) => [m.model, m.format, f1(m.weightBytes / 1e6), f1(m.layerBytes / 1e6)]))
      : none,
    "perf-weights-cost": A.weightCost?.length
      ? table(
          ["model", "S", "weights", "cost model's weight MB", "loaded layer's weight MB", "roofline ms", "measured ms", "measured / roofline", "predicted speed-up over f32", "measured speed-up"],
          A.weightCost.map((/** @type {any} */ c) => [c.model, String(c.context), c.format, f1(c.modelWeightBytes / 1e6), c.layerWeightBytes !== null ? f1(c.layerWeightBytes / 1e6) : "-", ms2(c.predictedMs), ms2(c.measuredMs), (c.measuredMs / c.predictedMs).toFixed(2), c.predictedSpeedup !== null ? times(c.predictedSpeedup) : "-", c.measuredSpeedup !== null ? times(c.measuredSpeedup) : "-"]),
        )
      : none,
    "perf-weights-accuracy": A.weightAccuracy?.length
      ? table(["weights", "format", "max abs error", "relative RMS error"], A.weightAccuracy.map((/** @type {any} */ a) => [a.weights, a.format, a.maxAbsErr.toExponential(2), a.relRms.toExponential(2)]))
      : none,
  };
}

/** Work on 2 threads against 1 (group "threads", bench/threads.ts), onnxruntime-web's own 2 threads beside mlakit's. @param {BenchRun} L @returns {Record<string, string>} */
function threadFragments(L) {
  const all = L.figures.filter((f) => f.group === "threads" && f.peer);
  const two = all.filter((f) => !f.impl.startsWith("onnxruntime"));
  const ort = all.filter((f) => f.impl.startsWith("onnxruntime"));
  const p21 = /** @type {any} */ (L.probe).threadsPeak2over1;
  const range = (/** @type {(f: any) => boolean} */ pick) => timesRange(two.filter(pick).map((f) => f.ratio ?? NaN));
  return {
    "perf-table-threads": table(
      ["model", "shape", "what runs on 2 threads", "build", "1 thread ms", "2 threads ms", "2 threads / 1 (speed-up)", "sample pairs with both cores: speed-up over them", "GB/s on 1 / 2 threads"],
      all.map((f) => [f.model, f.what, f.impl, f.isa, ms2(f.peer?.ms ?? NaN), ms2(f.ms), times(f.ratio ?? NaN), coresCell(f), `${f1(f.peer?.gbs ?? NaN)} / ${f1(f.gbs)}`]),
    ),
    "perf-threads-reading": two.length
      ? `2 threads ran absorbed decode attention ${range((f) => f.impl.startsWith("dense split-KV"))} faster than 1, sparse attention ${range((f) => f.impl.startsWith("sparse"))}, naive decode attention ${range((f) => f.impl.startsWith("naive"))}, the decode GEMVs ${range((f) => f.impl.startsWith("gemv"))}, the prefill GEMMs ${range((f) => f.impl.startsWith("gemm"))} and the whole decode step ${range((f) => /forward/.test(f.impl))} (${two[0].isa}-threads build), while the FMA-peak kernel on both threads at once ran ${typeof p21 === "number" ? times(p21) : "-"} the work of one` +
        (ort.length ? `; onnxruntime-web's own 2 threads ran its MatMul ${timesRange(ort.map((f) => f.ratio ?? NaN))} faster than its 1, and mlakit's 2 threads were ${timesRange(ort.filter((f) => f.ratio2 !== undefined).map((f) => 1 / (f.ratio2 ?? NaN)))} faster than its 2` : "")
      : "not measured in the committed run",
  };
}
