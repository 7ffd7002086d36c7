// The "wasm" Backend (src/backend.ts): float32 MLA layers on the WASM core, each layer with its
// own module instance and linear memory. Browser-safe; Node's file loading is in ./node.ts.

import type { Backend, MlaLayerPath } from "../backend.js";
import type { MlaConfig } from "../config.js";
import type { MlaWeights } from "../weights.js";
import { WasmKernels } from "./kernels.js";
import { type CompiledCore, type WasmBinaries, type WasmBuild, type WasmBuildChoice, compileCore } from "./loader.js";
import { WasmMla, type WasmMlaOptions } from "./mla-layer.js";

export interface WasmBackend extends Backend {
  readonly name: "wasm";
  readonly precision: "float32";
  /** The build in use: "relaxed" (FMA) when the runtime validates it, else "simd128". */
  readonly build: WasmBuild;
  createMla(config: MlaConfig, weights: MlaWeights, options: { path: MlaLayerPath } & WasmMlaOptions): Promise<WasmMla>;
}

export function wasmBackendFromCore(core: CompiledCore): WasmBackend {
  return {
    name: "wasm",
    precision: "float32",
    build: core.build,
    async createMla(config, weights, options) {
      return new WasmMla(config, weights, await WasmKernels.create(core), options);
    },
  };
}

/** From the bytes of the two builds (browsers: fetch build/mla-*.wasm). */
export async function createWasmBackendFromBytes(bins: WasmBinaries, build: WasmBuildChoice = "auto"): Promise<WasmBackend> {
  return wasmBackendFromCore(await compileCore(bins, build));
}
