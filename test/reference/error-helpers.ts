// Shared by the error tests: what a call threw, the documented error types (src/errors.ts) and a
// check that a call throws one of them.
import { expect } from "vitest";
import { CacheError, ConfigError, FormatError, type MlaError, NonFiniteError, PositionError, ShapeError } from "../../src/errors.js";

export const DOCUMENTED_ERRORS = [ConfigError, ShapeError, PositionError, NonFiniteError, FormatError, CacheError] as const;

export function isDocumented(err: unknown): err is MlaError {
  return DOCUMENTED_ERRORS.some((C) => err instanceof C);
}

/** What f threw (undefined when it returned). */
export function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** The error f throws, which must be documented: an instance of one of the six subclasses. */
export function documented(f: () => unknown): MlaError {
  const err = thrown(f);
  expect(err, "expected a throw").toBeDefined();
  expect(isDocumented(err), `${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`).toBe(true);
  return err as MlaError;
}

