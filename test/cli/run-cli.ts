// Running the built CLI in child processes with a time bound per case (a case that overruns is
// killed and fails), and the rule every case must satisfy: exit 0, 1 or 2; no stack trace; a
// failure says what is wrong in one line. Two ways: `node dist/cli/main.js ...` per case (the
// real command, end to end), or many cases in one child (fuzz-driver.mjs imports dist/cli/run.js
// and runs them in turn, reporting each), so thousands of cases fit in seconds and a hang still
// shows as the case it happened in.
import { type ChildProcess, fork, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const MAIN = join(ROOT, "dist", "cli", "main.js");
const DRIVER = join(dirname(fileURLToPath(import.meta.url)), "fuzz-driver.mjs");

/** npm test builds dist/ first (pretest); a bare vitest run needs `npm run -s build:ts`. */
export function requireBuild(): void {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run -s build:ts first`);
}

export interface CliRun {
  argv: string[];
  code: number | null;
  out: string;
  err: string;
  ms: number;
  timedOut: boolean;
}

/** One `node dist/cli/main.js ...argv` with a time bound (killed when it overruns). */
export function runMain(argv: string[], opts: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CliRun> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...argv], { cwd: opts.cwd ?? ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...opts.env } });
    let out = "", err = "", timedOut = false;
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs ?? 15_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ argv, code, out, err, ms: Date.now() - t0, timedOut });
    });
  });
}

/** Run tasks with at most `n` at once, results in order. */
export async function pool<T, R>(items: readonly T[], n: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i]);
      }
    }),
  );
  return out;
}

/** Lines a command prints to stderr on the way that are not errors (which config file kind it read, its notes, progress). */
const INFO_LINE = /^(config .*: |note: |\[\d+\.\d s\] )/;

/** An error line under --json: one JSON object {"error": {"command", "message", ...}}. */
export function jsonError(line: string): { command: string | null; message: string; field?: string } | undefined {
  try {
    const e = (JSON.parse(line) as { error?: { command?: unknown; message?: unknown } }).error;
    return e && typeof e.message === "string" ? (e as { command: string | null; message: string }) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What is wrong with a run, or undefined when it keeps the CLI's promise: it ended in time, with
 * 0, 1 or 2, no stack trace and no internal error, and a failure (exit 2) printed exactly one
 * error line `mlakit <command>: ...` (or, under --json, one JSON error line), besides the
 * informational lines above.
 */
export function problem(r: Pick<CliRun, "code" | "err" | "timedOut" | "ms">): string | undefined {
  if (r.timedOut) return `did not end within its time bound (killed after ${r.ms} ms)`;
  if (r.code !== 0 && r.code !== 1 && r.code !== 2) return `exit code ${r.code}`;
  if (/^\s+at /m.test(r.err) || /internal error/.test(r.err)) return "a stack trace or internal error on stderr";
  const lines = r.err.split("\n").filter((l) => l.trim() !== "" && !INFO_LINE.test(l));
  if (r.code === 2 && (lines.length !== 1 || !(/^mlakit [a-z]+: /.test(lines[0]) || jsonError(lines[0]) !== undefined))) return `${lines.length} error lines on stderr (expected one "mlakit <command>: ..." or one JSON error)`;
  if (r.code !== 2 && lines.length > 0) return `stderr lines with exit ${r.code}`;
  return undefined;
}

export interface DriverCase {
  id: string;
  argv: string[];
}

export interface DriverResult extends CliRun {
  id: string;
}

/**
 * Run cases in one child process (fuzz-driver.mjs), each within `perCaseMs`: a case that overruns
 * kills the child and is reported timed out; the cases after it run in a fresh child.
 */
export async function runDriver(cases: readonly DriverCase[], opts: { cwd: string; perCaseMs?: number }): Promise<DriverResult[]> {
  const results: DriverResult[] = [];
  let rest = [...cases];
  while (rest.length > 0) {
    const done = await driverBatch(rest, opts.cwd, opts.perCaseMs ?? 10_000);
    results.push(...done);
    rest = rest.slice(done.length);
  }
  return results;
}

function driverBatch(cases: readonly DriverCase[], cwd: string, perCaseMs: number): Promise<DriverResult[]> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = fork(DRIVER, [], { cwd, stdio: ["ignore", "ignore", "ignore", "ipc"], env: { ...process.env, MLAKIT_DIST: join(ROOT, "dist") } });
    const results: DriverResult[] = [];
    let timer: NodeJS.Timeout | undefined, started = 0;
    const arm = () => {
      clearTimeout(timer);
      started = Date.now();
      timer = setTimeout(() => {
        const c = cases[results.length];
        results.push({ id: c.id, argv: c.argv, code: null, out: "", err: "", ms: Date.now() - started, timedOut: true });
        child.kill("SIGKILL");
      }, perCaseMs);
    };
    child.on("message", (m: { code: number; out: string; err: string; ms: number }) => {
      const c = cases[results.length];
      results.push({ id: c.id, argv: c.argv, code: m.code, out: m.out, err: m.err, ms: m.ms, timedOut: false });
      if (results.length === cases.length) child.disconnect();
      else arm();
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (results.length < cases.length && !(results.at(-1)?.timedOut ?? false)) {
        // the child ended in the middle of a case (process.exit, a crash): that case's result
        const c = cases[results.length];
        results.push({ id: c.id, argv: c.argv, code: code ?? 70, out: "", err: `the process ended during this case (${signal ?? `exit ${code}`})\n    at the driver`, ms: Date.now() - started, timedOut: false });
      }
      resolve(results);
    });
    arm();
    child.send(cases.map((c) => c.argv));
  });
}
