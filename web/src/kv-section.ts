// The cost model (src/analysis) for a chosen preset, context length and cache format: the KV cache
// of every scheme, what one decode step costs on each path, and the analysis' two charts. When a
// decode step of the same preset was timed on this page, its points are drawn on the time chart.
// A context the box refuses leaves the tables and charts as they were, with an error beside it.
import { PRESET_NAMES, preset } from "mlakit";
import { type Analysis, CACHE_FORMATS, type CacheFormat, DEFAULT_MACHINE, KV_SCHEMES, type MeasuredDecode, analyze, cacheChart, fmtBytes, fmtSeconds, fmtSi, svgDocument, timeChart } from "./analysis.js";
import { parseContext } from "./context-input.js";
import { byId, el, int, labelled, select, table } from "./dom.js";
import { state } from "./state.js";

const DECODE_PATHS = ["naive", "absorbed", "recompute", "mha", "gqa", "mqa"] as const;
const DEFAULT_CONTEXT = 32768;

export function mountKvSection(): () => void {
  const presetSel = select("kv-preset", PRESET_NAMES.map((p) => ({ value: p, label: p })), "deepseek-v3");
  // Text, not type=number: a number box hides what was typed ("abc" reads as "") and accepts 2.5 and 1e9.
  const ctx = el("input", { id: "kv-context", type: "text", inputmode: "numeric", size: "9", value: String(DEFAULT_CONTEXT), "aria-describedby": "kv-context-error" });
  const formatSel = select("kv-format", CACHE_FORMATS.map((f) => ({ value: f, label: f })), "bf16");
  const err = el("span", { id: "kv-context-error", class: "error", role: "alert" });
  byId("kv-controls").append(labelled("preset", presetSel), labelled("context (tokens)", ctx), err, labelled("cache format", formatSel));
  const charts = byId("kv-charts");
  let shown = { preset: presetSel.value, context: DEFAULT_CONTEXT, format: formatSel.value as CacheFormat };
  const draw = (): void => {
    try {
      render(shown.preset, shown.context, shown.format, charts.clientWidth);
    } catch (e) {
      byId("kv-table").replaceChildren(el("p", { class: "error" }, String(e)));
    }
  };
  const update = (): void => {
    const cfg = preset(presetSel.value);
    const parsed = parseContext(ctx.value, cfg.max_seq_len, presetSel.value);
    if (parsed.ok) shown = { preset: presetSel.value, context: parsed.value, format: formatSel.value as CacheFormat };
    err.textContent = parsed.ok ? "" : parsed.message;
    ctx.setAttribute("aria-invalid", String(!parsed.ok));
    state.kv = { text: ctx.value, error: parsed.ok ? null : parsed.message, shown: shown.context };
    if (parsed.ok) draw();
  };
  for (const c of [presetSel, ctx, formatSel]) c.addEventListener("input", update);
  // The charts are laid out for their column's width (so their text is drawn at its nominal size): redraw when it changes.
  let width = charts.clientWidth;
  new ResizeObserver(() => {
    if (charts.clientWidth !== width) {
      width = charts.clientWidth;
      draw();
    }
  }).observe(charts);
  update();
  return draw;
}

/** The last analysis: analyze() takes a few hundred ms (its crossover scans), so a redraw for new measured points or a new width reuses it. */
let last: { key: string; analysis: Analysis } | null = null;

function analysisOf(name: string, context: number, format: CacheFormat): Analysis {
  const key = JSON.stringify([name, context, format]);
  if (last?.key !== key) last = { key, analysis: analyze(preset(name), name, { context, batch: 1, format, machine: DEFAULT_MACHINE }) };
  return last.analysis;
}

function render(name: string, context: number, format: CacheFormat, width: number): void {
  const cfg = preset(name);
  const machine = DEFAULT_MACHINE;
  const a = analysisOf(name, context, format);
  byId("kv-table").replaceChildren(
    el(
      "p",
      { class: "note" },
      `${name}: D ${cfg.dim}, H ${cfg.n_heads}, q_lora_rank ${cfg.q_lora_rank}, kv_lora_rank ${cfg.kv_lora_rank}, ` +
        `qk_nope ${cfg.qk_nope_head_dim}, qk_rope ${cfg.qk_rope_head_dim}, v ${cfg.v_head_dim}, ${cfg.n_layers} layers, max_seq_len ${int(cfg.max_seq_len)}; ` +
        `${format} cache, ${int(context)} tokens, batch 1.`,
    ),
    table(
      ["cache scheme", "elements / token / layer", "bytes / token (all layers)", `cache at ${int(context)} tokens`, "vs MLA"],
      KV_SCHEMES.map((s) => {
        const f = a.kvCache[s];
        const cells = [s, int(f.elementsPerTokenPerLayer), fmtBytes(f.bytesPerToken), fmtBytes(f.totalBytes), `${f.vsMla.toFixed(2)}x`];
        return s === "mla" ? { cells, cls: "mla" } : cells;
      }),
    ),
    el("h3", {}, `One decode step of the whole model at ${int(context)} tokens (roofline on ${machine.gflops} GFLOP/s, ${machine.gbps} GB/s)`),
    table(
      ["path", "FLOPs", "bytes moved", "FLOP / byte", "bound", "predicted time"],
      DECODE_PATHS.map((p) => {
        const d = a.decode[p];
        return [p, fmtSi(d.flops), fmtBytes(d.bytes), d.intensity.toFixed(1), d.bound, fmtSeconds(d.seconds)];
      }),
    ),
    el("p", { class: "note" }, `Machine: ${machine.source}.`),
  );
  const measured: MeasuredDecode[] =
    state.bench && state.bench.preset === name && state.bench.weightFormat === "f32" // the chart's lines price float32 weights
      ? state.bench.paths.map((p) => ({ path: p.path, scope: "step" as const, heads: cfg.n_heads, config: cfg, context: state.bench!.context, seconds: p.ms / 1e3, label: `this browser, ${state.bench!.backend}` }))
      : [];
  const common = { format, batch: 1, maxContext: cfg.max_seq_len, groups: a.groups, seedRank: a.seedRank };
  // One chart per row, each laid out at the column's width (svgDocument keeps a minimum; narrower columns scroll).
  const layout = width > 0 ? { width } : {};
  byId("kv-charts").innerHTML = svgDocument([cacheChart(cfg, name, common)], layout) + svgDocument([timeChart(cfg, name, { ...common, machine, measured })], layout);
}
