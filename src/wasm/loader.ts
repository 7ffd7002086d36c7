// Loads the WASM core from bytes: works in Node and in browsers (no fs/path/v8 here; Node's file
// reading and the relaxed-simd flag live in ./node.ts). Two builds come from one source
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
  if (choice !== "auto" && choice !== "simd128" && choice !== "relaxed") {
    throw new ConfigError("build", choice, '"simd128", "relaxed" or "auto"');
  }
  if (choice === "simd128") return "simd128";
  const relaxedOk = bins.relaxed !== undefined && WebAssembly.validate(bins.relaxed);
  if (choice === "relaxed" && !relaxedOk) {
    throw new ConfigError("build", choice, "a build this runtime validates (relaxed-simd did not; Node 20 needs --experimental-wasm-relaxed-simd, see src/wasm/node.ts)");
  }
  return relaxedOk ? "relaxed" : "simd128";
}

export async function compileCore(bins: WasmBinaries, choice: WasmBuildChoice = "auto"): Promise<CompiledCore> {
  const build = chooseBuild(bins, choice);
  const bytes = build === "relaxed" ? bins.relaxed! : bins.simd128;
  if (!WebAssembly.validate(bytes)) throw new ConfigError(`wasm.${build}`, "invalid module", "the bytes of build/mla-simd128.wasm (npm run build)");
  try {
    return { module: await WebAssembly.compile(bytes), build };
  } catch (e) {
    // Valid bytes that will not compile: the runtime forbids run-time code generation (issue 8).
    throw new ConfigError(`wasm.${build}`, "bytes", "WebAssembly.Module objects: this runtime refuses to compile WASM from bytes (Cloudflare Workers / workerd: import build/mla-*.wasm as modules and call createWasmBackendFromModules)", (e as Error).message);
  }
}
