// Shared set-up of the WASM tests: both builds (the relaxed one needs V8's flag on Node 20, which
// loadCoreNode sets before compiling), float64 references and sentinel-filled outputs.
import { readFileSync } from "node:fs";
import { buildDir, loadCoreNode } from "../../src/wasm/node.js";
import { type CompiledCore, type WasmBuild } from "../../src/wasm/loader.js";
import { WasmKernels } from "../../src/wasm/kernels.js";

export const BUILDS: WasmBuild[] = ["simd128", "relaxed"];

/**
 * The kernel tests also run on build/mla-simd128-assert.wasm: the simd128 build compiled without
 * noAssert (asconfig.json target "assert"), whose kernels trap on a failed assert (a block id
 * outside the pool, ...), so a kernel that reads out of bounds fails a test.
 */
export type KernelBuild = WasmBuild | "simd128-assert";
export const KERNEL_BUILDS: KernelBuild[] = ["simd128", "relaxed", "simd128-assert"];

const cores = new Map<KernelBuild, CompiledCore>();

export async function core(build: KernelBuild): Promise<CompiledCore> {
  let c = cores.get(build);
  if (!c) {
    c = build === "simd128-assert"
      ? { module: new WebAssembly.Module(readFileSync(`${buildDir()}/mla-simd128-assert.wasm`)), build: "simd128" }
      : await loadCoreNode(build);
    cores.set(build, c);
  }
  return c;
}

/** A fresh instance (own memory) of one build. */
export async function kernels(build: KernelBuild): Promise<WasmKernels> {
  return WasmKernels.createSync(await core(build));
}

/** Written outputs never hold this; unwritten ones keep it. */
export const SENTINEL = Number.NaN;

/** Seeded N(0,1) float32 data (mulberry32 + Box-Muller, as src/weights.ts Rng). */
export { Rng } from "../../src/weights.js";

/** Index and values of the first element of `got` outside ref +- bound[i] (or -1). */
export function firstOutside(got: ArrayLike<number>, ref: ArrayLike<number>, bound: ArrayLike<number> | number): number {
  if (got.length !== ref.length) return 0;
  for (let i = 0; i < got.length; i++) {
    const b = typeof bound === "number" ? bound : bound[i];
    if (!(Math.abs(got[i] - ref[i]) <= b)) return i;
  }
  return -1;
}

export function describe_(got: ArrayLike<number>, ref: ArrayLike<number>, bound: ArrayLike<number> | number, i: number): string {
  return `element ${i}: got ${got[i]}, want ${ref[i]} +- ${typeof bound === "number" ? bound : bound[i]}`;
}
