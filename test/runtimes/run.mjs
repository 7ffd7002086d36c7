// @ts-check
// `npm run test:runtimes`: the runtime matrix. Bundles mlakit's browser-safe entry with
// the checks, runs them in Node, Deno, Bun and workerd (a Worker on 127.0.0.1), judges every
// runtime's numbers here against the official vectors and the float64 oracle, prints a table and
// exits 1 on any mismatch, 2 when a runtime could not be run at all.
//   node test/runtimes/run.mjs [--backend wasm|reference] [--only node,deno,bun,workerd] [--results FILE]
// --results FILE: a passing run's figures as JSON (bench/results/runtimes.json is the committed
// one the README quotes; `npm run docs:figures` puts them there).
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { bundle, ROOT } from "./bundle.mjs";
import { VECTOR_ATOL } from "../../dist/index.js";
import { expectations, judge } from "./judge.mjs";
import { liveCount } from "./procs.mjs";
import { runExamples } from "./examples.mjs";
import { runBun, runDeno, runNode, runWorkerd } from "./runtimes.mjs";
import { wasmBuilds, DEFAULT_BACKEND } from "./wasm-files.mjs";

const RUNTIMES = { node: runNode, deno: runDeno, bun: runBun, workerd: runWorkerd };
const BINS = { node: process.execPath, deno: join(ROOT, "node_modules", ".bin", "deno"), bun: join(ROOT, "node_modules", ".bin", "bun"), workerd: join(ROOT, "node_modules", ".bin", "workerd") };
const PER_RUNTIME_TIMEOUT_MS = 120_000;

const { values } = parseArgs({ options: { results: { type: "string" }, backend: { type: "string", default: DEFAULT_BACKEND }, only: { type: "string", default: Object.keys(RUNTIMES).join(",") }, "no-examples": { type: "boolean", default: false } } });
const backend = /** @type {"wasm" | "reference"} */ (values.backend);
if (backend !== "wasm" && backend !== "reference") throw new Error(`--backend ${backend}: expected wasm or reference`);
const names = /** @type {(keyof typeof RUNTIMES)[]} */ ((values.only ?? "").split(",").filter(Boolean));
for (const n of names) if (!(n in RUNTIMES)) throw new Error(`--only ${n}: expected some of ${Object.keys(RUNTIMES).join(", ")}`);

const t0 = performance.now();
if (!existsSync(join(ROOT, "dist", "index.js"))) throw new Error("dist/index.js is missing: run `npm run build` first");
const outDir = join(ROOT, "node_modules", ".cache", "mlakit-runtimes");
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const bundleDir = join(outDir, "bundle");
await bundle({ checks: join(ROOT, "test", "runtimes", "checks.js") }, bundleDir);
const vectorsDir = join(ROOT, "vectors", "deepseek-v3-mla");
const vectors = readdirSync(vectorsDir).filter((f) => f.endsWith(".json")).sort().map((f) => join(vectorsDir, f));
const wasm = backend === "wasm" ? wasmBuilds() : {};
const exp = await expectations(vectors);

/** @param {keyof typeof RUNTIMES} name */
const runOne = (name) => RUNTIMES[name]({ backend, vectors, wasm, bundle: join(bundleDir, "checks.js"), outDir, bin: BINS[name], timeoutMs: PER_RUNTIME_TIMEOUT_MS });
// Two at a time: this machine has two cores and each runtime computes on one.
/** @type {Awaited<ReturnType<typeof runOne>>[]} */
const runs = [];
const queue = [...names];
await Promise.all(
  [0, 1].map(async () => {
    for (let n = queue.shift(); n; n = queue.shift()) runs.push(await runOne(n));
  }),
);
const examples = values["no-examples"] ? [] : await runExamples(BINS, outDir);
runs.sort((a, b) => names.indexOf(/** @type {any} */ (a.runtime)) - names.indexOf(/** @type {any} */ (b.runtime)));

const sci = (/** @type {number} */ x) => (Number.isFinite(x) ? x.toExponential(2) : String(x));
const rows = [["runtime", "version", "backend", "build", "relaxed valid", "vectors", "vs official", "vs oracle", "decode vs oracle", "threads", "2-thread decode vs oracle", "kit on 2 threads", "probes", "seconds", "result"]];
/** @type {string[]} */
const notes = [];
let failed = 0, broken = 0;
/** @type {any[]} */
const judged = [];
for (const r of runs) {
  if (!r.result) {
    broken++;
    rows.push([r.runtime, r.version, backend, "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", r.seconds.toFixed(1), "ERROR"]);
    notes.push(`${r.runtime}: ${r.error}`);
    continue;
  }
  const j = judge(r.result, exp);
  if (!j.pass) failed++;
  const res = r.result;
  const th = j.threads;
  rows.push([r.runtime, res.runtime || r.version, res.backend, res.build, String(res.relaxedValid), `${j.casesPassed}/${j.cases}`, sci(j.vsOfficial), sci(j.vsOracle), sci(j.decodeErr), th ? String(th.count) : "-", th?.err != null ? sci(th.err) : "-", th?.kit ?? "-", `${res.probes.filter((/** @type {any} */ p) => p.ok).length}/${res.probes.length}`, r.seconds.toFixed(1), j.pass ? "pass" : "FAIL"]);
  if (th) notes.push(`${r.runtime}: threads ${th.reason}`);
  judged.push({ runtime: r.runtime, version: res.runtime || r.version, build: res.build, relaxedValid: res.relaxedValid, casesPassed: j.casesPassed, cases: j.cases, vsOfficial: j.vsOfficial, vsOracle: j.vsOracle, decodeVsOracle: j.decodeErr, threads: th, seconds: r.seconds, pass: j.pass });
  for (const p of res.probes) notes.push(`${r.runtime}: probe "${p.name}" ${p.ok ? "ok" : "FAILED"}: ${p.detail}`);
  for (const f of j.failures) notes.push(`${r.runtime}: FAIL ${f}`);
}
for (const e of examples) {
  if (!e.pass) failed++;
  rows.push([e.name, e.runtime ?? "-", e.backend ?? "-", e.build ?? "-", "-", "-", "-", sci(e.err), "-", "-", "-", "-", "-", "-", e.pass ? "pass" : "FAIL"]);
  notes.push(`${e.name}: ${e.pass ? "" : "FAIL "}${e.detail}`);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
const line = (/** @type {string[]} */ row) => row.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
console.log(`runtime matrix: ${vectors.length} official vectors (naive + absorbed, outputs and caches) + 1 absorbed decode step, max abs error <= ${VECTOR_ATOL} (VECTOR_ATOL, as mlakit verify)`);
console.log(line(rows[0]));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const row of rows.slice(1)) console.log(line(row));
for (const n of notes) console.log(`  ${n}`);
if (liveCount() !== 0) {
  console.log(`  ERROR: ${liveCount()} child process(es) still running after the matrix`);
  broken++;
}
const seconds = (performance.now() - t0) / 1000;
console.log(`matrix took ${seconds.toFixed(1)} s`);
console.log(`runtimes: ${runs.length + examples.length - failed - broken} passed, ${failed + broken} failed`);
process.exitCode = broken ? 2 : failed ? 1 : 0;
if (values.results) {
  // Only a run that passed becomes a results file: the docs must not quote a failing matrix.
  if (process.exitCode !== 0) console.log(`  ${values.results} not written: the matrix did not pass`);
  else {
    const examplesOut = examples.map((e) => ({ name: e.name, runtime: e.runtime ?? null, build: e.build ?? null, maxAbsError: e.err, pass: e.pass }));
    const out = { schema: "mlakit-runtimes/1", date: new Date().toISOString(), host: { node: process.version, cores: (await import("node:os")).availableParallelism() }, backend, tolerance: VECTOR_ATOL, seconds, runtimes: judged, examples: examplesOut };
    writeFileSync(values.results, JSON.stringify(out, null, 2) + "\n");
    console.log(`  results written to ${values.results}`);
  }
}
