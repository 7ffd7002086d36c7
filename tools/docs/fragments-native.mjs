// @ts-check
// The native peer's results (`npm run bench:native`, bench/results/native.json) as markdown: the
// bench writes bench/results/native.md with nativeMarkdown, and docs/performance.md quotes the
// same tables through nativeFragments, so both read the same numbers the same way.
import { day, f1, ms2, pct, sci2, table, times, timesRange } from "./format.mjs";

/** @typedef {{ model: string, weights: string, kv: string, flashAttention: boolean, positions: number, worstAbs: number, worstRatio: number, medianBound: number, agrees: boolean, worstRatioAsRequested?: number }} CheckRow */
/** @typedef {{ model: string, S: number, impl: string, weights: string, threads: number, flashAttention?: boolean, ms: number, samples: number, cacheBytesPerToken: number, cache: string }} TimingRow */
/** @typedef {{ date: string, mode: string, seconds: number, source: { commit: string }, peer: { nodeLlamaCpp: string, llamaCpp: string, cpuBackend: string, systemInfo: string }, probe: { peakRelaxedGflops: number, streamGBs: number }, check: { rows: CheckRow[], long: { S: number, flashAttention: boolean, worstAbs: number, model: string }[] }, timing: { rows: TimingRow[], prefill: { model: string, S: number, flashAttention: boolean, threads: number, ms: number }[], floorMs: number, restWeights: Record<string, { rest: number, attention: number }> } }} NativeRun */

const onOff = (/** @type {boolean | undefined} */ b) => (b ? "on" : "off");
/** The same weight bytes on both sides: llama.cpp's type -> mlakit's format. */
export const SAME_BYTES = /** @type {const} */ ({ F32: "f32", F16: "bf16", Q8_0: "int8" });

/** @param {NativeRun} n */
function finder(n) {
  const rows = n.timing.rows;
  /** @param {Partial<TimingRow>} q */
  const find = (q) => rows.filter((r) => Object.entries(q).every(([k, v]) => /** @type {any} */ (r)[k] === v));
  /** The faster of llama.cpp's flash-attention settings for a weight type and thread count. @param {string} model @param {number} S @param {string} weights @param {number} threads */
  const bestLlama = (model, S, weights, threads) => find({ model, S, impl: "llama.cpp", weights, threads }).sort((a, b) => a.ms - b.ms)[0];
  /** @param {string} model @param {number} S @param {string} weights @param {number} threads */
  const mlakit = (model, S, weights, threads) => find({ model, S, impl: "mlakit", weights, threads })[0];
  return { find, bestLlama, mlakit };
}

/** The check table. @param {NativeRun} n */
export function nativeCheckTable(n) {
  return table(
    ["model", "weights", "KV cache asked", "flash attention", "worst \\|Δ log p\\|", "of its bound", "median bound", "agrees"],
    n.check.rows.map((r) => [r.model, r.weights, r.kv, onOff(r.flashAttention), sci2(r.worstAbs), pct(100 * r.worstRatio) + (r.worstRatioAsRequested !== undefined ? ` (${pct(100 * r.worstRatioAsRequested)} of the f32 cache's)` : ""), sci2(r.medianBound), r.agrees ? "yes" : "**no**"]),
  );
}

/** Agreement against context length. @param {NativeRun} n */
export function nativeLongTable(n) {
  const Ss = [...new Set(n.check.long.map((r) => r.S))];
  const at = (/** @type {number} */ S, /** @type {boolean} */ fa) => n.check.long.find((r) => r.S === S && r.flashAttention === fa);
  return table(["S (decode after S - 1)", "worst \\|Δ log p\\|, flash attention off", "on", "on / off"], Ss.map((S) => { const a = at(S, false), b = at(S, true); return [String(S), a ? sci2(a.worstAbs) : "-", b ? sci2(b.worstAbs) : "-", a && b ? times(b.worstAbs / a.worstAbs) : "-"]; }));
}

/** The long rows in a sentence: flash attention's error against none, at the shortest and longest S. @param {NativeRun} n */
export function nativeLongReading(n) {
  const Ss = [...new Set(n.check.long.map((r) => r.S))].sort((a, b) => a - b);
  const at = (/** @type {number} */ S, /** @type {boolean} */ fa) => n.check.long.find((r) => r.S === S && r.flashAttention === fa)?.worstAbs ?? NaN;
  const lo = Ss[0], hi = Ss[Ss.length - 1];
  const offs = Ss.map((S) => at(S, false));
  return `decoding token ${hi} after ${hi - 1} cached ones, the worst |Δ log p| was ${sci2(at(hi, true))} with flash attention and ${sci2(at(hi, false))} without (${times(at(hi, true) / at(hi, false))}); at S ${lo} they were ${sci2(at(lo, true))} and ${sci2(at(lo, false))}. Without flash attention it stayed within ${sci2(Math.min(...offs))}-${sci2(Math.max(...offs))} over S ${lo}-${hi}`;
}

/** llama.cpp's grid per model: rows weights x threads, columns S x flash attention. @param {NativeRun} n @param {string} model */
export function nativeLlamaTable(n, model) {
  const { find } = finder(n);
  const Ss = [...new Set(find({ model, impl: "llama.cpp" }).map((r) => r.S))];
  const head = ["weights", "threads", ...Ss.flatMap((S) => [`S ${S}, FA off`, `S ${S}, FA on`])];
  const rows = [];
  for (const w of ["F32", "F16", "Q8_0"]) for (const t of [1, 2]) rows.push([w, String(t), ...Ss.flatMap((S) => [false, true].map((fa) => { const r = find({ model, S, impl: "llama.cpp", weights: w, threads: t, flashAttention: fa })[0]; return r ? ms2(r.ms) : "-"; }))]);
  return table(head, rows);
}

/** mlakit against llama.cpp's faster FA setting on the same weight bytes, and against the exported graph. @param {NativeRun} n */
export function nativeVersusTable(n) {
  const { find, bestLlama, mlakit } = finder(n);
  const rows = [];
  for (const model of ["V2-Lite", "V3"]) {
    for (const S of [...new Set(find({ model, impl: "mlakit" }).map((r) => r.S))]) {
      for (const threads of [1, 2]) {
        for (const [lw, mw] of Object.entries(SAME_BYTES)) {
          const l = bestLlama(model, S, lw, threads), m = mlakit(model, S, mw, threads);
          if (!l || !m) continue;
          rows.push([model, String(S), String(threads), `${lw} / ${mw}`, `${ms2(l.ms)} (FA ${onOff(l.flashAttention)})`, ms2(m.ms), times(l.ms / m.ms)]);
        }
      }
    }
  }
  return table(["model", "S", "threads", "weights (llama.cpp / mlakit)", "llama.cpp ms/token", "mlakit ms/token", "mlakit speed-up"], rows);
}

/** The exported graph in onnxruntime-web against mlakit (float32 both, 1 thread). @param {NativeRun} n */
export function nativeOrtTable(n) {
  const { find, mlakit } = finder(n);
  return table(
    ["model", "S", "onnxruntime-web naive graph ms/token", "mlakit f32 ms/token", "mlakit speed-up", "their cache bytes/token"],
    find({ impl: "onnxruntime-web" }).map((o) => { const m = mlakit(o.model, o.S, "f32", 1); return [o.model, String(o.S), ms2(o.ms), m ? ms2(m.ms) : "-", m ? times(o.ms / m.ms) : "-", `${o.cacheBytesPerToken} vs ${m?.cacheBytesPerToken ?? "-"}`]; }),
  );
}

/**
 * Cache bytes per token per layer, as each reports it. llama.cpp prints its cache in MiB to two
 * decimals: the longest context's report is the one precise to the byte.
 * @param {NativeRun} n
 */
export function nativeCacheTable(n) {
  /** @type {Map<string, TimingRow>} */
  const longest = new Map();
  for (const r of n.timing.rows) {
    const key = `${r.model}|${r.impl}|${r.cache}`, seen = longest.get(key);
    if (!seen || r.S > seen.S) longest.set(key, r);
  }
  return table(["model", "implementation", "cache", "bytes/token/layer", "from"], [...longest.values()].map((r) => [r.model, r.impl, r.cache, String(Math.round(r.cacheBytesPerToken)), r.impl === "llama.cpp" ? `its report at S ${r.S}` : "the element count"]));
}

/** @param {NativeRun} n */
export function nativeRunLine(n) {
  return `${day(n.date)}, ${n.mode} mode, ${Math.round(n.seconds)} s, commit ${n.source.commit.slice(0, 7)}; node-llama-cpp ${n.peer.nodeLlamaCpp} (llama.cpp ${n.peer.llamaCpp}, CPU backend ${n.peer.cpuBackend}); probe ${f1(n.probe.peakRelaxedGflops)} GFLOP/s FMA peak, DRAM ${f1(n.probe.streamGBs)} GB/s`;
}

/** The reading of the run, in one paragraph. @param {NativeRun} n */
export function nativeReading(n) {
  const { find, bestLlama, mlakit } = finder(n);
  const pairs = (/** @type {number} */ threads, /** @type {string} */ lw) => find({ impl: "mlakit", threads, weights: SAME_BYTES[/** @type {"F32"} */ (lw)] }).flatMap((m) => { const l = bestLlama(m.model, m.S, lw, threads); return l ? [l.ms / m.ms] : []; });
  const agree = n.check.rows.filter((r) => r.agrees).length;
  const worst = Math.max(...n.check.rows.map((r) => r.worstRatio));
  const rest = Object.entries(n.timing.restWeights).map(([m, w]) => `${m} ${pct((100 * w.rest) / (w.rest + w.attention))}`).join(", ");
  const ort = find({ impl: "onnxruntime-web" }).flatMap((o) => { const m = mlakit(o.model, o.S, "f32", 1); return m ? [o.ms / m.ms] : []; });
  return [
    `llama.cpp agreed with the oracle in ${agree} of ${n.check.rows.length} settings (worst ${pct(100 * worst)} of the bound).`,
    `mlakit's step against the faster of llama.cpp's two flash-attention settings (on, off) on the same weight bytes: one thread ${timesRange(pairs(1, "F32"))} (F32 / f32), ${timesRange(pairs(1, "F16"))} (F16 / bf16), ${timesRange(pairs(1, "Q8_0"))} (Q8_0 / int8); two threads ${timesRange(pairs(2, "F32"))}, ${timesRange(pairs(2, "F16"))}, ${timesRange(pairs(2, "Q8_0"))}.`,
    `llama.cpp's times include node-llama-cpp's per-call cost (${ms2(n.timing.floorMs)} ms, the tiny model's step) and the model's rest (weights outside the attention: ${rest} of the step's).`,
    ort.length ? `The exported naive graph in onnxruntime-web was ${timesRange(ort)} slower than mlakit's float32 step.` : "",
  ].filter(Boolean).join(" ");
}

/** The prefills that filled llama.cpp's contexts. @param {NativeRun} n */
export const nativePrefills = (n) => n.timing.prefill.map((p) => `${p.model} S ${p.S} FA ${onOff(p.flashAttention)} ${f1(p.ms / 1000)} s`).join("; ");

/** node-llama-cpp's one-thread F16 step at S 1024 (its faster flash-attention setting), per model: beside the native anchors. @param {NativeRun} n */
export function nativeF16OneThread(n) {
  const { bestLlama } = finder(n);
  return ["V2-Lite", "V3"].flatMap((m) => { const r = bestLlama(m, 1024, "F16", 1); return r ? [`${m} ${ms2(r.ms)} ms`] : []; }).join(", ");
}

/** What mlakit's step gains from a second thread, per model and format, over the run's S. @param {NativeRun} n */
export function nativeThreadGain(n) {
  const { find, mlakit } = finder(n);
  const out = [];
  for (const model of [...new Set(find({ impl: "mlakit" }).map((r) => r.model))]) {
    const parts = [...new Set(find({ impl: "mlakit", model }).map((r) => r.weights))].map((f) => {
      const gains = find({ impl: "mlakit", model, weights: f, threads: 1 }).flatMap((one) => { const two = mlakit(model, one.S, f, 2); return two ? [one.ms / two.ms] : []; });
      return `${f} ${timesRange(gains)}`;
    });
    out.push(`${model}: ${parts.join(", ")}`);
  }
  return out.join("; ");
}

/** bench/results/native.md. @param {NativeRun} n */
export function nativeMarkdown(n) {
  return [
    `# Native peer: llama.cpp checked by the oracle and timed beside mlakit`,
    "",
    nativeRunLine(n),
    "",
    nativeReading(n),
    "",
    "## llama.cpp's log-probabilities against the oracle (prefill of 8, then 4 decodes)",
    "",
    nativeCheckTable(n),
    "",
    nativeLongReading(n) + ".",
    "",
    "## Agreement against context length (tiny-lite, F32 weights, f16 cache; token S decoded after a prefill of S - 1)",
    "",
    nativeLongTable(n),
    "",
    "## mlakit against llama.cpp, ms/token",
    "",
    nativeVersusTable(n),
    "",
    "## The exported naive graph (onnxruntime-web, 1 thread)",
    "",
    nativeOrtTable(n),
    "",
    ...["V2-Lite", "V3"].flatMap((m) => [`## llama.cpp ${m}, ms/token`, "", nativeLlamaTable(n, m), ""]),
    "## Cache per token",
    "",
    nativeCacheTable(n),
    "",
    `Prefills (2 threads, F16 weights): ${nativePrefills(n)}.`,
    "",
  ].join("\n");
}

/** docs/performance.md's native section. @param {{ native: NativeRun }} r @returns {Record<string, string>} */
export function nativeFragments(r) {
  const n = r.native;
  return {
    "perf-native-run": nativeRunLine(n),
    "perf-native-reading": nativeReading(n),
    "perf-native-check": nativeCheckTable(n),
    "perf-native-long": nativeLongTable(n),
    "perf-native-long-reading": nativeLongReading(n),
    "perf-native-versus": nativeVersusTable(n),
    "perf-native-ort": nativeOrtTable(n),
    "perf-native-llama-v2lite": nativeLlamaTable(n, "V2-Lite"),
    "perf-native-llama-v3": nativeLlamaTable(n, "V3"),
    "perf-native-cache": nativeCacheTable(n),
    "perf-native-prefill": nativePrefills(n),
    "perf-native-f16-1t": nativeF16OneThread(n),
    "perf-native-thread-gain": nativeThreadGain(n),
    "native-summary": `From the committed run (${nativeRunLine(n)}): ${nativeReading(n)}`,
  };
}
