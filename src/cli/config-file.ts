// Reading a --config FILE for the CLI commands: an official ModelArgs JSON or a Hugging Face
// config.json, with one stderr line saying which it was and which convention its numbers follow.
import { readFileSync } from "node:fs";
import { type ConfigImport, describeConfigImport, importConfigJson } from "../config.js";
import { type CliIo, UsageError } from "./io.js";

export function readConfigFile(file: string, io: CliIo, quiet = false): ConfigImport & { json: Record<string, unknown> } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new UsageError(`--config ${JSON.stringify(file)}: cannot read it (no such file, or not a regular file)`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--config ${JSON.stringify(file)}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new UsageError(`--config ${JSON.stringify(file)}: expected a JSON object (official ModelArgs or HF config.json)`);
  const r = importConfigJson(json);
  if (!quiet) {
    io.err(`config ${file}: ${describeConfigImport(r)}`);
    for (const n of r.notes) io.err(`note: ${n}`);
  }
  return { ...r, json: json as Record<string, unknown> };
}
