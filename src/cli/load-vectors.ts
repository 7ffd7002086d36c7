// Load mla-vectors/1 cases from a file or a directory (Node only).
import { readFileSync, readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { type VectorCase, parseVectorCaseText } from "../io/mla-vectors.js";
import { UsageError } from "./io.js";

/** The case files a path names: the file itself, or every *.json in the directory (sorted). */
export function caseFiles(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new UsageError(`no such file or directory: ${path}`);
  }
  if (st.isFile()) return [path];
  const files = readdirSync(path)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => join(path, f));
  if (files.length === 0) throw new UsageError(`no case files (*.json) in directory: ${path}`);
  return files;
}

export function loadCase(file: string): VectorCase {
  return parseVectorCaseText(readFileSync(file, "utf8"), basename(file));
}
