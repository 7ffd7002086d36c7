// mlakit report: writes docs/analysis.md and its SVG charts (src/analysis/report.ts).
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_MACHINE } from "../analysis/bench-results.js";
import { buildReport } from "../analysis/report.js";
import { fmtNum } from "../analysis/units.js";
import type { Machine } from "../analysis/roofline.js";
import { checkDirectoryTarget, ensureDirectory, writeRegularFileSync } from "../io/regular-file.js";
import { loadBenchResults, parseMachine } from "./cmd-analyze.js";
import { type CliIo, EXIT_OK, UsageError } from "./io.js";
import { packageRoot } from "./paths.js";

export const reportHelp = `mlakit report [--out DIR] [--machine GFLOPS,GBPS] [--bench FILE]
  Writes DIR/analysis.md (default docs/ of the package): each claim of the seed text, its formula,
  the figures for DeepSeek-V3 and V2-Lite, the measured figure from bench/results/latest.json where
  one exists, and a verdict; plus the SVG charts it embeds.`;

export async function reportCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { out: { type: "string" }, machine: { type: "string" }, bench: { type: "string" } } });
  if (positionals.length > 0) throw new UsageError(`report takes no positional arguments, got ${JSON.stringify(positionals[0])}\n${reportHelp}`);
  const bench = loadBenchResults(values.bench);
  let machine: Machine;
  if (values.machine !== undefined) machine = parseMachine(values.machine);
  else if (bench.results?.machine) machine = bench.results.machine;
  else machine = DEFAULT_MACHINE;
  const out = values.out ?? join(packageRoot(), "docs");
  checkDirectoryTarget(out, "--out"); // before the work, not after
  const files = buildReport({ machine, bench: bench.results, benchNote: bench.results ? undefined : bench.note.replace(packageRoot() + "/", "") });
  ensureDirectory(out, "--out");
  for (const [name, text] of Object.entries(files)) writeRegularFileSync(join(out, name), text, "--out file");
  io.out(`Wrote ${Object.keys(files).map((f) => join(out, f)).join(", ")}\nmachine: ${fmtNum(machine.gflops)} GFLOP/s, ${fmtNum(machine.gbps)} GB/s (${machine.source})\n`);
  return EXIT_OK;
}
