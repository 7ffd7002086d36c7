// The KV-cache comparison for a chosen preset and context length: the cost model's numbers
// (src/analysis) as a table and its charts.
import { PRESET_NAMES, preset } from "mlakit";
import { KV_SCHEMES, kvElementsPerTokenPerLayer } from "./analysis.js";
import { byId, bytes, el, int, labelled, select, table } from "./dom.js";

const DTYPES: Record<string, number> = { bf16: 2, fp8: 1, fp32: 4 };

export function mountKvSection(): void {
  const presetSel = select("kv-preset", PRESET_NAMES.map((p) => ({ value: p, label: p })), "deepseek-v3");
  const ctx = el("input", { id: "kv-context", type: "number", min: "1", step: "1024", value: "32768" });
  const dtypeSel = select("kv-dtype", Object.keys(DTYPES).map((d) => ({ value: d, label: d })), "bf16");
  byId("kv-controls").append(labelled("preset", presetSel), labelled("context (tokens)", ctx), labelled("cache dtype", dtypeSel));
  const update = (): void => render(presetSel.value, Math.max(1, Math.floor(Number(ctx.value) || 1)), dtypeSel.value);
  for (const c of [presetSel, ctx, dtypeSel]) c.addEventListener("input", update);
  update();
}

function render(name: string, context: number, dtype: string): void {
  const cfg = preset(name);
  const eb = DTYPES[dtype];
  const mla = kvElementsPerTokenPerLayer(cfg, "mla");
  byId("kv-table").replaceChildren(
    el(
      "p",
      { class: "note" },
      `${name}: D ${cfg.dim}, H ${cfg.n_heads}, q_lora_rank ${cfg.q_lora_rank}, kv_lora_rank ${cfg.kv_lora_rank}, ` +
        `qk_nope ${cfg.qk_nope_head_dim}, qk_rope ${cfg.qk_rope_head_dim}, v ${cfg.v_head_dim}, ${cfg.n_layers} layers; ${dtype}, ${int(context)} tokens, batch 1.`,
    ),
    table(
      ["scheme", "elements / token / layer", "bytes / token (all layers)", `cache at ${int(context)} tokens`, "vs MLA"],
      KV_SCHEMES.map((s) => {
        const e = kvElementsPerTokenPerLayer(cfg, s);
        const cells = [s, int(e), bytes(e * eb * cfg.n_layers), bytes(e * eb * cfg.n_layers * context), `${(e / mla).toFixed(2)}x`];
        return s === "mla" ? { cells, cls: "mla" } : cells;
      }),
    ),
  );
}
