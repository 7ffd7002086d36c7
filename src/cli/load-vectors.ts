// Load mla-vectors/1 cases from a file or a directory (Node only). A case may keep its weights in
// a .safetensors file beside it ("weights_file"); naming that .safetensors file loads the case(s)
// that use it.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { FormatError } from "../errors.js";
import { type VectorCase, parseVectorCaseText } from "../io/mla-vectors.js";
import { externalWeightsFile, parseVectorCaseExternal } from "../io/mla-vectors-external.js";
import { openCheckpoint, openSafetensorsFile } from "../io/safetensors-file.js";
import { HF_VECTORS_FORMAT, type HfVectorCase, parseHfVectorCase } from "../io/hf-vectors.js";
import { mlaTensorFilter } from "../io/hf-names.js";
import { loadMlaWeights } from "../io/mla-safetensors.js";
import type { MlaConfig } from "../config.js";
import type { MlaWeights } from "../weights.js";
import { UsageError } from "./io.js";

/** The case files a path names: the file itself, every *.json in a directory (sorted), or the JSON cases naming a .safetensors file. */
export function caseFiles(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new UsageError(`no such file or directory: ${path}`);
  }
  if (st.isFile()) return path.endsWith(".safetensors") ? casesNaming(path) : [path];
  const files = readdirSync(path)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => join(path, f));
  if (files.length === 0) throw new UsageError(`no case files (*.json) in directory: ${path}`);
  return files;
}

/** JSON files beside a .safetensors file whose weights_file points at it. */
function casesNaming(weights: string): string[] {
  const dir = dirname(weights), target = resolve(weights);
  const hits = readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => join(dir, f))
    .filter((f) => {
      try {
        const file = externalWeightsFile(JSON.parse(readFileSync(f, "utf8")));
        return file !== undefined && resolve(dir, file) === target;
      } catch {
        return false;
      }
    });
  if (hits.length === 0) throw new UsageError(`${weights} holds weights only, and no case JSON beside it names it in "weights_file": verify the case JSON instead`);
  return hits;
}

function readCaseJson(file: string): { json: unknown; text: string } {
  const bytes = readFileSync(file);
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
  if (external !== undefined) throw new UsageError(`${file} keeps its weights in "${external}"; this command reads cases with inline weights only (mlakit verify reads both)`);
  return guarded(file, () => parseVectorCaseText(text, basename(file)));
}

/** Any case: inline weights, or weights read (by range) from the .safetensors file it names. */
export async function loadCaseWithWeights(file: string): Promise<VectorCase> {
  const { json, text } = readCaseJson(file);
  const external = externalWeightsFile(json, basename(file));
  if (external === undefined) return guarded(file, () => parseVectorCaseText(text, basename(file)));
  const path = resolve(dirname(file), external);
  let opened;
  try {
    opened = await openSafetensorsFile(path);
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") throw new UsageError(`${file} names weights_file "${external}", which does not exist (${path})`);
    throw e;
  }
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
  try {
    return statSync(join(dir, "case.json")).isFile();
  } catch {
    return false;
  }
}

/** The HF case directories a path names (a case dir, its case.json, or a dir of case dirs), or null when it names none. */
export function hfCaseDirs(path: string): string[] | null {
  let st;
  try {
    st = statSync(path);
  } catch {
    return null;
  }
  if (st.isFile()) return basename(path) === "case.json" && isHfCaseDir(dirname(path)) && hfFormat(path) ? [dirname(path)] : null;
  if (isHfCaseDir(path)) return hfFormat(join(path, "case.json")) ? [path] : null;
  const dirs = readdirSync(path).sort().map((f) => join(path, f)).filter((d) => isHfCaseDir(d) && hfFormat(join(d, "case.json")));
  return dirs.length > 0 ? dirs : null;
}

function hfFormat(file: string): boolean {
  try {
    return (JSON.parse(readFileSync(file, "utf8")) as { format?: unknown }).format === HF_VECTORS_FORMAT;
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
