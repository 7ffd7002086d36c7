// @ts-check
// Child processes of the runtime matrix: each in its own process group, every wait bounded, and
// every child still alive when the harness ends (normally, by error or by a signal) killed by id.
import { spawn } from "node:child_process";

/** @type {Set<import("node:child_process").ChildProcess>} */
const live = new Set();

/** @param {import("node:child_process").ChildProcess} child @param {NodeJS.Signals} signal */
function signalGroup(child, signal) {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal); // the group we created with detached: true
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

process.on("exit", () => {
  for (const c of live) signalGroup(c, "SIGKILL");
});
for (const sig of /** @type {const} */ (["SIGINT", "SIGTERM", "SIGHUP"])) {
  process.on(sig, () => {
    for (const c of live) signalGroup(c, "SIGKILL");
    process.exit(128 + (sig === "SIGINT" ? 2 : sig === "SIGTERM" ? 15 : 1));
  });
}

/**
 * Start a child in its own process group; stdout/stderr are collected (capped at `cap` chars).
 * @param {string} cmd @param {string[]} args
 * @param {{ env?: NodeJS.ProcessEnv, cwd?: string, cap?: number }} [opts]
 */
export function start(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  const cap = opts.cap ?? 1 << 20;
  const out = { stdout: "", stderr: "" };
  child.stdout?.on("data", (d) => (out.stdout = (out.stdout + d).slice(-cap)));
  child.stderr?.on("data", (d) => (out.stderr = (out.stderr + d).slice(-cap)));
  /** @type {Promise<{ code: number | null, signal: string | null, error?: Error }>} */
  const exited = new Promise((resolve) => {
    child.on("error", (error) => {
      live.delete(child);
      resolve({ code: null, signal: null, error });
    });
    child.on("exit", (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, out, exited };
}

/** @param {number} ms */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms).unref?.());

/**
 * SIGTERM the child's group, then SIGKILL after `graceMs`; resolves when it has exited.
 * @param {ReturnType<typeof start>} p @param {number} [graceMs]
 */
export async function stop(p, graceMs = 3000) {
  signalGroup(p.child, "SIGTERM");
  const first = await Promise.race([p.exited, sleep(graceMs).then(() => null)]);
  if (first) return first;
  signalGroup(p.child, "SIGKILL");
  return Promise.race([p.exited, sleep(graceMs).then(() => ({ code: null, signal: "SIGKILL (no exit seen)" }))]);
}

/**
 * Run to completion within `timeoutMs`, killing the group on timeout.
 * @param {string} cmd @param {string[]} args
 * @param {{ env?: NodeJS.ProcessEnv, cwd?: string, timeoutMs: number }} opts
 */
export async function run(cmd, args, opts) {
  const p = start(cmd, args, opts);
  const res = await Promise.race([p.exited, sleep(opts.timeoutMs).then(() => null)]);
  if (res) return { ...res, ...p.out, timedOut: false };
  await stop(p, 1000);
  return { code: null, signal: "timeout", ...p.out, timedOut: true };
}

/** Children not yet exited (the harness asserts this is 0 at the end). */
export const liveCount = () => live.size;
