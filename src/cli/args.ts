// One flag parser for every command: node:util parseArgs (strict) plus the flags every command
// takes (--json, --quiet, --progress, --help), "did you mean" for a mistyped flag, and the one
// way a number is read from a flag (digits only, within a stated range), so `--context abc`,
// `2.5`, `0`, `-3` and `1e99` are each one line naming the flag, the value and the range.
import { parseArgs } from "node:util";
import { UsageError } from "./io.js";

export type FlagSpec = Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }>;

/** Flags every command takes. */
export const COMMON_FLAGS = {
  json: { type: "boolean" },
  quiet: { type: "boolean" },
  progress: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies FlagSpec;

export interface Common {
  json: boolean;
  quiet: boolean;
  /** Progress lines on stderr: forced by --progress, never under --json or --quiet. */
  progress: boolean | undefined;
}

type Values = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** Parse argv against the command's flags plus COMMON_FLAGS; an unknown or valueless flag is a UsageError with a suggestion. */
export function parseFlags(command: string, argv: string[], flags: FlagSpec, opts: { positionals?: number } = {}): { values: Values; positionals: string[]; common: Common } {
  const options = { ...COMMON_FLAGS, ...flags };
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: negativesJoined(argv, options), options, allowPositionals: (opts.positionals ?? 0) > 0, strict: true }) as typeof parsed;
  } catch (e) {
    throw flagError(command, e as Error & { code?: string }, Object.keys(options));
  }
  const max = opts.positionals ?? 0;
  if (parsed.positionals.length > max) throw new UsageError(`${command} takes ${max === 0 ? "no" : `at most ${max}`} positional argument${max === 1 ? "" : "s"}, got ${JSON.stringify(parsed.positionals[max])}; see mlakit help ${command}`);
  const v = parsed.values;
  const json = v.json === true, quiet = v.quiet === true;
  return { values: v, positionals: parsed.positionals, common: { json, quiet, progress: json || quiet ? false : v.progress === true ? true : undefined } };
}

/** `--context -3` as `--context=-3`, so a negative value is read (and refused by its range) rather than taken for a flag. */
function negativesJoined(argv: string[], options: FlagSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], next = argv[i + 1];
    if (a === "--") return [...out, ...argv.slice(i)];
    const spec = a.startsWith("--") ? options[a.slice(2)] : undefined;
    if (spec?.type === "string" && next !== undefined && /^-[0-9.]/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

function flagError(command: string, e: Error & { code?: string }, known: string[]): Error {
  const m = /'(-{1,2}[^'\s]*)/.exec(e.message);
  const given = m?.[1] ?? "";
  if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const near = closest(given.replace(/^-+/, "").replace(/=.*$/, ""), known);
    return new UsageError(`unknown option ${given}${near ? ` (did you mean --${near}?)` : ""}; see mlakit help ${command}`);
  }
  if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const flag = /--([\w-]+)/.exec(e.message)?.[1] ?? given;
    return new UsageError(/does not take an argument/.test(e.message) ? `--${flag} takes no value` : `--${flag} needs a value; see mlakit help ${command}`);
  }
  if (e.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") return new UsageError(`${command} takes no positional arguments, got ${/'([^']*)'/.exec(e.message)?.[1] ?? "one"}; see mlakit help ${command}`);
  return new UsageError(e.message.split("\n")[0]);
}

/** The candidate within edit distance 2 (or a prefix match) of `word`, if one is clearly nearest. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  if (word === "") return undefined;
  let best: string | undefined, bestD = Infinity;
  for (const c of candidates) {
    const d = c.startsWith(word) && word.length >= 3 ? 1 : editDistance(word, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return bestD <= Math.max(1, Math.min(2, Math.floor(word.length / 3))) ? best : undefined;
}

/** Edits (insert, delete, substitute, swap two neighbours) from a to b: optimal string alignment distance. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.length][b.length];
}

const fmt = (n: number) => n.toLocaleString("en-US");

/** An integer flag: decimal digits (a leading "-" only when min < 0) within [min, max]; `dflt` when absent. */
export function intFlag(flag: string, raw: unknown, range: { min: number; max: number }): number | undefined;
export function intFlag(flag: string, raw: unknown, range: { min: number; max: number }, dflt: number): number;
export function intFlag(flag: string, raw: unknown, range: { min: number; max: number }, dflt?: number): number | undefined {
  if (raw === undefined) return dflt;
  const s = String(raw);
  const ok = (range.min < 0 ? /^-?[0-9]{1,16}$/ : /^[0-9]{1,16}$/).test(s) && Number(s) >= range.min && Number(s) <= range.max;
  if (!ok) throw new UsageError(`--${flag} ${JSON.stringify(s)}: expected an integer from ${fmt(range.min)} to ${fmt(range.max)}`);
  return Number(s);
}

/** A positive finite decimal number (no hex, no Infinity), at most `max`. */
export function positiveNumber(flag: string, s: string, max: number): number {
  const n = /^\s*[0-9]*\.?[0-9]+([eE][+-]?[0-9]+)?\s*$/.test(s) ? Number(s) : NaN;
  if (!(Number.isFinite(n) && n > 0 && n <= max)) throw new UsageError(`--${flag} ${JSON.stringify(s)}: expected a positive number up to ${fmt(max)}`);
  return n;
}

/** One of a fixed list of names; a near miss is suggested. */
export function choiceFlag<T extends string>(flag: string, raw: unknown, names: readonly T[]): T {
  const s = String(raw);
  if ((names as readonly string[]).includes(s)) return s as T;
  const near = closest(s, names);
  throw new UsageError(`--${flag} ${JSON.stringify(s)}: expected one of ${names.join(", ")}${near ? ` (did you mean ${near}?)` : ""}`);
}

/** Ranges of the numeric flags, shared so a flag means the same on every command. */
export const RANGES = {
  context: { min: 1, max: 2 ** 30 },
  batch: { min: 1, max: 2 ** 16 },
  heads: { min: 1, max: 2 ** 16 },
  seed: { min: 0, max: 2 ** 32 - 1 },
  /** fast-check seeds are 32-bit signed (the replay line may print a negative one). */
  checkSeed: { min: -(2 ** 31), max: 2 ** 31 - 1 },
  runs: { min: 1, max: 1_000_000 },
  randomCases: { min: 0, max: 1000 },
  scaleDown: { min: 1, max: 2 ** 16 },
  params: { min: 1, max: 2 ** 40 },
  layer: { min: 0, max: 2 ** 16 },
  samples: { min: 1, max: 1000 },
} as const;

/** --build for commands that use the WASM backend. */
export const BUILD_CHOICES = ["auto", "simd128", "relaxed"] as const;
export type BuildChoice = (typeof BUILD_CHOICES)[number];
