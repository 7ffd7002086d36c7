#!/usr/bin/env node
// The package as users get it: `npm pack`, then one fresh project that installs the
// tarball from npm's usual path and uses it as an ESM importer, a CommonJS requirer, a TypeScript
// consumer at the documented minimum (skipLibCheck off), a Vite app in headless Chromium with the
// default .wasm loading, and a `vite build --ssr` bundle of mlakit/wasm-node run in Node.
// Run after `npm run build` (npm test builds): `npm run test:package`. Exit 1 on any failure.
// MLAKIT_KEEP_TMP=1 keeps the temporary directory; MLAKIT_REQUIRE_BROWSER=1 fails without chromium.
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PKG = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
/** The TypeScript the README documents as the minimum (the published .d.ts use TS 5.7's generic typed arrays). */
const TS_MINIMUM = "5.7.3";
const t0 = Date.now();
const log = (msg) => console.log(`[package ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${msg}`);
const fail = (msg) => {
  throw new Error(msg);
};

/** Run a command; its output is printed only when it fails. */
async function sh(cwd, cmd, args, env = {}) {
  try {
    return await promisify(execFile)(cmd, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  } catch (e) {
    fail(`${cmd} ${args.join(" ")} (in ${cwd}) failed:\n${e.stdout ?? ""}${e.stderr ?? e.message}`);
  }
}
const npm = (cwd, ...args) => sh(cwd, "npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"]);
const versionOf = (dep) => JSON.parse(readFileSync(join(ROOT, "node_modules", dep, "package.json"), "utf8")).version;

// ---------------------------------------------------------------------------------------------
// 1. What `npm pack` ships: exactly the allowed set, every exported file present.

/** Files a user needs; anything else in the tarball is a packaging bug. */
function allowed(path) {
  if (["package.json", "README.md", "LICENSE", "build/mla-simd128.wasm", "build/mla-relaxed.wasm", "build/mla-simd128-threads.wasm", "build/mla-relaxed-threads.wasm"].includes(path)) return true;
  if (/^vectors\/deepseek-v3-mla\/[^/]+\.(json|md)$/.test(path)) return true;
  const out = /^dist\/(.+)\.(js|d\.ts)$/.exec(path);
  // Compiled library code whose source still exists (a stale output of a deleted module is not shipped).
  return out !== null && !out[1].startsWith("examples/") && existsSync(join(ROOT, "src", `${out[1]}.ts`));
}

/** Every file package.json points at (exports targets, patterns matched at least once, bin, main, types). */
function referencedFiles(pkg) {
  const targets = [pkg.main, pkg.types, ...Object.values(pkg.bin ?? {})];
  for (const v of Object.values(pkg.exports)) targets.push(...(typeof v === "string" ? [v] : Object.values(v)));
  return [...new Set(targets.map((t) => t.replace(/^\.\//, "")))];
}

function checkFileList(files) {
  const extra = files.filter((f) => !allowed(f));
  if (extra.length) fail(`npm pack ships ${extra.length} file(s) outside the allowed set: ${extra.slice(0, 20).join(", ")}${extra.length > 20 ? ", ..." : ""}`);
  const have = new Set(files);
  for (const t of referencedFiles(PKG)) {
    const ok = t.includes("*") ? files.some((f) => new RegExp(`^${t.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[^/]+")}$`).test(f)) : have.has(t);
    if (!ok) fail(`package.json refers to ${t}, which npm pack does not ship`);
  }
  const js = files.filter((f) => f.startsWith("dist/") && f.endsWith(".js"));
  const noTypes = js.filter((f) => !have.has(f.replace(/\.js$/, ".d.ts")) && !f.startsWith("dist/cli/"));
  if (noTypes.length) fail(`compiled modules without declarations: ${noTypes.join(", ")}`);
  if (files.some((f) => f.endsWith(".map"))) fail("source maps are shipped (their sources are not)");
}

// ---------------------------------------------------------------------------------------------
// 2. The consumer project (one install, several checks).

/** The decode case every consumer runs: the README's reference layer, then the same on a WASM backend. */
const CASE_MJS = `import { makeConfig, createReferenceMla, randomMlaWeights, Rng, LatentCache } from "mlakit";

export const cfg = makeConfig({ dim: 64, n_heads: 4, q_lora_rank: 0, kv_lora_rank: 32,
  qk_nope_head_dim: 16, qk_rope_head_dim: 8, v_head_dim: 16, max_seq_len: 256 });

function data() {
  const rng = new Rng(7);
  return { weights: randomMlaWeights(cfg, new Rng(1)), prefill: rng.normalArray(7 * cfg.dim), step: rng.normalArray(cfg.dim) };
}

/** One absorbed decode step after a 7-token prefill, on the float64 oracle. */
export function referenceDecode() {
  const { weights, prefill, step } = data();
  const layer = createReferenceMla(cfg, weights, { path: "absorbed" });
  const y = layer.forward(prefill, { batch: 1, seqlen: 7, startPos: 0 });   // x: [B, s, D] -> y: [B, s, D]
  if (y.length !== 7 * cfg.dim) throw new Error("prefill output length " + y.length);
  return Array.from(layer.forward(step, { batch: 1, seqlen: 1, startPos: 7 }));
}

/** The same step on a backend (the WASM one). */
export async function backendDecode(backend) {
  const { weights, prefill, step } = data();
  const layer = await backend.createMla(cfg, weights, { path: "absorbed" });
  layer.forward(prefill, { batch: 1, seqlen: 7, startPos: 0 });
  const y = Array.from(layer.forward(step, { batch: 1, seqlen: 1, startPos: 7 }));
  layer.dispose();
  return y;
}

/** A latent cache: append a prefix, fork it (shared blocks), roll the fork back. */
export function cacheFork() {
  const cache = new LatentCache(cfg, { format: "fp8_e4m3", maxBlocks: 8, maxSequences: cfg.max_batch_size + 1 });
  const rng = new Rng(3), n = 100;
  cache.append(0, rng.normalArray(n * cfg.kv_lora_rank), rng.normalArray(n * cfg.qk_rope_head_dim));
  const draft = cache.fork(0);
  cache.truncate(draft, 70);
  return { parent: cache.length(0), draft: cache.length(draft) };
}

export const maxDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), a.length === b.length ? 0 : Infinity);
`;

const ESM_MJS = `import { createWasmBackend as fetchingBackend, ConfigError } from "mlakit";
import { createWasmBackend } from "mlakit/wasm-node";
import { checkBackend } from "mlakit/conformance";
import { cacheFork, backendDecode, maxDiff, referenceDecode } from "./case.mjs";
import { writeFileSync } from "node:fs";

const ref = referenceDecode();
const fork = cacheFork();
if (fork.parent !== 100 || fork.draft !== 70) throw new Error("LatentCache fork/truncate: " + JSON.stringify(fork));
const wasm = await createWasmBackend();
const y = await backendDecode(wasm);
const err = maxDiff(y, ref);
if (!(err <= 1e-4)) throw new Error("wasm-node decode vs oracle: max error " + err);
const simd = await createWasmBackend({ build: "simd128" });
// In Node the browser entry's fetch cannot read file: URLs: a ConfigError that names mlakit/wasm-node.
const refused = await fetchingBackend().then(() => null, (e) => e);
if (!(refused instanceof ConfigError) || !/mlakit\\/wasm-node/.test(refused.message)) throw new Error("main-entry createWasmBackend in Node: " + refused);
const kit = await checkBackend(wasm, { numRuns: 3, seed: 1 });
if (!kit.pass) throw new Error(kit.report);
writeFileSync("node-result.json", JSON.stringify({ build: wasm.build, y, simd128: await backendDecode(simd), ref }));
console.log(JSON.stringify({ build: wasm.build, maxErrVsOracle: err, conformance: kit.report.split("\\n")[0] }));
`;

const CJS_CJS = `const mlakit = require("mlakit");
const cfg = mlakit.makeConfig({ dim: 16, n_heads: 2, q_lora_rank: 0, kv_lora_rank: 8, qk_nope_head_dim: 4, qk_rope_head_dim: 4, v_head_dim: 4, max_seq_len: 32 });
const layer = mlakit.createReferenceMla(cfg, mlakit.randomMlaWeights(cfg, new mlakit.Rng(1)), { path: "naive" });
const y = layer.forward(new mlakit.Rng(2).normalArray(3 * 16), { batch: 1, seqlen: 3, startPos: 0 });
if (y.length !== 48 || !y.every(Number.isFinite)) throw new Error("require('mlakit'): bad forward");
const { createWasmBackend } = require("mlakit/wasm-node");
if (typeof createWasmBackend !== "function" || typeof require("mlakit/conformance").checkBackend !== "function") throw new Error("subpath requires");
console.log(JSON.stringify({ exports: Object.keys(mlakit).length }));
`;

/** Uses the typed surface of every entry; compiled with skipLibCheck false. */
const CONSUMER_TS = `import { type AttentionLayer, type Backend, type MlaConfig, type WasmBackend, type WasmPaths, ConfigError, LatentCache, createReferenceMla, createWasmBackend, makeConfig, randomMlaWeights, Rng, saveCache, loadCache, analyze, preset, DEFAULT_MACHINE } from "mlakit";
import { createWasmBackend as nodeBackend, type NodeWasmOptions } from "mlakit/wasm-node";
import { checkBackend, type CheckResult } from "mlakit/conformance";
import { openCheckpoint } from "mlakit/safetensors-file";
import { fmtBytes } from "mlakit/internal";

const cfg: MlaConfig = makeConfig({ dim: 64, n_heads: 4, q_lora_rank: 0, kv_lora_rank: 32, qk_nope_head_dim: 16, qk_rope_head_dim: 8, v_head_dim: 16, max_seq_len: 256 });
const layer: AttentionLayer = createReferenceMla(cfg, randomMlaWeights(cfg, new Rng(1)), { path: "absorbed" });
const y: Float32Array | Float64Array = layer.forward(new Float32Array(64), { batch: 1, seqlen: 1, startPos: 0 });
const cache = new LatentCache(cfg, { format: "bf16", maxBlocks: 4 });
const bytes: Uint8Array = saveCache(cache);
loadCache(bytes, { config: cfg });
const paths: WasmPaths = { simd128: "/assets/mla-simd128.wasm" };
const opts: NodeWasmOptions = { build: "auto", wasmPaths: "./wasm/" };
export async function main(): Promise<string> {
  const a: WasmBackend = await createWasmBackend({ wasmPaths: paths });
  const b: Backend = await nodeBackend(opts);
  const r: CheckResult = await checkBackend(b, { numRuns: 1 });
  const store = await openCheckpoint("model.safetensors");
  await store.close();
  const e = new ConfigError("build", "x", "y");
  return [a.build, r.report, fmtBytes(1024), e.message, y.length, analyze(preset("deepseek-v3"), "deepseek-v3", { context: 4096, batch: 1, format: "bf16", machine: DEFAULT_MACHINE }).config.dim].join();
}
`;

const WEB_HTML = `<!doctype html><html><head><meta charset="utf-8"><title>mlakit consumer</title></head>
<body><script type="module" src="./main.js"></script></body></html>
`;
const WEB_MAIN = `import { createWasmBackend } from "mlakit";
import { backendDecode, referenceDecode } from "../case.mjs";
createWasmBackend().then(async (backend) => {
  window.__result = { build: backend.build, y: await backendDecode(backend), ref: referenceDecode() };
}).catch((e) => { window.__result = { error: String(e && e.stack || e) }; });
`;
const SSR_ENTRY = `import { createWasmBackend } from "mlakit/wasm-node";
import { backendDecode } from "./case.mjs";
const backend = await createWasmBackend(process.env.WASM_DIR ? { wasmPaths: process.env.WASM_DIR } : {});
console.log(JSON.stringify({ build: backend.build, y: await backendDecode(backend) }));
`;
// mlakit bundled in (noExternal), as a serverless deploy bundles it: the case that used to fail.
const SSR_CONFIG = `export default { logLevel: "warn", ssr: { noExternal: true }, build: { ssr: "ssr-entry.mjs", outDir: "dist-ssr", target: "node20", emptyOutDir: true } };
`;

function writeProject(dir, tarball) {
  mkdirSync(join(dir, "web"), { recursive: true });
  const deps = { mlakit: `file:${tarball}` };
  const devDependencies = { typescript: TS_MINIMUM, vite: versionOf("vite"), "@types/node": versionOf("@types/node") };
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "mlakit-consumer", private: true, type: "module", dependencies: deps, devDependencies }, null, 2));
  const files = { "case.mjs": CASE_MJS, "esm.mjs": ESM_MJS, "cjs.cjs": CJS_CJS, "consumer.ts": CONSUMER_TS, "web/index.html": WEB_HTML, "web/main.js": WEB_MAIN, "ssr-entry.mjs": SSR_ENTRY, "vite.ssr.config.mjs": SSR_CONFIG };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const tsconfig = (compilerOptions) => JSON.stringify({ compilerOptions: { target: "ES2022", strict: true, noEmit: true, skipLibCheck: false, types: ["node"], ...compilerOptions }, files: ["consumer.ts"] });
  writeFileSync(join(dir, "tsconfig.json"), tsconfig({ module: "NodeNext", moduleResolution: "NodeNext", lib: ["ES2022", "DOM"] }));
  writeFileSync(join(dir, "tsconfig.bundler.json"), tsconfig({ module: "ESNext", moduleResolution: "Bundler", lib: ["ES2022", "DOM"] }));
}

/** A static server with the content types a real one sends (application/wasm: compileStreaming). */
async function serve(dir) {
  const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };
  const fetched = [];
  const server = createServer((req, res) => {
    const path = join(dir, decodeURIComponent(new URL(req.url, "http://x").pathname).replace(/\/$/, "/index.html"));
    if (!path.startsWith(dir) || !existsSync(path)) return res.writeHead(404).end();
    fetched.push(path.slice(dir.length));
    res.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream" }).end(readFileSync(path));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}/`, fetched, close: () => new Promise((r) => server.close(r)) };
}

async function browserCheck(app, node) {
  const { runnerImport } = await import("vite");
  const { module: harness } = await runnerImport(join(ROOT, "test/browser/harness.ts"), { configFile: false, logLevel: "warn" });
  if (!harness.HAVE_CHROMIUM) {
    if (harness.REQUIRE_BROWSER) fail(`chromium not found at ${harness.CHROMIUM_PATH}`);
    return log(`SKIP browser: no chromium at ${harness.CHROMIUM_PATH}`);
  }
  const site = await serve(join(app, "web", "dist"));
  const browser = await harness.launchChromium();
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(site.url);
    await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 60_000 });
    const r = await page.evaluate(() => window.__result);
    if (r.error || errors.length) fail(`browser: ${r.error ?? errors.join("; ")}`);
    const wasmFetched = site.fetched.filter((f) => f.endsWith(".wasm"));
    if (wasmFetched.length !== 1) fail(`browser fetched ${wasmFetched.length} .wasm files (${wasmFetched.join(", ")}); the default loading fetches the one build it picks`);
    const same = r.build === node.build ? node.y : node.simd128;
    const diff = Math.max(...r.y.map((v, i) => Math.abs(v - same[i])));
    if (!(diff <= 1e-5)) fail(`browser ${r.build} decode differs from Node's by ${diff}`);
    const refDiff = Math.max(...r.ref.map((v, i) => Math.abs(v - node.ref[i])));
    // Not bit for bit: Chromium's V8 and Node's round Math.exp/sin/cos differently in the last place.
    if (!(refDiff <= 1e-12)) fail(`browser oracle differs from Node's by ${refDiff}`);
    log(`ok   browser (Chromium): ${r.build} build fetched by default (${wasmFetched[0]}), decode vs Node's ${r.build}: max diff ${diff.toExponential(2)}; float64 oracle vs Node's: ${refDiff.toExponential(2)}`);
  } finally {
    await browser.close();
    await site.close();
  }
}

async function main() {
  for (const f of ["dist/index.js", "dist/internal.js", "build/mla-simd128.wasm", "build/mla-relaxed.wasm"]) if (!existsSync(join(ROOT, f))) fail(`${f} is missing: run \`npm run build\` first`);
  const tmp = mkdtempSync(join(tmpdir(), "mlakit-package-"));
  try {
    // --ignore-scripts: pack the build that is there (npm test built it); prepack would rebuild.
    const dry = JSON.parse((await npm(ROOT, "pack", "--dry-run", "--json", "--ignore-scripts")).stdout)[0];
    checkFileList(dry.files.map((f) => f.path));
    log(`ok   npm pack: ${dry.entryCount} files, ${(dry.size / 1e6).toFixed(2)} MB packed (${(dry.unpackedSize / 1e6).toFixed(2)} MB), nothing outside the allowed set, every exported file present`);
    const packed = JSON.parse((await npm(ROOT, "pack", "--json", "--ignore-scripts", "--pack-destination", tmp)).stdout)[0];
    const app = join(tmp, "app");
    writeProject(app, join(tmp, packed.filename));
    await npm(app, "install", "--prefer-offline");
    log(`ok   npm install of ${packed.filename} with typescript ${TS_MINIMUM}, vite ${versionOf("vite")} into a fresh project`);

    const esm = JSON.parse((await sh(app, "node", ["esm.mjs"])).stdout.trim().split("\n").pop());
    log(`ok   ESM: reference layer, LatentCache fork, mlakit/wasm-node (${esm.build}, max error vs oracle ${esm.maxErrVsOracle.toExponential(2)}), conformance kit: ${esm.conformance}`);
    const cjs = await sh(app, "node", ["cjs.cjs"]);
    log(`ok   CommonJS: require("mlakit") on Node ${process.versions.node} (${JSON.parse(cjs.stdout).exports} exports), require of the subpaths${/ExperimentalWarning/.test(cjs.stderr) ? " (Node prints its require(esm) ExperimentalWarning)" : ""}`);
    await sh(app, join(app, "node_modules/.bin/tsc"), ["-p", "tsconfig.json"]);
    await sh(app, join(app, "node_modules/.bin/tsc"), ["-p", "tsconfig.bundler.json"]);
    log(`ok   TypeScript ${TS_MINIMUM} (skipLibCheck false): a consumer of every entry compiles with moduleResolution NodeNext and Bundler`);

    await sh(app, join(app, "node_modules/.bin/vite"), ["build", "web", "--logLevel", "warn"]);
    const assets = readdirSync(join(app, "web/dist/assets"));
    if (!assets.some((f) => /^mla-relaxed.*\.wasm$/.test(f)) || !assets.some((f) => /^mla-simd128.*\.wasm$/.test(f))) fail(`vite build did not emit both .wasm files: ${assets.join(", ")}`);
    const node = JSON.parse(readFileSync(join(app, "node-result.json"), "utf8"));
    await browserCheck(app, node);

    await sh(app, join(app, "node_modules/.bin/vite"), ["build", "--config", "vite.ssr.config.mjs"]);
    const bundled = JSON.parse((await sh(app, "node", ["dist-ssr/ssr-entry.js"])).stdout);
    // The bundle alone elsewhere (no node_modules beside it): the .wasm files given by path.
    const away = join(tmp, "deployed");
    cpSync(join(app, "dist-ssr"), away, { recursive: true });
    const wasmDir = join(tmp, "wasm");
    cpSync(join(app, "node_modules/mlakit/build"), wasmDir, { recursive: true });
    const moved = JSON.parse((await sh(away, "node", ["ssr-entry.js"], { WASM_DIR: wasmDir })).stdout);
    for (const [what, r] of [["in the project", bundled], ["moved, wasmPaths", moved]]) {
      const want = r.build === node.build ? node.y : node.simd128;
      const d = Math.max(...r.y.map((v, i) => Math.abs(v - want[i])));
      if (d !== 0) fail(`vite --ssr bundle (${what}): decode differs from the unbundled one by ${d}`);
    }
    log(`ok   vite build --ssr bundling mlakit/wasm-node: runs in the project (default loading) and moved away (wasmPaths), ${bundled.build}, bit for bit the unbundled decode`);

    // Every README and docs code block, and every documented command line, on the installed
    // package: the snippet test (test/docs/readme-snippets.test.ts) with the reader's mlakit being
    // this install and its blocks compiled by the documented minimum TypeScript.
    const installed = join(app, "node_modules", "mlakit");
    await sh(ROOT, process.execPath, [join(ROOT, "node_modules", "vitest", "vitest.mjs"), "run", "test/docs/readme-snippets.test.ts"], { MLAKIT_READER_PACKAGE: installed, MLAKIT_READER_TSC: join(app, "node_modules", "typescript", "bin", "tsc") });
    log(`ok   every README/docs snippet (type-checked by TypeScript ${TS_MINIMUM}) and documented command line runs on the installed package`);
  } finally {
    if (process.env.MLAKIT_KEEP_TMP === "1") log(`kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }
  log("all package checks pass");
}

main().catch((e) => {
  console.error(`[package] FAIL: ${e.message}`);
  process.exitCode = 1;
});
