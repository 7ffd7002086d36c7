// Typed errors for everything that crosses mlakit's boundary (configs, weights, shapes, positions,
// files). Every error names the field, the value it had and what was expected, so a user can fix
// the input without reading our source.

/** Render a value for an error message: short, unambiguous, never huge, never deep (hostile input is shown safely). */
export function showValue(value: unknown, depth = 0): string {
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? value.slice(0, 77) + "..." : value);
  if (typeof value === "number") return Number.isNaN(value) ? "NaN" : String(value);
  if (value === undefined) return "undefined (missing)";
  if (value === null || typeof value !== "object") return String(value);
  if (depth >= 2) return Array.isArray(value) ? "[...]" : "{...}";
  if (Array.isArray(value)) return `[${value.slice(0, 8).map((v) => showValue(v, depth + 1)).join(", ")}${value.length > 8 ? ", ..." : ""}]`;
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(length ${(value as unknown as ArrayLike<number>).length})`;
  const keys = Object.keys(value);
  const shown = keys.slice(0, 6).map((k) => `${JSON.stringify(k.length > 40 ? k.slice(0, 37) + "..." : k)}: ${showValue((value as Record<string, unknown>)[k], depth + 1)}`);
  const s = `{${shown.join(", ")}${keys.length > 6 ? ", ..." : ""}}`;
  return s.length > 120 ? s.slice(0, 117) + "..." : s;
}

/** Base class: `field = value: expected ...`. */
export class MlaError extends Error {
  readonly field: string;
  readonly value: unknown;
  readonly expected: string;
  constructor(field: string, value: unknown, expected: string, detail?: string) {
    super(`${field} = ${showValue(value)}: expected ${expected}${detail ? ` (${detail})` : ""}`);
    this.name = new.target.name;
    this.field = field;
    this.value = value;
    this.expected = expected;
  }
}

/** A config field is missing, of the wrong type, or out of range. */
export class ConfigError extends MlaError {}

/** A weight or input tensor has the wrong length/shape, or is missing. */
export class ShapeError extends MlaError {}

/** A position, batch index or length is out of range (startPos, seqlen, batch, capacity). */
export class PositionError extends MlaError {}

/** NaN or +-Inf found in an input; `value` is the offending number, `field` says where. */
export class NonFiniteError extends MlaError {}

/** A file or serialized object does not follow its format. */
export class FormatError extends MlaError {}

/** A cache operation cannot be carried out (capacity, unknown sequence, format mismatch, pool exhausted). */
export class CacheError extends MlaError {}
