// mlakit cache: accuracy against memory of the latent cache's storage formats (src/analysis/cache-accuracy.ts)
// on official-format vector cases and seeded random cases.
import { parseArgs } from "node:util";
import { type AccuracyCase, accuracyCaseFromVectors, cacheAccuracyTable, randomAccuracyCase } from "../analysis/cache-accuracy.js";
import { STORAGE_FORMATS, type StorageFormat, checkStorageFormat } from "../cache/layout.js";
import { makeConfig } from "../config.js";
import { type CliIo, EXIT_OK, UsageError } from "./io.js";
import { caseFiles, loadCase } from "./load-vectors.js";
import { bundledVectorsDir } from "./paths.js";
import { formatTable, sci } from "./table.js";

export const cacheHelp = `mlakit cache [PATH] [--random N] [--format F,...] [--json]
  For each cache storage format (${STORAGE_FORMATS.join(", ")}), absorbed MLA over a cache in that
  format against the float64 oracle: max abs error, FlashMLA's cal_diff, the derived error bound,
  next to bytes per token (this case's C, dr and DeepSeek-V3's C 512, dr 64). PATH: mla-vectors/1
  case file or directory (default: the bundled official vectors); --random N adds N seeded random
  cases (C 128 and 136, so fp8 tiles are full and partial).`;

export async function cacheCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { random: { type: "string", default: "0" }, format: { type: "string" }, json: { type: "boolean", default: false } } });
  const nRandom = Number(values.random);
  if (!Number.isInteger(nRandom) || nRandom < 0) throw new UsageError(`--random ${values.random}: expected a non-negative integer`);
  const formats: StorageFormat[] = values.format ? values.format.split(",").map((f) => checkStorageFormat(f.trim(), "--format")) : [...STORAGE_FORMATS];
  const cases: AccuracyCase[] = [];
  for (const f of caseFiles(positionals[0] ?? bundledVectorsDir())) cases.push(accuracyCaseFromVectors(await loadCase(f)));
  for (let i = 0; i < nRandom; i++) {
    const C = i % 2 === 0 ? 128 : 136;
    const cfg = makeConfig({ dim: 32, n_heads: 1 + (i % 3), q_lora_rank: i % 2 === 0 ? 0 : 16, kv_lora_rank: C, qk_nope_head_dim: 8, qk_rope_head_dim: 8, v_head_dim: 8, max_seq_len: 1024, original_seq_len: i % 2 === 0 ? 1024 : 64, max_batch_size: 2 });
    cases.push(randomAccuracyCase(cfg, 1000 + i, [40, 1, 1], 2));
  }
  const rows = cacheAccuracyTable(cases, formats);
  if (values.json) {
    io.out(JSON.stringify(rows, null, 1) + "\n");
    return EXIT_OK;
  }
  io.out(
    formatTable(
      ["case", "format", "bytes/token", "bytes/token V3", "max abs error", "cal_diff", "bound", "error/bound"],
      rows.map((r) => [r.case, r.format, String(r.bytesPerToken), String(r.bytesPerTokenV3), sci(r.maxAbsError), sci(r.calDiff), sci(r.maxBound), r.worstRatio.toFixed(3)]),
    ) + "\n",
  );
  return EXIT_OK;
}
