// Load mla-vectors/1 cases from a file or a directory (Node only). A case may keep its weights in
// a .safetensors file beside it ("weights_file"); naming that .safetensors file loads the case(s)
// that use it. Every file is read through src/io/regular-file.ts: a FIFO, a device, a directory
// named *.json or a file over the size cap is a FormatError naming it (exit 2), never a hang.
import { basename, dirname, join, resolve } from "node:path";
import { FormatError } from "../errors.js";
import { checkRegularFile, listDirectory, pathKind, probeKind, readRegularFileSync } from "../io/regular-file.js";
import { type VectorCase, parseVectorCaseText } from "../io/mla-vectors.js";
import { externalWeightsFile, parseVectorCaseExternal } from "../io/mla-vectors-external.js";
import { openCheckpoint, openSafetensorsFile } from "../io/safetensors-file.js";
import { HF_VECTORS_FORMAT, type HfVectorCase, parseHfVectorCase } from "../io/hf-vectors.js";
import { mlaTensorFilter } from "../io/hf-names.js";
import { loadMlaWeights } from "../io/mla-safetensors.js";
import type { MlaConfig } from "../config.js";
import type { MlaWeights } from "../weights.js";
import { UsageError, oneLine } from "./io.js";

/**
 * A case JSON above this size is refused unread: JSON text this long is near V8's string limit
 * (~512 MiB), and `vectors generate` keeps inline weights under 4M parameters (~45 MB of text);
 * larger weights belong in a .safetensors file the case names.
 */
export const MAX_CASE_JSON_BYTES = 256 * 2 ** 20;

/** The *.json entries of a directory (sorted, joined to it). */
function jsonEntries(dir: string): string[] {
  return listDirectory(dir, "case directory")
    .filter((f) => f.endsWith(".json"))
    .map((f) => join(dir, f));
}

/**
 * The case files a path names: the file itself, every *.json in a directory (sorted), or the JSON
 * cases naming a .safetensors file. `checkEach` (default): every file of a directory must be a
 * regular file under the cap before any is read; verify passes false and reports each bad file.
 */
export function caseFiles(path: string, checkEach = true): string[] {
  const { kind } = pathKind(path, "case path", "a case file, a .safetensors file a case names, or a directory of cases");
  if (kind === "file") return path.endsWith(".safetensors") ? casesNaming(path) : [path];
  if (kind !== "directory") throw new FormatError("case path", path, "a case file, a .safetensors file a case names, or a directory of cases", `found a ${kind}`);
  const files = jsonEntries(path);
  if (files.length === 0) throw new UsageError(`no case files (*.json) in directory: ${oneLine(path)}`);
  if (checkEach) for (const f of files) checkRegularFile(f, "case file", MAX_CASE_JSON_BYTES); // a FIFO or a directory named x.json: refused before any is read
  return files;
}

/** JSON files beside a .safetensors file whose weights_file points at it (files that are not readable case JSON are passed over). */
function casesNaming(weights: string): string[] {
  const dir = dirname(weights), target = resolve(weights);
  const hits = jsonEntries(dir).filter((f) => {
    try {
      const file = externalWeightsFile(JSON.parse(readRegularFileSync(f, "case file", MAX_CASE_JSON_BYTES).toString("utf8")));
      return file !== undefined && resolve(dir, file) === target;
    } catch {
      return false;
    }
  });
  if (hits.length === 0) throw new UsageError(`${oneLine(weights)} holds weights only, and no case JSON beside it names it in "weights_file": verify the case JSON instead`);
  return hits;
}

function readCaseJson(file: string): { json: unknown; text: string } {
  const bytes = readRegularFileSync(file, "case file", MAX_CASE_JSON_BYTES);
  const text = bytes.toString("utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FormatError(file, bytes.subarray(0, 24).toString("latin1"), "JSON text: an mla-vectors/1 case (or give a .safetensors file that a case names)", (e as Error).message);
  }
  // Summarised here: a deeply nested top-level array must not reach the recursive error formatter.
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new FormatError(file, Array.isArray(json) ? "a JSON array" : `JSON ${json === null ? "null" : typeof json}`, "an mla-vectors/1 case (a JSON object)");
  return { json, text };
}

/**
 * Parse, turning a stack overflow into a FormatError: errors.ts's showValue recurses into nested
 * arrays, so a hostile case (tensors: [[[[...]]]]) would otherwise crash instead of exiting 2.
 */
function guarded<T>(file: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof RangeError) throw new FormatError(file, "JSON nested too deeply to report", "an mla-vectors/1 case", e.message);
    throw e;
  }
}

/** A case with inline weights (synchronous). Cases whose weights live in safetensors need loadCaseWithWeights. */
export function loadCase(file: string): VectorCase {
  const { json, text } = readCaseJson(file);
  const external = externalWeightsFile(json, basename(file));
  if (external !== undefined) throw new UsageError(`${oneLine(file)} keeps its weights in ${JSON.stringify(external)}; this command reads cases with inline weights only (mlakit verify reads both)`);
  return guarded(file, () => parseVectorCaseText(text, basename(file)));
}

/** Any case: inline weights, or weights read (by range) from the .safetensors file it names. */
export async function loadCaseWithWeights(file: string): Promise<VectorCase> {
  const { json, text } = readCaseJson(file);
  const external = externalWeightsFile(json, basename(file));
  if (external === undefined) return guarded(file, () => parseVectorCaseText(text, basename(file)));
  const path = resolve(dirname(file), external);
  const kind = probeKind(path);
  if (kind === undefined) throw new UsageError(`${oneLine(file)} names weights_file ${JSON.stringify(external)}, which does not exist (${oneLine(path)})`);
  const opened = await openSafetensorsFile(path, `${file}: weights_file`); // a FIFO or a device there is refused, not read
  try {
    return await guarded(file, () => parseVectorCaseExternal(json, basename(file), opened.file));
  } finally {
    await opened.source.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Hugging Face cases: a directory NAME/ with case.json (hf-deepseek-vectors/1), config.json and
// model.safetensors.

export interface HfCaseOnDisk {
  dir: string;
  case: HfVectorCase;
  configJson: Record<string, unknown>;
}

function isHfCaseDir(dir: string): boolean {
  return probeKind(join(dir, "case.json")) === "file";
}

/**
 * The HF case directories a path names (a case dir, its case.json, or a dir of case dirs), or null
 * when it names none (then the path is read as mla-vectors/1, which reports what is wrong with it).
 */
export function hfCaseDirs(path: string): string[] | null {
  const kind = probeKind(path);
  if (kind === "file") return basename(path) === "case.json" && isHfCaseDir(dirname(path)) && hfFormat(path) ? [dirname(path)] : null;
  if (kind !== "directory") return null;
  if (isHfCaseDir(path)) return hfFormat(join(path, "case.json")) ? [path] : null;
  const dirs = listDirectory(path, "case directory").map((f) => join(path, f)).filter((d) => isHfCaseDir(d) && hfFormat(join(d, "case.json")));
  return dirs.length > 0 ? dirs : null;
}

function hfFormat(file: string): boolean {
  try {
    return (JSON.parse(readRegularFileSync(file, "case file", MAX_CASE_JSON_BYTES).toString("utf8")) as { format?: unknown }).format === HF_VECTORS_FORMAT;
  } catch {
    return false;
  }
}

export function loadHfCase(dir: string): HfCaseOnDisk {
  const { json } = readCaseJson(join(dir, "case.json"));
  const probe = json as { config_file?: unknown };
  const configFile = typeof probe.config_file === "string" ? probe.config_file : "config.json";
  const { json: configJson } = readCaseJson(join(dir, basename(configFile)));
  const hidden = (configJson as { hidden_size?: unknown }).hidden_size;
  if (!(Number.isInteger(hidden) && (hidden as number) > 0)) throw new FormatError(`${join(dir, configFile)}.hidden_size`, hidden, "a positive integer");
  const c = guarded(dir, () => parseHfVectorCase(json, hidden as number, `${basename(dir)}/case.json`));
  return { dir, case: c, configJson: configJson as Record<string, unknown> };
}

/** The case's weights through the public path: openCheckpoint + loadMlaWeights. */
export async function loadHfWeights(c: HfCaseOnDisk, config: MlaConfig): Promise<{ weights: MlaWeights; config: MlaConfig }> {
  const store = await openCheckpoint(join(c.dir, c.case.weightsFile!), mlaTensorFilter());
  try {
    return await loadMlaWeights(store, config);
  } finally {
    await store.close();
  }
}
