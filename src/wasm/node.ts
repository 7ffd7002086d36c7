// Node-only loading of the WASM core: reads build/mla-*.wasm from the package root and turns on
// relaxed-simd on Node 20 (V8 11.3 rejects its opcodes without --experimental-wasm-relaxed-simd;
// NODE_OPTIONS refuses that flag, v8.setFlagsFromString before compiling works: TOOLCHAIN.md).

import { FormatError } from "../errors.js";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { type WasmBackend, type WasmBackendOptions, wasmBackendFromCore } from "./backend.js";
import { type CompiledCore, type WasmBinaries, type WasmBuildChoice, compileCore } from "./loader.js";

let flagSet = false;

/** Allow relaxed-simd in this process (idempotent; a no-op where it is already on). */
export function enableRelaxedSimd(): void {
  if (flagSet) return;
  setFlagsFromString("--experimental-wasm-relaxed-simd");
  flagSet = true;
}

/** The package root: walk up from this file (src/wasm under vitest, dist/wasm from the CLI) to mlakit's package.json. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, "package.json");
    if (existsSync(pj)) {
      try {
        if (JSON.parse(readFileSync(pj, "utf8")).name === "mlakit") return dir;
      } catch {
        // not ours; keep walking
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error("mlakit package root not found above " + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export function buildDir(): string {
  return join(packageRoot(), "build");
}

/** Bytes of both builds. Throws a FormatError with a hint when `npm run build` has not run. */
export function readBinaries(): WasmBinaries {
  const dir = buildDir();
  const read = (name: string): Uint8Array<ArrayBuffer> => {
    const p = join(dir, name);
    if (!existsSync(p)) throw new FormatError("build", p, "the compiled WASM core: run `npm run build` (builds the AssemblyScript core)", "file missing");
    return new Uint8Array(readFileSync(p));
  };
  return { simd128: read("mla-simd128.wasm"), relaxed: read("mla-relaxed.wasm") };
}

const cache = new Map<string, Promise<CompiledCore>>();

/** Compile the core once per choice; "auto" picks relaxed when the runtime takes it. */
export function loadCoreNode(choice: WasmBuildChoice = "auto"): Promise<CompiledCore> {
  if (choice !== "simd128") enableRelaxedSimd();
  let p = cache.get(choice);
  if (!p) {
    p = compileCore(readBinaries(), choice);
    cache.set(choice, p);
    p.catch(() => cache.delete(choice));
  }
  return p;
}

/** The "wasm" backend in Node: reads build/, picks relaxed when available unless told otherwise. */
export async function createWasmBackend(options: { build?: WasmBuildChoice } & WasmBackendOptions = {}): Promise<WasmBackend> {
  return wasmBackendFromCore(await loadCoreNode(options.build ?? "auto"), options);
}
