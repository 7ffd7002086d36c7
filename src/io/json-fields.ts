// Field readers shared by the vector-file parsers: a value of the expected JSON kind, or a
// FormatError naming the field, the value and what was expected.
import { FormatError } from "../errors.js";

export function jsonObject(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new FormatError(field, v, "an object");
  return v as Record<string, unknown>;
}

export function jsonInt(v: unknown, field: string, min = 0): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw new FormatError(field, v, `an integer >= ${min}`);
  return v;
}

/** JSON text -> value; a syntax error is a FormatError naming the source and quoting its start. */
export function parseJsonText(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FormatError(source, text.slice(0, 40), "JSON text", (e as Error).message);
  }
}
