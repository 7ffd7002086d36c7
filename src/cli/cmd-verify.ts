// mlakit verify <file-or-dir> [--backend NAME] [--json]
import { parseArgs } from "node:util";
import { HF_VECTOR_ATOL, VECTOR_ATOL, hfVectorTolerance, vectorTolerance } from "../numerics.js";
import { type CaseResult, type HfCaseResult, verifyCase, verifyHfCase } from "../verify.js";
import { getBackend } from "./backends.js";
import { type CliIo, EXIT_FAIL, EXIT_OK, UsageError } from "./io.js";
import { caseFiles, hfCaseDirs, loadCaseWithWeights, loadHfCase, loadHfWeights } from "./load-vectors.js";
import { formatTable, sci } from "./table.js";

export const verifyHelp = `mlakit verify <case.json | dir | weights.safetensors> [--backend reference] [--json]
  Runs every mla-vectors/1 case through the naive and the absorbed path and compares every output
  and both caches with the official numbers. Exit 0 when every case passes (max abs error <= ${VECTOR_ATOL}),
  1 when any fails, 2 for a missing path or a malformed file. A case may keep its weights in a
  .safetensors file it names ("weights_file"); naming that file verifies the cases that use it.
  A directory of hf-deepseek-vectors/1 cases (NAME/case.json + config.json + model.safetensors, e.g.
  vectors/hf-deepseek) is checked through the Hugging Face path (importHfConfig, loadMlaWeights)
  against transformers' outputs, within ${HF_VECTOR_ATOL.float64} (float64 backends) or ${HF_VECTOR_ATOL.float32} (float32); a case transformers
  refused must be refused with a ConfigError.`;

export async function verifyCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { backend: { type: "string", default: "reference" }, json: { type: "boolean", default: false } } });
  if (positionals.length !== 1) throw new UsageError(`verify takes one path (a case file or a directory), got ${positionals.length}\n${verifyHelp}`);
  const backend = await getBackend(values.backend as string);
  const hf = hfCaseDirs(positionals[0]);
  if (hf) return verifyHfDirs(hf, backend, io, values.json as boolean);
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

async function verifyHfDirs(dirs: string[], backend: Awaited<ReturnType<typeof getBackend>>, io: CliIo, json: boolean): Promise<number> {
  const cases = dirs.map(loadHfCase); // parse all first: a malformed case fails before any output
  const tol = hfVectorTolerance(backend.precision);
  const results: HfCaseResult[] = [];
  for (const c of cases) results.push(await verifyHfCase(backend, c.case, c.configJson, (config) => loadHfWeights(c, config), tol));
  const pass = results.every((r) => r.pass);
  if (json) {
    io.out(JSON.stringify({ pass, backend: backend.name, tolerance: tol, cases: results.map((r) => ({ name: r.name, pass: r.pass, expected: r.expected, maxAbsErr: r.expected === "outputs" ? Math.max(r.maxAbsErr.naive, r.maxAbsErr.absorbed) : null, errors: r.maxAbsErr, refused: r.refused ?? null, notes: r.notes })) }, null, 1) + "\n");
  } else {
    io.out(formatTable(["case", "naive", "absorbed", "transformers", "result", "notes"], results.map((r) => [r.name, sci(r.maxAbsErr.naive), sci(r.maxAbsErr.absorbed), r.expected === "outputs" ? "ran" : "refused", r.pass ? "pass" : "FAIL", r.refused ? `refused: ${r.refused}` : r.notes.join("; ")])) + "\n");
    io.out(`${pass ? "PASS" : "FAIL"}: ${results.filter((r) => r.pass).length}/${results.length} Hugging Face cases within ${tol} of transformers (backend ${backend.name})\n`);
  }
  return pass ? EXIT_OK : EXIT_FAIL;
}
