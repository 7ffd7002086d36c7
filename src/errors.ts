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

/**
 * A config field or a layer option (path, cacheFormat with the naive path, initialCapacity,
 * maxChunkTokens, ...) is missing, of the wrong type, or out of range; also a config whose weights
 * this runtime cannot allocate (randomMlaWeights with dim 1e15): change the config.
 */
export class ConfigError extends MlaError {}

/** A weight or input tensor has the wrong length/shape, or is missing. */
export class ShapeError extends MlaError {}

/** A position, batch index or length is out of range (startPos, seqlen, batch, capacity). */
export class PositionError extends MlaError {}

/**
 * NaN or +-Inf: found in an input (`field` names the element, e.g. "x[1, 0, 5]"), or produced by
 * a forward whose arithmetic overflowed on finite inputs (float32 on the WASM backend, float64 in
 * the oracle). Then `field` starts with the stage that overflowed, "query", "latent", "attention"
 * or "output", and names the batch row and token, e.g. "latent: c_kv[1, 3] sum of squares"; the
 * call committed nothing. `value` is the offending number.
 */
export class NonFiniteError extends MlaError {}

/** A file or serialized object does not follow its format. */
export class FormatError extends MlaError {}

/**
 * A cache operation cannot be carried out: capacity, unknown sequence, format mismatch, pool
 * exhausted; the memory a call needs cannot be had (WASM memory, the backend's memoryLimitBytes,
 * a buffer the runtime refuses to allocate); or the layer cannot take the call at all: it was
 * disposed (its cache and memory are released), or another forward is running on the same layer
 * (a getter of the input called forward again: one call at a time per layer). Nothing changed.
 */
export class CacheError extends MlaError {}

/**
 * A RangeError from an allocation (a typed array or array the runtime refuses) as CacheError:
 * what the caller asked for does not fit in memory. Other errors pass through unchanged.
 */
export function memoryError(e: unknown, field: string, value: unknown): unknown {
  if (!(e instanceof RangeError)) return e;
  return new CacheError(field, value, "an allocation this runtime can make", e.message);
}
