// Loads the WASM core from bytes or URLs: works in Node and in browsers (no fs/path/v8 here; Node's
// file reading and the relaxed-simd flag live in ./node.ts). Two builds come from one source
// (asconfig.json): simd128 everywhere, relaxed-simd (FMA) where the runtime validates it.

import { ConfigError } from "../errors.js";

export type WasmBuild = "simd128" | "relaxed";
export type WasmBuildChoice = WasmBuild | "auto";
export const WASM_BUILDS: readonly WasmBuild[] = ["simd128", "relaxed"];

/** The two build outputs as bytes (build/mla-simd128.wasm, build/mla-relaxed.wasm). */
export interface WasmBinaries {
  simd128: BufferSource;
  relaxed?: BufferSource;
}

/** A compiled core plus which build it is; instantiate once per layer (each owns its memory). */
export interface CompiledCore {
  readonly module: WebAssembly.Module;
  readonly build: WasmBuild;
}

/** The relaxed build if asked for (or "auto") and the runtime validates it; else simd128. */
export function chooseBuild(bins: WasmBinaries, choice: WasmBuildChoice = "auto"): WasmBuild {
  checkChoice(choice);
  if (choice === "simd128") return "simd128";
  const relaxedOk = bins.relaxed !== undefined && WebAssembly.validate(bins.relaxed);
  if (choice === "relaxed" && !relaxedOk) {
    throw new ConfigError("build", choice, "a build this runtime validates (relaxed-simd did not; Node 20 needs --experimental-wasm-relaxed-simd, see src/wasm/node.ts)");
  }
  return relaxedOk ? "relaxed" : "simd128";
}

export async function compileCore(bins: WasmBinaries, choice: WasmBuildChoice = "auto"): Promise<CompiledCore> {
  const build = chooseBuild(bins, choice);
  return { module: await compileBytes(build === "relaxed" ? bins.relaxed! : bins.simd128, build), build };
}

/** Compile one build's bytes; a ConfigError on field `wasm.<build>` when they are not WASM or the runtime refuses to compile. */
async function compileBytes(bytes: BufferSource, build: WasmAnyBuild): Promise<WebAssembly.Module> {
  if (!WebAssembly.validate(bytes)) throw new ConfigError(`wasm.${build}`, "invalid module", `the bytes of ${wasmFileName(build)} (something else was given or served: check wasmPaths; in a clone, npm run build)`);
  try {
    return await WebAssembly.compile(bytes);
  } catch (e) {
    // Valid bytes that will not compile: the runtime forbids run-time code generation.
    throw new ConfigError(`wasm.${build}`, "bytes", "WebAssembly.Module objects: this runtime refuses to compile WASM from bytes (Cloudflare Workers / workerd: import build/mla-*.wasm as modules and call createWasmBackendFromModules)", (e as Error).message);
  }
}

// Loading by URL (browsers, Deno, Bun; Node: ./node.ts reads the files). The default URLs are
// written as `new URL("<literal>", import.meta.url)` relative to this module (dist/wasm/loader.js
// -> the package's build/), the pattern Vite, webpack 5, esbuild's and Rollup's asset handling
// recognise: a bundler copies the .wasm into its output and rewrites the URL. Evaluated only when
// called, so importing this module touches nothing.

/** File names of the two release builds, as shipped in the package's build/ (and exported as `mlakit/build/<name>`). */
export const WASM_FILES: Readonly<Record<WasmBuild, string>> = { simd128: "mla-simd128.wasm", relaxed: "mla-relaxed.wasm" };

/**
 * Where the .wasm files are, overriding the default (the package's own build/ next to this module).
 * A string or URL is a base, like onnxruntime-web's `env.wasm.wasmPaths`: the file names of
 * WASM_FILES are appended to it ("/assets/wasm/" -> "/assets/wasm/mla-relaxed.wasm"). An object
 * names each file; a build it leaves out is not loaded (no `relaxed`: "auto" takes simd128).
 */
export type WasmPaths = string | URL | { simd128?: string | URL; relaxed?: string | URL; "simd128-threads"?: string | URL; "relaxed-threads"?: string | URL };

/** The URL of a build inside the package (two literal expressions, so bundlers can see both). */
export function defaultWasmUrl(build: WasmBuild): URL {
  return build === "relaxed" ? new URL("../../build/mla-relaxed.wasm", import.meta.url) : new URL("../../build/mla-simd128.wasm", import.meta.url);
}

/** Where `build` is under `paths` (undefined: an object that leaves it out); the default without `paths`. */
export function wasmUrl(build: WasmAnyBuild, paths?: WasmPaths): string | URL | undefined {
  if (paths === undefined) return isThreadedBuild(build) ? defaultThreadedWasmUrl(build) : defaultWasmUrl(build);
  if (typeof paths === "string" || paths instanceof URL) {
    const base = String(paths);
    return base.endsWith("/") ? base + wasmFileName(build) : `${base}/${wasmFileName(build)}`;
  }
  if (typeof paths !== "object" || paths === null) throw new ConfigError("wasmPaths", paths, "a base URL or path (string or URL), or { simd128, relaxed, \"simd128-threads\", \"relaxed-threads\" } URLs");
  return paths[build];
}

/**
 * Does this runtime accept relaxed-SIMD (the relaxed build's only extra instruction is
 * f32x4.relaxed_madd)? A 40-byte module whose one function is that instruction on constants, so
 * "auto" can pick a build before downloading one. Node 20 says no until the V8 flag is set (./node.ts).
 */
export function relaxedSimdSupported(): boolean {
  const v128 = (n: number) => Array.from({ length: n }, () => [0xfd, 0x0c, ...new Array<number>(16).fill(0)]).flat();
  const body = [0x00, ...v128(3), 0xfd, 0x85, 0x02, 0x0b]; // no locals; three v128.const; f32x4.relaxed_madd; end
  const mod = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7b, 3, 2, 1, 0, 10, body.length + 2, 1, body.length, ...body];
  try {
    return WebAssembly.validate(new Uint8Array(mod));
  } catch {
    return false;
  }
}

function checkChoice(choice: WasmBuildChoice): void {
  if (choice !== "auto" && choice !== "simd128" && choice !== "relaxed") throw new ConfigError("build", choice, '"simd128", "relaxed" or "auto"');
}

/**
 * Fetch and compile one build (streaming where the runtime and the server's content type allow).
 * "auto" takes relaxed when relaxedSimdSupported() and `paths` has it, and falls back to simd128
 * if that module does not compile.
 */
export async function fetchCore(choice: WasmBuildChoice = "auto", paths?: WasmPaths): Promise<CompiledCore> {
  checkChoice(choice);
  const relaxedUrl = choice === "simd128" ? undefined : wasmUrl("relaxed", paths);
  const relaxedOk = relaxedUrl !== undefined && relaxedSimdSupported();
  if (choice === "relaxed" && !relaxedOk) {
    throw new ConfigError("build", choice, relaxedUrl === undefined ? "a build among wasmPaths (it names no relaxed file)" : "a build this runtime validates (relaxed-simd did not)");
  }
  if (relaxedOk) {
    try {
      return { module: await compileUrl(relaxedUrl, "relaxed"), build: "relaxed" };
    } catch (e) {
      if (choice === "relaxed" || !(e instanceof ConfigError) || e.field !== "wasm.relaxed") throw e;
    }
  }
  const simdUrl = wasmUrl("simd128", paths);
  if (simdUrl === undefined) throw new ConfigError("wasmPaths.simd128", undefined, "the URL of mla-simd128.wasm (every runtime needs it)");
  return { module: await compileUrl(simdUrl, "simd128"), build: "simd128" };
}

async function compileUrl(url: string | URL, build: WasmAnyBuild): Promise<WebAssembly.Module> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    const inNode = String(url).startsWith("file:");
    throw new ConfigError(
      "wasmPaths",
      String(url),
      inNode
        ? 'a URL this runtime can fetch (Node cannot fetch file: URLs: import { createWasmBackend } from "mlakit/wasm-node", which reads the files)'
        : "a URL this runtime can fetch (set wasmPaths to where your server or bundler puts mla-simd128.wasm and mla-relaxed.wasm, or pass the bytes to createWasmBackendFromBytes)",
      (e as Error).message,
    );
  }
  if (!res.ok) throw new ConfigError("wasmPaths", String(url), `the ${wasmFileName(build)} file (set wasmPaths to where it is served)`, `HTTP ${res.status}`);
  // compileStreaming needs Content-Type application/wasm; anything else (or a runtime without it) reads the bytes.
  if (typeof WebAssembly.compileStreaming === "function" && (res.headers.get("content-type") ?? "").startsWith("application/wasm")) {
    const copy = res.clone();
    try {
      return await WebAssembly.compileStreaming(res);
    } catch {
      res = copy; // the bytes path below names the problem (not WASM, or compiling refused)
    }
  }
  return compileBytes(await res.arrayBuffer(), build);
}

// ---- threaded builds -------------------------------------------------------------------------
// asconfig.json's targets simd128-threads and relaxed-threads: the same source and ISAs compiled
// with `--enable threads --sharedMemory --importMemory --maximumMemory 65536`. The module imports
// env.memory, a shared WebAssembly.Memory the host creates (its maximum at most 65536 pages, 4 GiB:
// wasm32's whole address space, the most the single-threaded builds can grow to; a host may ask
// for less, e.g. where a browser cannot reserve 4 GiB), so every worker instantiates the module on
// the same memory. Their data segments are rewritten at every instantiation: the core's static
// data is read-only (test/wasm/static-data.test.ts). The functions below only add to the
// single-threaded loading above, whose defaults do not change.

export type WasmThreadedBuild = "relaxed-threads" | "simd128-threads";
/** Any of the four release builds. */
export type WasmAnyBuild = WasmBuild | WasmThreadedBuild;
/** Fastest first: what pickBuild tries for "auto". */
export const BUILD_FALLBACK_ORDER: readonly WasmAnyBuild[] = ["relaxed-threads", "simd128-threads", "relaxed", "simd128"];
/** File names of the threaded builds (exported as `mlakit/build/<name>`). */
export const WASM_THREADED_FILES: Readonly<Record<WasmThreadedBuild, string>> = { "simd128-threads": "mla-simd128-threads.wasm", "relaxed-threads": "mla-relaxed-threads.wasm" };
/** The threaded builds' declared maximum memory in 64 KiB pages (asconfig.json maximumMemory). */
export const THREADED_MAX_PAGES = 65536;

/** The bytes of any of the four builds (the threaded ones optional). */
export interface WasmAllBinaries extends WasmBinaries {
  "simd128-threads"?: BufferSource;
  "relaxed-threads"?: BufferSource;
}

/** A compiled build with whether it runs on a shared, imported memory (threads). */
export interface CompiledAnyCore extends CompiledCore {
  /** Which of the four builds this is. */
  readonly variant: WasmAnyBuild;
  /** true: the module imports env.memory, a shared WebAssembly.Memory (instantiate with threadedImports). */
  readonly threaded: boolean;
}

export function isThreadedBuild(b: WasmAnyBuild): b is WasmThreadedBuild {
  return b === "relaxed-threads" || b === "simd128-threads";
}
/** The ISA of a build (the threaded ones are the same ISAs). */
export function buildIsa(b: WasmAnyBuild): WasmBuild {
  return b === "relaxed" || b === "relaxed-threads" ? "relaxed" : "simd128";
}

/** The file name of any build (build/<name>, exported as `mlakit/build/<name>`). */
export function wasmFileName(build: WasmAnyBuild): string {
  return isThreadedBuild(build) ? WASM_THREADED_FILES[build] : WASM_FILES[build];
}

/** Fetch and compile a threaded build (wasmPaths as fetchCore's; its default: the package's file). */
export async function fetchThreadedCore(build: WasmThreadedBuild, paths?: WasmPaths): Promise<CompiledAnyCore> {
  const url = wasmUrl(build, paths);
  if (url === undefined) throw new ConfigError(`wasmPaths["${build}"]`, undefined, `the URL of ${wasmFileName(build)} (wasmPaths names none)`);
  return threadedCore(await compileUrl(url, build), build);
}

/** Compile a threaded build's bytes (a ConfigError on field `wasm.<build>` as for the others). */
export async function compileThreadedBytes(bytes: BufferSource, build: WasmThreadedBuild): Promise<CompiledAnyCore> {
  return threadedCore(await compileBytes(bytes, build), build);
}

const threadedCore = (module: WebAssembly.Module, build: WasmThreadedBuild): CompiledAnyCore => ({ module, build: buildIsa(build), variant: build, threaded: true });

/** The URL of a threaded build inside the package (literal expressions, as defaultWasmUrl). */
export function defaultThreadedWasmUrl(build: WasmThreadedBuild): URL {
  return build === "relaxed-threads" ? new URL("../../build/mla-relaxed-threads.wasm", import.meta.url) : new URL("../../build/mla-simd128-threads.wasm", import.meta.url);
}

/**
 * Can this runtime run the threaded builds: SharedArrayBuffer, Atomics.wait/notify and a shared
 * WebAssembly.Memory? In a browser, SharedArrayBuffer needs cross-origin isolation (the page
 * served with COOP `same-origin` and COEP `require-corp`); reason says what is missing.
 * (Whether threads can be started, worker_threads or Web Workers, is the pool's question.)
 */
export function sharedMemorySupport(): { ok: true } | { ok: false; reason: string } {
  const g = globalThis as { crossOriginIsolated?: boolean };
  if (g.crossOriginIsolated === false) return { ok: false, reason: "SharedArrayBuffer unavailable (not cross-origin isolated: serve the page with COOP same-origin and COEP require-corp)" };
  if (typeof SharedArrayBuffer !== "function") return { ok: false, reason: "SharedArrayBuffer unavailable in this runtime" };
  if (typeof Atomics !== "object" || typeof Atomics.wait !== "function" || typeof Atomics.notify !== "function") return { ok: false, reason: "Atomics.wait / Atomics.notify unavailable in this runtime" };
  try {
    const m = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    if (!(m.buffer instanceof SharedArrayBuffer)) return { ok: false, reason: "a shared WebAssembly.Memory is not backed by a SharedArrayBuffer here" };
  } catch (e) {
    return { ok: false, reason: `this runtime refuses a shared WebAssembly.Memory (${(e as Error).message})` };
  }
  return { ok: true };
}

/** A shared memory for the threaded builds: `initialPages` (>= the module's 1) up to `maximumPages` (<= THREADED_MAX_PAGES). */
export function createSharedMemory(initialPages = 1, maximumPages = THREADED_MAX_PAGES): WebAssembly.Memory {
  if (!(Number.isInteger(maximumPages) && maximumPages >= 1 && maximumPages <= THREADED_MAX_PAGES)) throw new ConfigError("maximumMemoryPages", maximumPages, `a whole number of 64 KiB pages in 1..${THREADED_MAX_PAGES} (the threaded builds' declared maximum)`);
  if (!(Number.isInteger(initialPages) && initialPages >= 1 && initialPages <= maximumPages)) throw new ConfigError("initialMemoryPages", initialPages, `a whole number of pages in 1..${maximumPages}`);
  try {
    return new WebAssembly.Memory({ initial: initialPages, maximum: maximumPages, shared: true });
  } catch (e) {
    throw new ConfigError("maximumMemoryPages", maximumPages, "a shared memory this runtime can reserve (ask for fewer pages)", (e as Error).message);
  }
}

/** The imports of a threaded build: its one shared memory. */
export function threadedImports(memory: WebAssembly.Memory): WebAssembly.Imports {
  return { env: { memory } };
}

/** Why `build` cannot run here (undefined: it can): its bytes missing or not validated, or no shared memory for a threaded one. */
export function buildUnavailable(bins: WasmAllBinaries, build: WasmAnyBuild): string | undefined {
  const bytes = bins[build];
  if (bytes === undefined) return `no bytes of ${wasmFileName(build)} were given`;
  if (isThreadedBuild(build)) {
    const sm = sharedMemorySupport();
    if (!sm.ok) return sm.reason;
  }
  let valid = false;
  try {
    valid = WebAssembly.validate(bytes);
  } catch {
    valid = false;
  }
  if (!valid) return buildIsa(build) === "relaxed" ? "this runtime does not validate it (relaxed-simd; Node 20 needs --experimental-wasm-relaxed-simd, see src/wasm/node.ts)" : "this runtime does not validate it";
  return undefined;
}

/**
 * Pick one of the four builds: "auto" takes the first of BUILD_FALLBACK_ORDER (threaded-relaxed,
 * threaded-simd128, relaxed, simd128) this runtime runs; `threads: false` skips the threaded
 * ones. A named build that cannot run here is a ConfigError on field `build` saying why.
 * `reason` says why the builds before the chosen one were passed over.
 */
export function pickBuild(bins: WasmAllBinaries, choice: WasmAnyBuild | "auto" = "auto", options: { threads?: boolean } = {}): { build: WasmAnyBuild; reason: string } {
  if (choice !== "auto" && !BUILD_FALLBACK_ORDER.includes(choice)) throw new ConfigError("build", choice, `"auto" or one of ${BUILD_FALLBACK_ORDER.map((b) => `"${b}"`).join(", ")}`);
  if (choice !== "auto") {
    const why = buildUnavailable(bins, choice);
    if (why !== undefined) throw new ConfigError("build", choice, "a build this runtime can run", why);
    return { build: choice, reason: "asked for" };
  }
  const skipped: string[] = [];
  for (const b of BUILD_FALLBACK_ORDER) {
    if (isThreadedBuild(b) && options.threads === false) continue;
    const why = buildUnavailable(bins, b);
    if (why === undefined) return { build: b, reason: skipped.length ? skipped.join("; ") : "the fastest build" };
    skipped.push(`${b}: ${why}`);
  }
  throw new ConfigError("build", choice, "a build this runtime can run (none of the given bytes validate)", skipped.join("; "));
}

/** Compile the build pickBuild chooses. */
export async function compileAnyCore(bins: WasmAllBinaries, choice: WasmAnyBuild | "auto" = "auto", options: { threads?: boolean } = {}): Promise<CompiledAnyCore & { reason: string }> {
  const { build, reason } = pickBuild(bins, choice, options);
  const isa = buildIsa(build);
  const module = await WebAssembly.compile(bins[build]!);
  return { module, build: isa, variant: build, threaded: isThreadedBuild(build), reason };
}
