// Node-only loading of the WASM core (the `mlakit/wasm-node` entry): reads build/mla-*.wasm and
// turns on relaxed-simd on Node 20 (V8 11.3 rejects its opcodes without
// --experimental-wasm-relaxed-simd; NODE_OPTIONS refuses that flag, v8.setFlagsFromString before
// compiling works). Nothing happens at import time: the flag is set by the first load.
//
// Where the files are, first found wins: options.binaries (the bytes), options.wasmPaths (a
// directory, or one path per build), the package's build/ relative to this module (loader.ts
// defaultWasmUrl: dist/wasm/ and src/wasm/ both sit two levels below the package root; a bundler
// that handles `new URL(..., import.meta.url)` copies the files), and, when a bundler moved this
// code without the files (vite build --ssr), Node's own resolution of `mlakit/build/<file>` from
// where the code runs. Never a walk up the directory tree.

import { ConfigError, FormatError } from "../errors.js";
import { existsSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { availableParallelism } from "node:os";
import { setFlagsFromString } from "node:v8";
import { nodeSpawner } from "./threads/node.js";
import { runsOnNode, webSpawner } from "./threads/pool.js";
import { type WasmBackend, type WasmBackendOptions, type WasmThreadsOptions, tuning, wasmBackendFromCore } from "./backend.js";
import { type CompiledAnyCore, type CompiledCore, type WasmAllBinaries, type WasmAnyBuild, type WasmBinaries, type WasmBuild, type WasmBuildChoice, type WasmPaths, type WasmThreadedBuild, compileCore, compileThreadedBytes, wasmFileName, wasmUrl } from "./loader.js";
import { type ThreadingHost, resolveThreading } from "./threads/threading.js";

let flagSet = false;

/** Allow relaxed-simd in this process (idempotent; a no-op where it is already on). */
export function enableRelaxedSimd(): void {
  if (flagSet) return;
  setFlagsFromString("--experimental-wasm-relaxed-simd");
  flagSet = true;
}

/** Where the .wasm files come from: their bytes, or where they are (a directory or one path / file: URL per build). */
export interface WasmSource {
  /** The builds' bytes (the threaded ones too, for threads). */
  binaries?: WasmAllBinaries;
  wasmPaths?: WasmPaths;
}

const toPath = (p: string | URL): string => (p instanceof URL || p.startsWith("file:") ? fileURLToPath(p) : p);

/** The package's own file for a build: next to this module, else through Node's resolution of the package export. */
function packagedFile(build: WasmAnyBuild): string | undefined {
  const candidates: Array<() => string> = [
    () => fileURLToPath(wasmUrl(build)!),
    () => fileURLToPath(import.meta.resolve(`mlakit/build/${wasmFileName(build)}`)),
  ];
  for (const candidate of candidates) {
    try {
      const file = candidate();
      if (existsSync(file)) return file;
    } catch {
      // import.meta.url or import.meta.resolve unusable here (a bundle in another format): next
    }
  }
  return undefined;
}

/** The file of `build` (undefined: wasmPaths names none for it). */
function wasmFile(build: WasmAnyBuild, paths?: WasmPaths): string | undefined {
  if (paths === undefined) {
    const file = packagedFile(build);
    if (file) return file;
    throw new FormatError(
      "wasmPaths",
      fileURLToPath(wasmUrl(build)!),
      `the package's ${wasmFileName(build)}: not next to mlakit's module, nor resolvable as mlakit/build/${wasmFileName(build)} from here. ` +
        "Pass createWasmBackend({ wasmPaths: DIR }) (a directory holding mla-simd128.wasm and mla-relaxed.wasm, e.g. copied from node_modules/mlakit/build/ beside a bundle) or { binaries } (their bytes); in a clone of the repository, `npm run build` makes them",
      "file missing",
    );
  }
  const p = wasmUrl(build, paths);
  return p === undefined ? undefined : toPath(p);
}

/** The directory holding the package's default .wasm files (as found by the rules above). */
export function buildDir(): string {
  return dirname(wasmFile("simd128")!);
}

/** The package directory those files are in (its build/'s parent). */
export function packageRoot(): string {
  return dirname(buildDir());
}

/** Bytes of both builds (relaxed absent when wasmPaths names no file for it). FormatError when a file is missing. */
export function readBinaries(wasmPaths?: WasmPaths): WasmBinaries {
  const read = (build: WasmBuild): Uint8Array<ArrayBuffer> | undefined => {
    const p = wasmFile(build, wasmPaths);
    if (p === undefined) return undefined;
    if (!existsSync(p)) throw new FormatError("wasmPaths", p, `the compiled WASM core ${wasmFileName(build)} (wasmPaths: a directory holding it)`, "file missing");
    return new Uint8Array(readFileSync(p));
  };
  const simd128 = read("simd128");
  if (!simd128) throw new FormatError("wasmPaths.simd128", undefined, "the path of mla-simd128.wasm (every runtime needs it)");
  const relaxed = read("relaxed");
  return relaxed ? { simd128, relaxed } : { simd128 };
}

const cache = new Map<string, Promise<CompiledCore>>();

/** Compile the core ("auto" picks relaxed when the runtime takes it); from the package's files once per choice. */
export function loadCoreNode(choice: WasmBuildChoice = "auto", source: WasmSource = {}): Promise<CompiledCore> {
  if (choice !== "simd128") enableRelaxedSimd();
  if (source.binaries || source.wasmPaths !== undefined) return compileCore(source.binaries ?? readBinaries(source.wasmPaths), choice);
  let p = cache.get(choice);
  if (!p) {
    p = compileCore(readBinaries(), choice);
    cache.set(choice, p);
    p.catch(() => cache.delete(choice));
  }
  return p;
}

/** Options of createWasmBackend in Node: which build, where the files are (or their bytes), threads, and the backend-wide options. */
export interface NodeWasmOptions extends WasmBackendOptions, WasmThreadsOptions, WasmSource {
  /** "auto" (default): relaxed (FMA) when the runtime takes it after the flag, else simd128. */
  build?: WasmBuildChoice;
}

/**
 * The "wasm" backend in Node: reads the package's build/ (or options.wasmPaths / options.binaries),
 * relaxed when available unless told otherwise; with `threads`, worker_threads on the threaded
 * build of the same ISA (from the same place as the others).
 */
export async function createWasmBackend(options: NodeWasmOptions = {}): Promise<WasmBackend> {
  const { build = "auto", binaries, wasmPaths, threads, threadMinWork, ...backendOptions } = options;
  const core = await loadCoreNode(build, { binaries, wasmPaths });
  return wasmBackendFromCore(core, backendOptions, await resolveThreading(threads, core.build, () => nodeThreadingHost({ binaries, wasmPaths }), tuning(threadMinWork)));
}

/** Node's threads: worker_threads (Web Workers where the runtime has them: Deno, Bun), the machine's cores, the threaded build from `source` like the others. */
function nodeThreadingHost(source: WasmSource): ThreadingHost {
  return {
    cores: availableParallelism(),
    spawner: runsOnNode() ? nodeSpawner() : webSpawner(),
    loadThreaded: (v) => loadThreadedNode(v, source),
  };
}

/** Compile threaded build `v` from `source` (binaries, wasmPaths, else the package's build/). */
export async function loadThreadedNode(v: WasmThreadedBuild, source: WasmSource = {}): Promise<CompiledAnyCore> {
  if (v === "relaxed-threads") enableRelaxedSimd();
  let bytes: BufferSource | undefined;
  if (source.binaries) bytes = source.binaries[v];
  else {
    const p = wasmFile(v, source.wasmPaths);
    if (p !== undefined && existsSync(p)) bytes = new Uint8Array(readFileSync(p));
  }
  if (bytes === undefined) throw new ConfigError(source.binaries ? `binaries["${v}"]` : "wasmPaths", undefined, `the bytes of ${wasmFileName(v)} (threads run on the threaded build of the chosen ISA)`);
  return compileThreadedBytes(bytes, v);
}
