// Edge runtimes. Cloudflare Workers and workerd compile a Worker's .wasm files at upload
// and refuse WebAssembly.compile on bytes at run time ("Wasm code generation disallowed by
// embedder"), so they hand the core over as WebAssembly.Module objects; and they cap an isolate's
// memory (Cloudflare's Workers limits: 128 MB per isolate), which the wasm backend turns into a
// typed CacheError instead of a killed isolate.

import { ConfigError } from "../errors.js";
import type { CompiledCore, WasmBuildChoice } from "./loader.js";

/** Cloudflare Workers' memory per isolate (JS heap and WASM memories together), taken as 128 MiB. */
export const WORKERS_MEMORY_LIMIT_BYTES = 128 * 2 ** 20;

/** True inside Cloudflare Workers and workerd (their documented navigator.userAgent). */
export function isCloudflareWorkers(): boolean {
  return typeof navigator !== "undefined" && (navigator as { userAgent?: string }).userAgent === "Cloudflare-Workers";
}

/** The memory cap this runtime imposes on the wasm backend's layers by default, if any. */
export function defaultMemoryLimit(): { bytes: number; source: string } | undefined {
  if (isCloudflareWorkers()) return { bytes: WORKERS_MEMORY_LIMIT_BYTES, source: "the Cloudflare Workers isolate limit, 128 MiB" };
  return undefined;
}

/** The two builds as modules the runtime already compiled (a Worker's `import m from "./mla-relaxed.wasm"`). */
export interface WasmModules {
  simd128: WebAssembly.Module;
  relaxed?: WebAssembly.Module;
}

/**
 * Pick a build among precompiled modules. A relaxed module exists only if the runtime compiled
 * it, so "auto" takes it when given; asking for one that was not given is a ConfigError.
 */
export function coreFromModules(mods: WasmModules, choice: WasmBuildChoice = "auto"): CompiledCore {
  if (choice !== "auto" && choice !== "simd128" && choice !== "relaxed") throw new ConfigError("build", choice, '"simd128", "relaxed" or "auto"');
  const isModule = (m: unknown): m is WebAssembly.Module => m instanceof WebAssembly.Module;
  if (!isModule(mods?.simd128)) throw new ConfigError("modules.simd128", mods?.simd128, "a WebAssembly.Module of build/mla-simd128.wasm");
  if (mods.relaxed !== undefined && !isModule(mods.relaxed)) throw new ConfigError("modules.relaxed", mods.relaxed, "a WebAssembly.Module of build/mla-relaxed.wasm, or absent");
  if (choice === "relaxed" && !mods.relaxed) throw new ConfigError("build", choice, "a build among the modules given (no relaxed module: the runtime may not support relaxed SIMD)");
  const build = choice === "simd128" || !mods.relaxed ? "simd128" : "relaxed";
  return { module: build === "relaxed" ? mods.relaxed! : mods.simd128, build };
}
