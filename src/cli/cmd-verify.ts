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
  1 when any fails (derived.softmax_scale is compared too, within one float32 ulp relative), 2 for
  a missing path, a path that is no regular file or directory, or a malformed file (tensor shapes
  are checked against the case's args: weights [out, in], calls [B, s, D], freqs [end_pos, dr/2]). A case may keep its weights in a
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
  const dsa = dsaCaseFiles(positionals[0]); // DeepSeek-V3.2 cases (mla-vectors/2)
  if (dsa) return verifyDsaFiles(dsa, backend, io, values.json as boolean);
  const results = await verifyPath(positionals[0], backend, values.json ? undefined : io);
  const pass = results.every((r) => r.pass);
  if (values.json) {
    io.out(JSON.stringify({ pass, backend: backend.name, tolerance: vectorTolerance(backend.precision), cases: results.map((r) => ({ name: r.name, pass: r.pass, maxAbsErr: Math.max(...Object.values(r.maxAbsErr)), errors: r.maxAbsErr, softmaxScaleRelErr: r.softmaxScaleRelErr })) }, null, 1) + "\n");
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
    ["case", "naive", "absorbed", "naive cache", "absorbed cache", "freqs", "scale (rel)", "result"],
    results.map((r) => [r.name, sci(r.maxAbsErr.naive), sci(r.maxAbsErr.absorbed), sci(r.maxAbsErr.naiveCache), sci(r.maxAbsErr.absorbedCache), sci(r.maxAbsErr.freqs), sci(r.softmaxScaleRelErr), r.pass ? "pass" : "FAIL"]),
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

// ---------------------------------------------------------------------------------------------
// DeepSeek-V3.2 cases (mla-vectors/2, e.g. vectors/deepseek-v3.2-dsa): every call through the V3.2
// layer, its quantised stages and caches bit for bit, index scores, top-k sets and outputs
// (verifyDsaCase). The reference only, until another backend has a V3.2 layer.

import { dsaCaseFiles, loadDsaCaseFile } from "../io/mla-vectors-v2-file.js";
import { type DsaCaseResult, verifyDsaCase } from "../verify.js";

export const verifyDsaHelp = `  A directory of mla-vectors/2 cases (DeepSeek-V3.2: MLA + the indexer + top-k, e.g.
  vectors/deepseek-v3.2-dsa) runs every call through the V3.2 layer (--backend reference) and compares
  the quantised stages and caches exactly, the top-k sets exactly, the indexer's weights and scores
  within 1e-5 relative, outputs and pe_cache within 1e-5.`;

async function verifyDsaFiles(files: string[], backend: Awaited<ReturnType<typeof getBackend>>, io: CliIo, json: boolean): Promise<number> {
  if (backend.name !== "reference") throw new UsageError(`mla-vectors/2 (DeepSeek-V3.2) cases run on --backend reference only: backend "${backend.name}" has no V3.2 layer yet`);
  const cases = files.map(loadDsaCaseFile); // parse all first: a malformed file fails before any output
  const results: DsaCaseResult[] = cases.map((c) => verifyDsaCase(c));
  const pass = results.every((r) => r.pass);
  if (json) {
    io.out(JSON.stringify({ pass, backend: backend.name, format: "mla-vectors/2", tolerance: results[0]?.tolerance, cases: results.map((r) => ({ name: r.name, pass: r.pass, errors: r.maxErr, quantised: r.quantised, exact: r.exact, topk: r.topk, firstMismatch: r.firstMismatch ?? null })) }, null, 1) + "\n");
  } else {
    io.out(dsaVerifyTable(results) + "\n");
    for (const r of results) if (r.firstMismatch) io.out(`${r.name}: first difference: ${r.firstMismatch}\n`);
    io.out(`${pass ? "PASS" : "FAIL"}: ${results.filter((r) => r.pass).length}/${results.length} DeepSeek-V3.2 cases (quantised values and top-k sets exact, outputs within ${results[0]?.tolerance.output.toExponential(0)}; backend ${backend.name})\n`);
  }
  return pass ? EXIT_OK : EXIT_FAIL;
}

export function dsaVerifyTable(results: DsaCaseResult[]): string {
  return formatTable(
    ["case", "output", "pe_cache", "weights (rel)", "index score (rel)", "quantised exact", "top-k rows", "freqs", "constants (rel)", "result"],
    results.map((r) => [r.name, sci(r.maxErr.output), sci(r.maxErr.pe_cache), sci(r.maxErr.weights), sci(r.maxErr.index_score), `${r.quantised.compared - r.quantised.differing}/${r.quantised.compared}`, `${r.topk.rows - r.topk.differing}/${r.topk.rows}`, sci(r.maxErr.freqs), sci(r.maxErr.constants), r.pass ? "pass" : "FAIL"]),
  );
}
