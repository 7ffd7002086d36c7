// mlakit cache: accuracy against memory of the latent cache's storage formats (src/analysis/cache-accuracy.ts)
// on official-format vector cases and seeded random cases.
import { type AccuracyCase, accuracyCaseFromVectors, cacheAccuracyTable, randomAccuracyCase } from "../analysis/cache-accuracy.js";
import { STORAGE_FORMATS, type StorageFormat } from "../cache/layout.js";
import { makeConfig } from "../config.js";
import { RANGES, intFlag, parseFlags } from "./args.js";
import { CLI_FORMAT_NAMES, cacheFormatFlag } from "./formats.js";
import { type CliIo, EXIT_FAIL, EXIT_OK, printJson } from "./io.js";
import { caseFiles, loadCase } from "./load-vectors.js";
import { bundledVectorsDir } from "./paths.js";
import { progress } from "./progress.js";
import { formatTable, sci } from "./table.js";

export const cacheHelp = `mlakit cache [PATH] [--random N] [--format F,...] [--json]
  For each cache storage format (${CLI_FORMAT_NAMES}), absorbed MLA over a cache in that format
  against the float64 oracle: max abs error, FlashMLA's cal_diff, the derived error bound, next to
  bytes per token (this case's C, dr and DeepSeek-V3's C 512, dr 64). PATH: mla-vectors/1 case file
  or directory (default: the bundled official vectors); --random N (0 to 1,000) adds N seeded random
  cases (C 128 and 136, so fp8 tiles are full and partial). A row passes when its error is within
  the derived bound (error/bound <= 1); exit 0 when every row passes, 1 when one does not.
  --json: {"pass", "formats", "rows": [{"case", "format", "pass", "bytesPerToken", "bytesPerTokenV3",
  "maxAbsErr", "calDiff", "maxBound", "worstRatio", "latentWorstRatio"}]}.`;

export async function cacheCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals, common } = parseFlags("cache", argv, { random: { type: "string" }, format: { type: "string" } }, { positionals: 1 });
  const nRandom = intFlag("random", values.random, RANGES.randomCases, 0);
  const formats: StorageFormat[] = values.format !== undefined ? [...new Set(String(values.format).split(",").map((f) => cacheFormatFlag("format", f.trim())))] : [...STORAGE_FORMATS];
  const p = progress(io, common.progress);
  const cases: AccuracyCase[] = [];
  p.stage("reading the cases");
  for (const f of caseFiles(positionals[0] ?? bundledVectorsDir())) cases.push(accuracyCaseFromVectors(loadCase(f)));
  for (let i = 0; i < nRandom; i++) {
    const C = i % 2 === 0 ? 128 : 136;
    const cfg = makeConfig({ dim: 32, n_heads: 1 + (i % 3), q_lora_rank: i % 2 === 0 ? 0 : 16, kv_lora_rank: C, qk_nope_head_dim: 8, qk_rope_head_dim: 8, v_head_dim: 8, max_seq_len: 1024, original_seq_len: i % 2 === 0 ? 1024 : 64, max_batch_size: 2 });
    cases.push(randomAccuracyCase(cfg, 1000 + i, [40, 1, 1], 2));
  }
  p.stage(`${cases.length} cases x ${formats.length} formats through the oracle and each cache format`, cases.length * formats.length > 60);
  const rows = cacheAccuracyTable(cases, formats).map(({ maxAbsError, ...r }) => ({ case: r.case, format: r.format, pass: r.worstRatio <= 1, bytesPerToken: r.bytesPerToken, bytesPerTokenV3: r.bytesPerTokenV3, maxAbsErr: maxAbsError, calDiff: r.calDiff, maxBound: r.maxBound, worstRatio: r.worstRatio, latentWorstRatio: r.latentWorstRatio }));
  p.end();
  const pass = rows.every((r) => r.pass);
  if (common.json) {
    printJson(io, { pass, formats, rows });
    return pass ? EXIT_OK : EXIT_FAIL;
  }
  io.out(
    formatTable(
      ["case", "format", "bytes/token", "bytes/token V3", "max abs error", "cal_diff", "bound", "error/bound", "result"],
      rows.map((r) => [r.case, r.format, String(r.bytesPerToken), String(r.bytesPerTokenV3), sci(r.maxAbsErr), sci(r.calDiff), sci(r.maxBound), r.worstRatio.toFixed(3), r.pass ? "pass" : "FAIL"]),
    ) + "\n",
  );
  return pass ? EXIT_OK : EXIT_FAIL;
}
