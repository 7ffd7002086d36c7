// @ts-check
// How each runtime of the matrix is started, fed and stopped. Node, Deno and Bun run a driver
// script on the bundle and write their result to a file; workerd serves a Worker on 127.0.0.1
// whose every input is embedded in its generated config. Binaries come from npm packages only.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { basename, join, relative } from "node:path";
import { run, sleep, start, stop } from "./procs.mjs";

const HERE = import.meta.dirname ?? new URL(".", import.meta.url).pathname;

/**
 * @typedef {{ backend: "wasm" | "reference", vectors: string[], wasm: Record<string, string>, bundle: string, outDir: string, bin: string, timeoutMs: number }} RunSpec
 * @typedef {{ runtime: string, version: string, result?: any, error?: string, seconds: number }} RuntimeRun
 */

/** @param {string} bin @param {string[]} [args] */
async function versionOf(bin, args = ["--version"]) {
  const r = await run(bin, args, { timeoutMs: 15_000 });
  return ((r.stdout || r.stderr).trim().split("\n")[0] ?? "?").replace(/\s*\(.*\)$/, "");
}

/** @param {RunSpec} spec @param {string} name */
function writeRequest(spec, name) {
  const out = join(spec.outDir, `${name}-result.json`);
  const req = { backend: spec.backend, vectors: spec.vectors.map((f) => ({ name: basename(f), file: f })), wasm: spec.wasm, out };
  const file = join(spec.outDir, `${name}-request.json`);
  writeFileSync(file, JSON.stringify(req));
  return { file, out };
}

/**
 * Run a driver script to completion and read the result it wrote.
 * @param {string} name @param {RunSpec} spec @param {string} cmd @param {(req: string) => string[]} args @param {NodeJS.ProcessEnv} [env]
 * @returns {Promise<RuntimeRun>}
 */
async function runDriver(name, spec, cmd, args, env) {
  const t0 = performance.now();
  const version = await versionOf(cmd);
  const req = writeRequest(spec, name);
  const r = await run(cmd, args(req.file), { timeoutMs: spec.timeoutMs, env: { ...process.env, NO_COLOR: "1", ...env } });
  const seconds = (performance.now() - t0) / 1000;
  if (r.timedOut) return { runtime: name, version, error: `timed out after ${spec.timeoutMs / 1000} s\n${r.stderr}`, seconds };
  if (r.code !== 0) return { runtime: name, version, error: `exit ${r.code ?? r.signal}${r.error ? ` (${r.error.message})` : ""}\n${r.stderr}${r.stdout}`.trim(), seconds };
  try {
    return { runtime: name, version, result: JSON.parse(readFileSync(req.out, "utf8")), seconds };
  } catch (e) {
    return { runtime: name, version, error: `no result file: ${/** @type {Error} */ (e).message}\n${r.stderr}`, seconds };
  }
}

/** @param {RunSpec} spec */
export function runNode(spec) {
  return runDriver("node", spec, process.execPath, (req) => [join(HERE, "driver-node.mjs"), spec.bundle, req]);
}

/** @param {RunSpec} spec */
export function runDeno(spec) {
  const root = join(HERE, "..", "..");
  return runDriver(
    "deno",
    spec,
    spec.bin,
    (req) => ["run", "--no-prompt", "--no-lock", `--allow-read=${root},${spec.outDir}`, `--allow-write=${spec.outDir}`, join(HERE, "driver-deno.js"), spec.bundle, req],
    // Own cache dir under the output dir, no update check: nothing leaves the machine.
    { DENO_DIR: join(spec.outDir, "deno-dir"), DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" },
  );
}

/** @param {RunSpec} spec */
export function runBun(spec) {
  return runDriver("bun", spec, spec.bin, (req) => [join(HERE, "driver-bun.js"), spec.bundle, req], { DO_NOT_TRACK: "1", BUN_INSTALL_CACHE_DIR: join(spec.outDir, "bun-cache") });
}

/** A port the kernel just handed out on 127.0.0.1 (closed again; workerd binds it next). */
export function freePort() {
  return /** @type {Promise<number>} */ (
    new Promise((resolve, reject) => {
      const srv = createServer();
      srv.on("error", reject);
      srv.listen(0, "127.0.0.1", () => {
        const addr = srv.address();
        srv.close(() => (addr && typeof addr === "object" ? resolve(addr.port) : reject(new Error("no port"))));
      });
    })
  );
}

/** A capnp string literal (JSON's escapes are a subset of capnp's). @param {string} s */
const lit = (s) => JSON.stringify(s);

/**
 * The workerd config: the Worker, its bundle, the vectors and the WASM builds, all embedded.
 * The builds are Wasm modules (what Cloudflare ships for a Worker's `import m from "x.wasm"`),
 * imported by a generated module; the simd128 bytes also ride along as a data binding so the
 * checks can confirm that compiling from bytes is refused with a clear error. `embed` paths are
 * relative to the config file.
 * @param {RunSpec} spec @param {string} dir @param {number} port @param {string} label
 */
function workerdConfig(spec, dir, port, label) {
  const rel = (/** @type {string} */ f) => lit(relative(dir, f));
  // workerd starts no Worker, so the threaded builds are left out: the backend must say why it runs on 1
  const builds = Object.entries(spec.wasm).filter(([b]) => !b.endsWith("-threads"));
  writeFileSync(
    join(dir, "wasm-modules.js"),
    builds.map(([build]) => `import ${build} from "mla-${build}.wasm";\n`).join("") + `export default { ${builds.map(([b]) => b).join(", ")} };\n`,
  );
  const bindings = [
    `(name = "BACKEND", text = ${lit(spec.backend)})`,
    `(name = "RUNTIME_LABEL", text = ${lit(label)})`,
    `(name = "VECTOR_NAMES", text = ${lit(JSON.stringify(spec.vectors.map((f) => basename(f))))})`,
    ...spec.vectors.map((f, i) => `(name = "VECTOR_${i}", text = embed ${rel(f)})`),
    ...(spec.wasm.simd128 ? [`(name = "SIMD128_BYTES", data = embed ${rel(spec.wasm.simd128)})`] : []),
  ];
  const modules = [
    `(name = "worker", esModule = embed ${rel(join(HERE, "worker.js"))})`,
    `(name = "checks.js", esModule = embed ${rel(spec.bundle)})`,
    `(name = "wasm-modules.js", esModule = embed "wasm-modules.js")`,
    ...builds.map(([build, f]) => `(name = "mla-${build}.wasm", wasm = embed ${rel(f)})`),
  ];
  return `# Generated by test/runtimes/runtimes.mjs for one run of the matrix.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .checks) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);

const checks :Workerd.Worker = (
  modules = [
    ${modules.join(",\n    ")},
  ],
  bindings = [
    ${bindings.join(",\n    ")},
  ],
  compatibilityDate = "2026-11-01",
);
`;
}

/**
 * Poll GET url until it answers 200, the server exits, or `timeoutMs` passes.
 * @param {string} url @param {ReturnType<typeof start>} server @param {number} timeoutMs
 */
export async function waitReady(url, server, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  server.exited.then(() => (exited = true));
  while (Date.now() < deadline && !exited) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return true;
    } catch {
      /* not listening yet */
    }
    await sleep(100);
  }
  return false;
}

/**
 * Serve a generated config with workerd on 127.0.0.1 and POST /run to it; always stops the server.
 * @param {RunSpec} spec
 * @returns {Promise<RuntimeRun>}
 */
export async function runWorkerd(spec) {
  const t0 = performance.now();
  const version = await versionOf(spec.bin);
  const dir = join(spec.outDir, "workerd");
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const config = join(dir, "config.capnp");
  writeFileSync(config, workerdConfig(spec, dir, port, version));
  const server = start(spec.bin, ["serve", config], { cwd: dir });
  const base = `http://127.0.0.1:${port}`;
  try {
    if (!(await waitReady(`${base}/health`, server, 30_000))) {
      return { runtime: "workerd", version, error: `workerd did not answer ${base}/health within 30 s\n${server.out.stderr}${server.out.stdout}`.trim(), seconds: (performance.now() - t0) / 1000 };
    }
    const r = await fetch(`${base}/run`, { method: "POST", signal: AbortSignal.timeout(spec.timeoutMs) });
    const text = await r.text();
    const seconds = (performance.now() - t0) / 1000;
    if (!r.ok) return { runtime: "workerd", version, error: `HTTP ${r.status}: ${text}\n${server.out.stderr}`.trim(), seconds };
    return { runtime: "workerd", version, result: JSON.parse(text), seconds };
  } catch (e) {
    return { runtime: "workerd", version, error: `${/** @type {Error} */ (e).message}\n${server.out.stderr}`.trim(), seconds: (performance.now() - t0) / 1000 };
  } finally {
    await stop(server);
  }
}
