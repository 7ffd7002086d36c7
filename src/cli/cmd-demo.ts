// mlakit demo: the main job on an embedded default. Verifies the bundled official vectors, prints
// the KV-cache comparison for the DeepSeek-V3 preset, then measures what the compressed cache
// costs in compute on this machine (./demo-compute.ts).
import { PRESET_NAMES, preset } from "../config.js";
import { computeText, measureCompute } from "./demo-compute.js";
import { KV_SCHEMES, kvElementsPerTokenPerLayer } from "../analysis/kv-cache.js";
import { BUILD_CHOICES, RANGES, choiceFlag, intFlag, parseFlags } from "./args.js";
import { BACKEND_NAMES, getBackend } from "./backends.js";
import { type Row, verifyPath, verifyTable } from "./cmd-verify.js";
import { type CliIo, EXIT_FAIL, EXIT_OK, UsageError, printJson } from "./io.js";
import { bundledVectorsDir } from "./paths.js";
import { progress } from "./progress.js";
import { bytes, formatTable, int } from "./table.js";
import type { CaseResult } from "../verify.js";

export const demoHelp = `mlakit demo [--context N] [--build auto|simd128|relaxed] [--preset NAME] [--measure-at LIST] [--quick] [--no-measure] [--json]
  Verifies the bundled official DeepSeek vectors on every backend (the wasm one in --build, default
  auto), then prints the KV-cache comparison for the DeepSeek-V3 preset (bf16, 61 layers) at a
  context of N tokens (default 32768, 1 to 2^30), then the compute it costs, measured here: a short
  machine probe, then the decode attention and the whole decode step of MLA naive, absorbed,
  recompute and MHA at --preset's attention geometry (default deepseek-v2-lite) with LIST cached
  tokens (comma-separated, default 1024,4096; --quick: 1024 and fewer timed calls), each beside
  the cost model's roofline time on the probed machine, and one line per claim of the seed text
  about time. --no-measure skips that part. Exit 0 when every vector passes, 1 when one fails.
  --json: {"pass", "backends": [{"backend", "build", "pass", "cases": [...]}], "kvCache": {"context", "schemes": [...]},
  "compute": {"preset", "build", "machine", "rows": [{"path", "scope", "context", "seconds", "predictedSeconds", "measuredOverPredicted"}], "claims": [{"claim", "measured"}], "seconds"} or null}.`;

export async function demoCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, common } = parseFlags("demo", argv, { context: { type: "string" }, build: { type: "string" }, preset: { type: "string" }, "measure-at": { type: "string" }, quick: { type: "boolean" }, "no-measure": { type: "boolean" } });
  const context = intFlag("context", values.context, RANGES.context, 32768);
  const build = choiceFlag("build", values.build ?? "auto", BUILD_CHOICES);
  const computePreset = choiceFlag("preset", values.preset ?? "deepseek-v2-lite", PRESET_NAMES);
  const quick = values.quick === true, measure = values["no-measure"] !== true;
  const measureAt = values["measure-at"] === undefined ? (quick ? [1024] : [1024, 4096]) : contextList("measure-at", String(values["measure-at"]), preset(computePreset).max_seq_len - 2);
  if (!measure && (values.preset !== undefined || values["measure-at"] !== undefined || quick)) throw new UsageError("--no-measure skips the measured compute section: --preset, --measure-at and --quick have nothing to do");
  const p = progress(io, common.progress);
  const runs: { backend: string; build: string | null; pass: boolean; rows: Row<CaseResult>[] }[] = [];
  for (const name of BACKEND_NAMES) {
    const backend = await getBackend(name, build);
    const b = (backend as { build?: string }).build ?? null;
    const rows = await verifyPath(bundledVectorsDir(), backend, p);
    if (rows.some((r) => r.error)) throw new UsageError(`the bundled vectors could not be read: ${rows.find((r) => r.error)!.error}`);
    runs.push({ backend: backend.name, build: b, pass: rows.every((r) => r.result?.pass), rows });
  }
  const pass = runs.every((r) => r.pass);
  const cfg = preset("deepseek-v3");
  const bf16 = 2;
  const mla = kvElementsPerTokenPerLayer(cfg, "mla");
  const schemes = KV_SCHEMES.map((s) => {
    const e = kvElementsPerTokenPerLayer(cfg, s);
    return { scheme: s, elementsPerTokenPerLayer: e, bytesPerToken: e * bf16 * cfg.n_layers, totalBytes: e * bf16 * cfg.n_layers * context, vsMla: e / mla };
  });
  const compute = measure ? await measureCompute({ preset: computePreset, contexts: measureAt, build, quick }, p) : null;
  if (common.json) {
    printJson(io, { compute, pass, backends: runs.map((r) => ({ backend: r.backend, build: r.build, pass: r.pass, cases: r.rows.map(({ result: c }) => ({ name: c!.name, pass: c!.pass, maxAbsErr: Math.max(...Object.values(c!.maxAbsErr)) })) })), kvCache: { preset: "deepseek-v3", format: "bf16", context, schemes } });
    return pass ? EXIT_OK : EXIT_FAIL;
  }
  for (const r of runs) io.out(`\nOfficial DeepSeek-V3 model.py vectors, backend ${r.backend}${r.build ? ` (${r.build} build)` : ""}:\n${verifyTable(r.rows)}\n`);
  io.out(`\nKV cache of DeepSeek-V3 (H ${cfg.n_heads}, d_h ${cfg.qk_nope_head_dim}, d_c ${cfg.kv_lora_rank}, d_rope ${cfg.qk_rope_head_dim}), bf16, ${cfg.n_layers} layers, ${int(context)} tokens:\n`);
  io.out(
    formatTable(
      ["scheme", "elements/token/layer", "bytes/token (model)", `total at ${int(context)}`, "vs MLA"],
      schemes.map((s) => [s.scheme, int(s.elementsPerTokenPerLayer), int(s.bytesPerToken), bytes(s.totalBytes), `${s.vsMla.toFixed(2)}x`]),
    ) + "\n",
  );
  if (compute) io.out(computeText(compute));
  io.out(`\n${pass ? "All official vectors pass." : "SOME OFFICIAL VECTORS FAIL."}\n`);
  return pass ? EXIT_OK : EXIT_FAIL;
}

/** "1024,4096": each an integer in 1..max; a bad entry is one line naming the whole value. */
function contextList(flag: string, raw: string, max: number): number[] {
  try {
    return raw.split(",").map((v) => intFlag(flag, v, { min: 1, max }, 0));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    throw new UsageError(`--${flag} ${JSON.stringify(raw)}: expected an integer from 1 to ${max.toLocaleString("en-US")}, or several separated by commas`);
  }
}
