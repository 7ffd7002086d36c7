// mlakit demo: the main job on an embedded default. Verifies the bundled official vectors and
// prints the KV-cache comparison for the DeepSeek-V3 preset.
import { preset } from "../config.js";
import { KV_SCHEMES, kvElementsPerTokenPerLayer } from "../analysis/kv-cache.js";
import { BUILD_CHOICES, RANGES, choiceFlag, intFlag, parseFlags } from "./args.js";
import { BACKEND_NAMES, getBackend } from "./backends.js";
import { type Row, verifyPath, verifyTable } from "./cmd-verify.js";
import { type CliIo, EXIT_FAIL, EXIT_OK, UsageError, printJson } from "./io.js";
import { bundledVectorsDir } from "./paths.js";
import { progress } from "./progress.js";
import { bytes, formatTable, int } from "./table.js";
import type { CaseResult } from "../verify.js";

export const demoHelp = `mlakit demo [--context N] [--build auto|simd128|relaxed] [--json]
  Verifies the bundled official DeepSeek vectors on every backend (the wasm one in --build, default
  auto), then prints the KV-cache comparison for the DeepSeek-V3 preset (bf16, 61 layers) at a
  context of N tokens (default 32768, 1 to 2^30). Exit 0 when every vector passes, 1 when one fails.
  --json: {"pass", "backends": [{"backend", "build", "pass", "cases": [...]}], "kvCache": {"context", "schemes": [...]}}.`;

export async function demoCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, common } = parseFlags("demo", argv, { context: { type: "string" }, build: { type: "string" } });
  const context = intFlag("context", values.context, RANGES.context, 32768);
  const build = choiceFlag("build", values.build ?? "auto", BUILD_CHOICES);
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
  if (common.json) {
    printJson(io, { pass, backends: runs.map((r) => ({ backend: r.backend, build: r.build, pass: r.pass, cases: r.rows.map(({ result: c }) => ({ name: c!.name, pass: c!.pass, maxAbsErr: Math.max(...Object.values(c!.maxAbsErr)) })) })), kvCache: { preset: "deepseek-v3", format: "bf16", context, schemes } });
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
  io.out(`\n${pass ? "All official vectors pass." : "SOME OFFICIAL VECTORS FAIL."}\n`);
  return pass ? EXIT_OK : EXIT_FAIL;
}
