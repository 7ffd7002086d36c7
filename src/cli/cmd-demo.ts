// mlakit demo: the main job on an embedded default. Verifies the bundled official vectors and
// prints the KV-cache comparison for the DeepSeek-V3 preset.
import { parseArgs } from "node:util";
import { preset } from "../config.js";
import { KV_SCHEMES, kvElementsPerTokenPerLayer } from "../analysis/kv-cache.js";
import { BACKEND_NAMES, getBackend } from "./backends.js";
import { verifyPath } from "./cmd-verify.js";
import { type CliIo, EXIT_FAIL, EXIT_OK } from "./io.js";
import { bundledVectorsDir } from "./paths.js";
import { bytes, formatTable, int } from "./table.js";

export const demoHelp = `mlakit demo [--context N]
  Verifies the bundled official DeepSeek vectors on every backend, then prints the KV-cache
  comparison for the DeepSeek-V3 preset (bf16, 61 layers) at a context of N tokens (default 32768).`;

export async function demoCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { context: { type: "string", default: "32768" } } });
  const context = Number(values.context);
  let pass = true;
  for (const name of BACKEND_NAMES) {
    const backend = await getBackend(name);
    const build = (backend as { build?: string }).build;
    io.out(`\nOfficial DeepSeek-V3 model.py vectors, backend ${backend.name}${build ? ` (${build} build)` : ""}:\n`);
    const results = await verifyPath(bundledVectorsDir(), backend, io);
    pass &&= results.every((r) => r.pass);
  }
  const cfg = preset("deepseek-v3");
  const bf16 = 2;
  io.out(`\nKV cache of DeepSeek-V3 (H ${cfg.n_heads}, d_h ${cfg.qk_nope_head_dim}, d_c ${cfg.kv_lora_rank}, d_rope ${cfg.qk_rope_head_dim}), bf16, ${cfg.n_layers} layers, ${int(context)} tokens:\n`);
  const mla = kvElementsPerTokenPerLayer(cfg, "mla");
  io.out(
    formatTable(
      ["scheme", "elements/token/layer", "bytes/token (model)", `total at ${int(context)}`, "vs MLA"],
      KV_SCHEMES.map((s) => {
        const e = kvElementsPerTokenPerLayer(cfg, s);
        return [s, int(e), int(e * bf16 * cfg.n_layers), bytes(e * bf16 * cfg.n_layers * context), `${(e / mla).toFixed(2)}x`];
      }),
    ) + "\n",
  );
  io.out(`\n${pass ? "All official vectors pass." : "SOME OFFICIAL VECTORS FAIL."}\n`);
  return pass ? EXIT_OK : EXIT_FAIL;
}
