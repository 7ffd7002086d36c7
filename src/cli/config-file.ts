// Reading a --config FILE for the CLI commands: an official ModelArgs JSON or a Hugging Face
// config.json, with one stderr line saying which it was and which convention its numbers follow.
// Read through src/io/regular-file.ts: a FIFO, a device, a directory or a file over the cap is
// refused with one line naming it.
import { type ConfigImport, describeConfigImport, importConfigJson } from "../config.js";
import { readRegularFileSync } from "../io/regular-file.js";
import { type CliIo, UsageError, oneLine } from "./io.js";

/** A config JSON above this size is refused unread (a Hugging Face config.json is a few KB). */
export const MAX_CONFIG_JSON_BYTES = 16 * 2 ** 20;

export function readConfigFile(file: string, io: CliIo, quiet = false): ConfigImport & { json: Record<string, unknown> } {
  const text = readRegularFileSync(file, "--config", MAX_CONFIG_JSON_BYTES).toString("utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--config ${JSON.stringify(file)}: not valid JSON (${oneLine((e as Error).message)})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new UsageError(`--config ${JSON.stringify(file)}: expected a JSON object (official ModelArgs or HF config.json)`);
  const r = importConfigJson(json);
  if (!quiet) {
    io.err(`config ${file}: ${describeConfigImport(r)}\n`);
    for (const n of r.notes) io.err(`note: ${n}\n`);
  }
  return { ...r, json: json as Record<string, unknown> };
}
