// The cost model (src/analysis) for a chosen preset, context length and cache format: the KV cache
// of every scheme, what one decode step costs on each path, and the analysis' two charts. When a
// decode step of the same preset was timed on this page, its points are drawn on the time chart.
import { PRESET_NAMES, preset } from "mlakit";
import { CACHE_FORMATS, type CacheFormat, DEFAULT_MACHINE, KV_SCHEMES, type MeasuredDecode, analyze, cacheChart, fmtBytes, fmtSeconds, fmtSi, svgDocument, timeChart } from "./analysis.js";
import { byId, el, int, labelled, select, table } from "./dom.js";
import { state } from "./state.js";

const DECODE_PATHS = ["naive", "absorbed", "recompute", "mha", "gqa", "mqa"] as const;

export function mountKvSection(): () => void {
  const presetSel = select("kv-preset", PRESET_NAMES.map((p) => ({ value: p, label: p })), "deepseek-v3");
  const ctx = el("input", { id: "kv-context", type: "number", min: "1", step: "1024", value: "32768" });
  const formatSel = select("kv-format", CACHE_FORMATS.map((f) => ({ value: f, label: f })), "bf16");
  byId("kv-controls").append(labelled("preset", presetSel), labelled("context (tokens)", ctx), labelled("cache format", formatSel));
  const update = (): void => {
    try {
      render(presetSel.value, Math.max(1, Math.floor(Number(ctx.value) || 1)), formatSel.value as CacheFormat);
    } catch (e) {
      byId("kv-table").replaceChildren(el("p", { class: "error" }, String(e)));
    }
  };
  for (const c of [presetSel, ctx, formatSel]) c.addEventListener("input", update);
  update();
  return update;
}

function render(name: string, context: number, format: CacheFormat): void {
  const cfg = preset(name);
  const machine = DEFAULT_MACHINE;
  const a = analyze(cfg, name, { context, batch: 1, format, machine });
  byId("kv-table").replaceChildren(
    el(
      "p",
      { class: "note" },
      `${name}: D ${cfg.dim}, H ${cfg.n_heads}, q_lora_rank ${cfg.q_lora_rank}, kv_lora_rank ${cfg.kv_lora_rank}, ` +
        `qk_nope ${cfg.qk_nope_head_dim}, qk_rope ${cfg.qk_rope_head_dim}, v ${cfg.v_head_dim}, ${cfg.n_layers} layers; ${format} cache, ${int(context)} tokens, batch 1.`,
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
    state.bench && state.bench.preset === name
      ? state.bench.paths.map((p) => ({ path: p.path, scope: "step" as const, heads: cfg.n_heads, config: cfg, context: state.bench!.context, seconds: p.ms / 1e3, label: `this browser, ${state.bench!.backend}` }))
      : [];
  const common = { format, batch: 1, maxContext: cfg.max_seq_len, groups: a.groups, seedRank: a.seedRank };
  byId("kv-charts").innerHTML = svgDocument([cacheChart(cfg, name, common)]) + svgDocument([timeChart(cfg, name, { ...common, machine, measured })]);
}
