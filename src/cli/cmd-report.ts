// mlakit report: writes analysis.md and its SVG charts (src/analysis/report.ts) into --out DIR.
import { join } from "node:path";
import { buildReport } from "../analysis/report.js";
import { fmtNum } from "../analysis/units.js";
import { checkDirectoryTarget, ensureDirectory, writeRegularFileSync } from "../io/regular-file.js";
import { parseFlags } from "./args.js";
import { loadBenchResults } from "./cmd-analyze.js";
import { type CliIo, EXIT_OK, printJson } from "./io.js";
import { resolveMachine } from "./machine.js";
import { progress } from "./progress.js";

export const DEFAULT_REPORT_DIR = "mlakit-report";

export const reportHelp = `mlakit report [--out DIR] [--bench FILE] [--machine GFLOPS,GBPS | --machine FILE] [--json]
  Writes DIR/analysis.md (default ./${DEFAULT_REPORT_DIR}, created in the current directory) and the SVG
  charts it embeds: each claim of the seed text, its formula, the figures for DeepSeek-V3 and
  V2-Lite, the measured figure from a --bench results file (the repository's bench/results/latest.json
  or any run's) where one exists, and a verdict. The machine as for mlakit analyze. Writes nothing
  else. In the repository, npm run report regenerates docs/ from bench/results/latest.json.
  --json: {"files": [paths written], "machine": {gflops, gbps, source}}.`;

export async function reportCommand(argv: string[], io: CliIo): Promise<number> {
  const { values: v, common } = parseFlags("report", argv, { out: { type: "string" }, machine: { type: "string" }, bench: { type: "string" } });
  const out = (v.out as string | undefined) ?? DEFAULT_REPORT_DIR;
  checkDirectoryTarget(out, "--out"); // before the work, not after
  const p = progress(io, common.progress);
  const bench = v.bench === undefined ? undefined : loadBenchResults(v.bench as string);
  const machine = resolveMachine(v.machine as string | undefined, bench, io);
  p.stage("computing the report's figures and charts");
  const files = buildReport({ machine, bench, benchNote: bench ? undefined : "no --bench FILE given" });
  p.stage(`writing ${out}`);
  ensureDirectory(out, "--out");
  const written = Object.entries(files).map(([name, text]) => {
    const f = join(out, name);
    writeRegularFileSync(f, text, "--out file");
    return f;
  });
  p.end();
  if (common.json) printJson(io, { files: written, machine });
  else io.out(`Wrote ${written.join(", ")}\nmachine: ${fmtNum(machine.gflops)} GFLOP/s, ${fmtNum(machine.gbps)} GB/s (${machine.source})\n`);
  return EXIT_OK;
}
