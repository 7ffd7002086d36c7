// mlakit verify <file-or-dir>: every case of a path through a backend against its official numbers.
// Each case is read and checked on its own: a malformed file is an ERROR row and the rest are
// still checked. Exit 2 if any file could not be checked (malformed, unreadable), else 1 if any
// case fails, else 0.
import { statSync } from "node:fs";
import { basename } from "node:path";
import type { Backend } from "../backend.js";
import { MlaError } from "../errors.js";
import { dsaCaseFiles, loadDsaCaseFile } from "../io/mla-vectors-v2-file.js";
import { HF_VECTOR_ATOL, VECTOR_ATOL, hfVectorTolerance, vectorTolerance } from "../numerics.js";
import { type CaseResult, type DsaCaseResult, type HfCaseResult, DSA_VECTOR_TOL, DSA_VECTOR_TOL_F32, verifyCase, verifyDsaCase, verifyHfCase } from "../verify.js";
import { mlaWeightShapes } from "../weights.js";
import { parseFlags } from "./args.js";
import { BACKEND_FLAGS, BACKEND_HELP, backendFromFlags } from "./backends.js";
import { type CliIo, EXIT_FAIL, EXIT_OK, UsageError, oneLine, printJson } from "./io.js";
import { caseFiles, hfCaseDirs, loadCaseWithWeights, loadHfCase, loadHfWeights } from "./load-vectors.js";
import { type Progress, progress } from "./progress.js";
import { formatTable, sci } from "./table.js";

export const verifyHelp = `mlakit verify <case.json | dir | weights.safetensors> [--backend reference|wasm] [--build B] [--json]
  Runs every mla-vectors/1 case through the naive and the absorbed path and compares every output
  and both caches with the official numbers (max abs error <= ${VECTOR_ATOL}; derived.softmax_scale within
  one float32 ulp relative). Tensor shapes are checked against the case's args: weights [out, in],
  calls [B, s, D], freqs [end_pos, dr/2]. A case may keep its weights in a .safetensors file it names
  ("weights_file"); naming that file verifies the cases that use it.
  A directory of hf-deepseek-vectors/1 cases (NAME/case.json + config.json + model.safetensors, e.g.
  vectors/hf-deepseek) is checked through the Hugging Face path (importHfConfig, loadMlaWeights)
  against transformers' outputs, within ${HF_VECTOR_ATOL.float64} (float64 backends) or ${HF_VECTOR_ATOL.float32} (float32); a case transformers
  refused must be refused with a ConfigError.
  A directory of mla-vectors/2 cases (DeepSeek-V3.2: MLA + the indexer + top-k, e.g.
  vectors/deepseek-v3.2-dsa) runs every call through the V3.2 layer (--backend reference) and compares
  the quantised stages and caches exactly, the top-k sets exactly, the indexer's weights and scores
  within 1e-5 relative, outputs and pe_cache within 1e-5.
  ${BACKEND_HELP}.
  Every file is checked on its own: one that cannot be read is an ERROR row and the others are still
  checked. Exit 2 if any file could not be checked (a missing path, no regular file, malformed),
  else 1 if any case fails, else 0. --json: {"pass", "backend", "build", "tolerance", "cases":
  [{"name", "pass", "maxAbsErr", "errors", ...} or {"name", "pass": false, "error"}]}.`;

/** One case's outcome: its result, or why it could not be checked. */
export type Row<R> = { name: string; result: R; error?: undefined } | { name: string; result?: undefined; error: string };

const SLOW_FILE_BYTES = 20e6, SLOW_PARAMS = 5e6;

/** When no case could be checked there is nothing to show: the first error is the command's one line, stdout stays empty. */
function noneChecked(rows: Row<unknown>[]): void {
  if (rows.every((r) => r.error !== undefined)) outcome(rows as Row<{ pass: boolean }>[]);
}

/** Read and check each unit in turn; an MlaError or UsageError becomes that unit's error row. */
async function each<T, R>(names: string[], load: (i: number) => Promise<T> | T, check: (t: T, i: number) => Promise<R> | R, p: Progress, slow: (t: T) => boolean, bytes: (i: number) => number): Promise<Row<R>[]> {
  const rows: Row<R>[] = [];
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    try {
      p.stage(`reading ${name} (${i + 1}/${names.length})`, bytes(i) > SLOW_FILE_BYTES);
      const t = await load(i);
      p.stage(`checking ${name} (${i + 1}/${names.length})`, slow(t));
      rows.push({ name, result: await check(t, i) });
    } catch (e) {
      if (!(e instanceof MlaError || e instanceof UsageError)) throw e;
      rows.push({ name, error: oneLine(e.message) });
    }
  }
  p.end();
  noneChecked(rows);
  return rows;
}

const fileBytes = (f: string) => {
  try {
    return statSync(f).size;
  } catch {
    return 0;
  }
};
const params = (cfg: Parameters<typeof mlaWeightShapes>[0]) => Object.values(mlaWeightShapes(cfg)).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);

export async function verifyCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals, common } = parseFlags("verify", argv, BACKEND_FLAGS, { positionals: 1 });
  if (positionals.length !== 1) throw new UsageError(`verify takes one path (a case file or a directory), got none; see mlakit help verify`);
  const backend = await backendFromFlags(values);
  const path = positionals[0];
  const p = progress(io, common.progress);
  const hf = hfCaseDirs(path);
  if (hf) return verifyHfDirs(hf, backend, io, common.json, p);
  const dsa = dsaCaseFiles(path); // DeepSeek-V3.2 cases (mla-vectors/2)
  if (dsa) return verifyDsaFiles(dsa, backend, io, common.json, p);
  const rows = await verifyPath(path, backend, p);
  const tol = vectorTolerance(backend.precision);
  const pass = rows.every((r) => r.result?.pass === true);
  if (common.json) {
    printJson(io, { pass, backend: backend.name, build: buildOf(backend), tolerance: tol, cases: rows.map((r) => (r.result ? { name: r.result.name, pass: r.result.pass, maxAbsErr: Math.max(...Object.values(r.result.maxAbsErr)), errors: r.result.maxAbsErr, softmaxScaleRelErr: r.result.softmaxScaleRelErr } : { name: r.name, pass: false, error: r.error })) });
  } else {
    io.out(verifyTable(rows) + "\n" + errorLines(rows));
    io.out(`${pass ? "PASS" : "FAIL"}: ${rows.filter((r) => r.result?.pass).length}/${rows.length} cases within ${tol} (backend ${backendLabel(backend)})\n`);
  }
  return outcome(rows);
}

const buildOf = (b: Backend): string | null => (b as { build?: string }).build ?? null;
const backendLabel = (b: Backend) => (buildOf(b) ? `${b.name}, ${buildOf(b)} build` : b.name);

/** Exit code: 2 (thrown, one line naming the first) when any file could not be checked, else 1 when a case fails, else 0. */
export function outcome(rows: Row<{ pass: boolean }>[]): number {
  const bad = rows.filter((r) => r.error !== undefined);
  if (bad.length === 1 && rows.length === 1) throw new UsageError(bad[0].error!);
  if (bad.length > 0) throw new UsageError(`${bad.length} of ${rows.length} cases could not be checked: ${bad[0].error}${bad.length > 1 ? ` (and ${bad.length - 1} more: see the ERROR rows)` : ""}`);
  return rows.every((r) => r.result!.pass) ? EXIT_OK : EXIT_FAIL;
}

function errorLines(rows: Row<unknown>[]): string {
  return rows.filter((r) => r.error !== undefined).map((r) => `${r.name}: ERROR ${r.error}\n`).join("");
}

/** Read and verify every mla-vectors/1 case under a path, each on its own. */
export async function verifyPath(path: string, backend: Backend, p: Progress): Promise<Row<CaseResult>[]> {
  const files = caseFiles(path, false);
  return each(
    files.map((f) => basename(f)),
    (i) => loadCaseWithWeights(files[i]),
    (c) => verifyCase(backend, c, vectorTolerance(backend.precision)), // float32 backends: F32_VECTOR_ATOL
    p,
    (c) => params(c.config) > SLOW_PARAMS,
    (i) => fileBytes(files[i]) + fileBytes(files[i].replace(/\.json$/, ".safetensors")), // a generated case's weights sit beside it under its name
  );
}

const dash = (n: number) => Array.from({ length: n }, () => "-");

export function verifyTable(rows: Row<CaseResult>[]): string {
  return formatTable(
    ["case", "naive", "absorbed", "naive cache", "absorbed cache", "freqs", "scale (rel)", "result"],
    rows.map(({ name, result: r }) => (r ? [r.name, sci(r.maxAbsErr.naive), sci(r.maxAbsErr.absorbed), sci(r.maxAbsErr.naiveCache), sci(r.maxAbsErr.absorbedCache), sci(r.maxAbsErr.freqs), sci(r.softmaxScaleRelErr), r.pass ? "pass" : "FAIL"] : [name, ...dash(6), "ERROR"])),
  );
}

async function verifyHfDirs(dirs: string[], backend: Backend, io: CliIo, json: boolean, p: Progress): Promise<number> {
  const tol = hfVectorTolerance(backend.precision);
  const rows = await each(
    dirs.map((d) => basename(d)),
    (i) => loadHfCase(dirs[i]),
    (c) => verifyHfCase(backend, c.case, c.configJson, (config) => loadHfWeights(c, config), tol),
    p,
    () => false,
    () => 0,
  );
  const pass = rows.every((r) => r.result?.pass === true);
  if (json) {
    printJson(io, { pass, backend: backend.name, build: buildOf(backend), tolerance: tol, cases: rows.map(({ name, result: r, error }) => (r ? { name: r.name, pass: r.pass, expected: r.expected, maxAbsErr: r.expected === "outputs" ? Math.max(r.maxAbsErr.naive, r.maxAbsErr.absorbed) : null, errors: r.maxAbsErr, refused: r.refused ?? null, notes: r.notes } : { name, pass: false, error })) });
  } else {
    io.out(formatTable(["case", "naive", "absorbed", "transformers", "result", "notes"], rows.map(({ name, result: r }: Row<HfCaseResult>) => (r ? [r.name, sci(r.maxAbsErr.naive), sci(r.maxAbsErr.absorbed), r.expected === "outputs" ? "ran" : "refused", r.pass ? "pass" : "FAIL", r.refused ? `refused: ${r.refused}` : r.notes.join("; ")] : [name, "-", "-", "-", "ERROR", ""]))) + "\n" + errorLines(rows));
    io.out(`${pass ? "PASS" : "FAIL"}: ${rows.filter((r) => r.result?.pass).length}/${rows.length} Hugging Face cases within ${tol} of transformers (backend ${backendLabel(backend)})\n`);
  }
  return outcome(rows);
}

// DeepSeek-V3.2 cases (mla-vectors/2, e.g. vectors/deepseek-v3.2-dsa): every call through the
// backend's V3.2 layer (verifyDsaCase). float64: its quantised stages and caches bit for bit,
// index scores, top-k sets and outputs; float32: outputs, top-k sets and the indexer against
// float64 on its own inputs (the wasm layer with its f32 record, the official run's caches).
async function verifyDsaFiles(files: string[], backend: Backend, io: CliIo, json: boolean, p: Progress): Promise<number> {
  const create = backend.createDsa?.bind(backend);
  if (!create) throw new UsageError(`mla-vectors/2 (DeepSeek-V3.2) cases need a backend with a V3.2 layer: "${backend.name}" has none`);
  const f32 = backend.precision === "float32";
  const rows = await each(files.map((f) => basename(f)), (i) => loadDsaCaseFile(files[i]), async (c) => {
    const layer = await create(c.config, c.weights, f32 ? { cacheFormat: "f32" } : {});
    return verifyDsaCase(c, () => layer, f32 ? DSA_VECTOR_TOL_F32 : DSA_VECTOR_TOL, backend.precision);
  }, p, () => false, (i) => fileBytes(files[i]));
  const pass = rows.every((r) => r.result?.pass === true);
  const tolerance = rows.find((r) => r.result)?.result?.tolerance;
  if (json) {
    printJson(io, { pass, backend: backend.name, build: buildOf(backend), format: "mla-vectors/2", precision: backend.precision, tolerance, cases: rows.map(({ name, result: r, error }) => (r ? { name: r.name, pass: r.pass, maxAbsErr: Math.max(r.maxErr.output, r.maxErr.pe_cache), errors: r.maxErr, quantised: r.quantised, exact: r.exact, topk: r.topk, float32: r.float32 ?? null, firstMismatch: r.firstMismatch ?? null } : { name, pass: false, error })) });
  } else {
    io.out(dsaVerifyTable(rows) + "\n" + errorLines(rows));
    for (const { result: r } of rows) if (r?.firstMismatch) io.out(`${r.name}: first ${r.pass ? "difference (allowed: a bf16 rounding boundary)" : "difference"}: ${r.firstMismatch}\n`);
    const rule = f32
      ? `outputs within ${tolerance?.output.toExponential(0) ?? "-"}, top-k sets as torch.topk's and by the float32 rule against float64 on the layer's own inputs; quantised values reported`
      : `quantised values and top-k sets exact, outputs within ${tolerance?.output.toExponential(0) ?? "-"}`;
    io.out(`${pass ? "PASS" : "FAIL"}: ${rows.filter((r) => r.result?.pass).length}/${rows.length} DeepSeek-V3.2 cases (${rule}; backend ${backendLabel(backend)})\n`);
  }
  return outcome(rows);
}

export function dsaVerifyTable(rows: Row<DsaCaseResult>[]): string {
  return formatTable(
    ["case", "output", "pe_cache", "weights (rel)", "index score (rel)", "quantised exact", "top-k rows", "float32 rule", "freqs", "constants (rel)", "result"],
    rows.map(({ name, result: r }) => (r ? [r.name, sci(r.maxErr.output), sci(r.maxErr.pe_cache), sci(r.maxErr.weights), sci(r.maxErr.index_score), `${r.quantised.compared - r.quantised.differing}/${r.quantised.compared}`, `${r.topk.rows - r.topk.differing}/${r.topk.rows}`, r.float32 ? `${r.float32.rows - r.float32.differing}/${r.float32.rows}${r.float32.scoresOutside ? `, ${r.float32.scoresOutside} scores out` : ""}` : "-", sci(r.maxErr.freqs), sci(r.maxErr.constants), r.pass ? "pass" : "FAIL"] : [name, ...dash(9), "ERROR"])),
  );
}
