// mlakit verify <file-or-dir> [--backend NAME] [--json]
import { parseArgs } from "node:util";
import { VECTOR_ATOL, vectorTolerance } from "../numerics.js";
import { type CaseResult, verifyCase } from "../verify.js";
import { getBackend } from "./backends.js";
import { type CliIo, EXIT_FAIL, EXIT_OK, UsageError } from "./io.js";
import { caseFiles, loadCaseWithWeights } from "./load-vectors.js";
import { formatTable, sci } from "./table.js";

export const verifyHelp = `mlakit verify <case.json | dir | weights.safetensors> [--backend reference] [--json]
  Runs every mla-vectors/1 case through the naive and the absorbed path and compares every output
  and both caches with the official numbers. Exit 0 when every case passes (max abs error <= ${VECTOR_ATOL}),
  1 when any fails, 2 for a missing path or a malformed file. A case may keep its weights in a
  .safetensors file it names ("weights_file"); naming that file verifies the cases that use it.`;

export async function verifyCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { backend: { type: "string", default: "reference" }, json: { type: "boolean", default: false } } });
  if (positionals.length !== 1) throw new UsageError(`verify takes one path (a case file or a directory), got ${positionals.length}\n${verifyHelp}`);
  const backend = await getBackend(values.backend as string);
  const results = await verifyPath(positionals[0], backend, values.json ? undefined : io);
  const pass = results.every((r) => r.pass);
  if (values.json) {
    io.out(JSON.stringify({ pass, backend: backend.name, tolerance: vectorTolerance(backend.precision), cases: results.map((r) => ({ name: r.name, pass: r.pass, maxAbsErr: Math.max(...Object.values(r.maxAbsErr)), errors: r.maxAbsErr })) }, null, 1) + "\n");
  } else {
    io.out(`${pass ? "PASS" : "FAIL"}: ${results.filter((r) => r.pass).length}/${results.length} cases within ${vectorTolerance(backend.precision)} (backend ${backend.name})\n`);
  }
  return pass ? EXIT_OK : EXIT_FAIL;
}

/** Verify every case under a path; prints a table row per case when `io` is given. */
export async function verifyPath(path: string, backend: Awaited<ReturnType<typeof getBackend>>, io?: CliIo): Promise<CaseResult[]> {
  const files = caseFiles(path);
  const cases = [];
  for (const f of files) cases.push(await loadCaseWithWeights(f)); // parse all first: a malformed file fails before any output
  const results: CaseResult[] = [];
  for (const c of cases) results.push(await verifyCase(backend, c, vectorTolerance(backend.precision))); // float32 backends: F32_VECTOR_ATOL
  if (io) io.out(verifyTable(results) + "\n");
  return results;
}

export function verifyTable(results: CaseResult[]): string {
  return formatTable(
    ["case", "naive", "absorbed", "naive cache", "absorbed cache", "freqs", "result"],
    results.map((r) => [r.name, sci(r.maxAbsErr.naive), sci(r.maxAbsErr.absorbed), sci(r.maxAbsErr.naiveCache), sci(r.maxAbsErr.absorbedCache), sci(r.maxAbsErr.freqs), r.pass ? "pass" : "FAIL"]),
  );
}
