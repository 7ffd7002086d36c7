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
async function compileBytes(bytes: BufferSource, build: WasmBuild): Promise<WebAssembly.Module> {
  if (!WebAssembly.validate(bytes)) throw new ConfigError(`wasm.${build}`, "invalid module", `the bytes of ${WASM_FILES[build]} (something else was given or served: check wasmPaths; in a clone, npm run build)`);
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
export type WasmPaths = string | URL | { simd128?: string | URL; relaxed?: string | URL };

/** The URL of a build inside the package (two literal expressions, so bundlers can see both). */
export function defaultWasmUrl(build: WasmBuild): URL {
  return build === "relaxed" ? new URL("../../build/mla-relaxed.wasm", import.meta.url) : new URL("../../build/mla-simd128.wasm", import.meta.url);
}

/** Where `build` is under `paths` (undefined: an object that leaves it out); the default without `paths`. */
export function wasmUrl(build: WasmBuild, paths?: WasmPaths): string | URL | undefined {
  if (paths === undefined) return defaultWasmUrl(build);
  if (typeof paths === "string" || paths instanceof URL) {
    const base = String(paths);
    return base.endsWith("/") ? base + WASM_FILES[build] : `${base}/${WASM_FILES[build]}`;
  }
  if (typeof paths !== "object" || paths === null) throw new ConfigError("wasmPaths", paths, "a base URL or path (string or URL), or { simd128, relaxed } URLs");
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

async function compileUrl(url: string | URL, build: WasmBuild): Promise<WebAssembly.Module> {
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
  if (!res.ok) throw new ConfigError("wasmPaths", String(url), `the ${WASM_FILES[build]} file (set wasmPaths to where it is served)`, `HTTP ${res.status}`);
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
