// The "wasm" Backend (src/backend.ts): float32 MLA layers on the WASM core, each layer with its
// own module instance and linear memory. Browser-safe; Node's file loading is in ./node.ts.
//
// Three ways in: createWasmBackend fetches the package's own .wasm files by default (or from
// wasmPaths), createWasmBackendFromBytes takes their bytes, createWasmBackendFromModules takes
// modules the runtime compiled (Cloudflare Workers).

import type { Backend, MlaLayerPath } from "../backend.js";
import { ConfigError } from "../errors.js";
import type { MlaConfig } from "../config.js";
import type { MlaWeights } from "../weights.js";
import { type MlaWeightsInput, type WeightFormat, checkWeightFormat } from "../weight-formats.js";
import { WasmKernels } from "./kernels.js";
import { type CompiledAnyCore, type CompiledCore, type WasmAllBinaries, type WasmBuild, type WasmBuildChoice, type WasmPaths, type WasmThreadedBuild, compileAnyCore, compileCore, fetchCore, fetchThreadedCore, wasmFileName } from "./loader.js";
import { type PoolTuning, type ThreadsOption, type WasmThreading, resolveThreading, resolveThreadingSync, webThreadingHost } from "./threads/threading.js";
import { WasmMla, type WasmMlaOptions, type WasmMlaPath } from "./mla-layer.js";
import { WasmMha, WasmSeedLowRank, type WasmBaselineOptions } from "./baseline-layers.js";
import { WasmDsa, type WasmDsaOptions } from "./dsa-layer.js";
import type { DsaWeights } from "../io/dsa-weights.js";
import type { MhaConfig, MhaWeights, SeedLowRankConfig, SeedLowRankWeights } from "../baseline-configs.js";
import type { MemoryBudget } from "./arena.js";
import { type WasmModules, coreFromModules, defaultMemoryLimit } from "./edge.js";
import { type StorageFormat, checkStorageFormat } from "../cache/layout.js";

export interface WasmBackend extends Backend {
  readonly name: "wasm";
  readonly precision: "float32";
  /** The build in use: "relaxed" (FMA) when the runtime validates it, else "simd128". */
  readonly build: WasmBuild;
  /** path "naive" | "absorbed" (the conformance kit's two), or "recompute" (latents cached, K/V decompressed again every step). */
  /** weights may carry quantised projections (QuantisedWeight: an FP8 checkpoint's codes and scales as they are). */
  createMla(config: MlaConfig, weights: MlaWeights | MlaWeightsInput, options: { path: MlaLayerPath | WasmMlaPath } & WasmMlaOptions): Promise<WasmMla>;
  /** MHA / GQA / MQA (by n_kv_heads) with a float32 K/V cache: the "standard attention" MLA is compared with. */
  createMha(config: MhaConfig, weights: MhaWeights, options?: WasmBaselineOptions): Promise<WasmMha>;
  /** The seed text's per-head low-rank scheme (r latents per kv head for K and for V, decompressed every step). */
  createSeedLowRank(config: SeedLowRankConfig, weights: SeedLowRankWeights, options?: WasmBaselineOptions): Promise<WasmSeedLowRank>;
  /** DeepSeek-V3.2's attention (MLA + the lightning indexer's sparse selection), its latent and index keys in fp8_e4m3_v32 blocks. */
  createDsa(config: MlaConfig, weights: DsaWeights, options?: WasmDsaOptions): Promise<WasmDsa>;
  /** Cap on the linear memory of all this backend's live layers together (undefined: none). */
  readonly memoryLimitBytes: number | undefined;
  /** Threads the absorbed and naive MLA layers run on, and why that many (e.g. "1: threads not asked for"). */
  readonly threads: { count: number; reason: string };
}

export type { WasmThreading } from "./threads/threading.js";

/** Backend-wide options. */
export interface WasmBackendOptions {
  /**
   * Cap on the linear memory (weights, caches, workspaces) of all live layers together: an
   * allocation past it throws CacheError and the call changes nothing. Default: the runtime's own
   * limit where mlakit knows one (Cloudflare Workers: 128 MiB per isolate, src/wasm/edge.ts), else none.
   * A layer counts from its creation until dispose() (not until garbage collection); JS-side
   * memory (the caller's weight arrays) is not counted.
   */
  memoryLimitBytes?: number;
  /** Default latent cache format of absorbed layers (a layer's own cacheFormat wins; naive layers have none). Default "f32". */
  cacheFormat?: StorageFormat;
  /**
   * Default format of absorbed and naive layers' projections ("f32", "bf16", "int8", "fp8"; a
   * layer's own weightFormat wins). Default: the format of the quantised weights a layer is given, else "f32".
   */
  weightFormat?: WeightFormat;
}

export function wasmBackendFromCore(core: CompiledCore, options: WasmBackendOptions = {}, threading: WasmThreading = { count: 1, reason: "1: threads not asked for" }): WasmBackend {
  const budget = memoryBudget(options.memoryLimitBytes);
  if (options.cacheFormat !== undefined) checkStorageFormat(options.cacheFormat, "cacheFormat");
  if (options.weightFormat !== undefined) checkWeightFormat(options.weightFormat, "weightFormat");
  return {
    name: "wasm",
    precision: "float32",
    build: core.build,
    memoryLimitBytes: budget?.limitBytes,
    threads: { count: threading.count, reason: threading.reason },
    async createMla(config, weights, layerOptions) {
      const cacheFormat = layerOptions.path !== "naive" ? layerOptions.cacheFormat ?? options.cacheFormat : layerOptions.cacheFormat;
      const weightFormat = layerOptions.weightFormat ?? (layerOptions.path !== "recompute" ? options.weightFormat : undefined);
      if (layerOptions.path !== "recompute" && threading.count > 1 && threading.createPool) {
        // the layer lives in the pool's shared memory; dispose ends the pool's workers
        const pool = await threading.createPool();
        let layer: WasmMla;
        try {
          layer = withBudget(budget, pool.kernels, (kernels) => new WasmMla(config, weights, kernels, { ...layerOptions, cacheFormat, weightFormat, threadPool: pool }));
        } catch (e) {
          void pool.terminate();
          throw e;
        }
        const dispose = layer.dispose.bind(layer);
        layer.dispose = () => {
          dispose();
          void pool.terminate();
        };
        return layer;
      }
      return withBudget(budget, await WasmKernels.create(core), (kernels) => new WasmMla(config, weights, kernels, { ...layerOptions, cacheFormat, weightFormat }));
    },
    async createMha(config, weights, layerOptions = {}) {
      return withBudget(budget, await WasmKernels.create(core), (kernels) => new WasmMha(config, weights, kernels, layerOptions));
    },
    async createSeedLowRank(config, weights, layerOptions = {}) {
      return withBudget(budget, await WasmKernels.create(core), (kernels) => new WasmSeedLowRank(config, weights, kernels, layerOptions));
    },
    async createDsa(config, weights, layerOptions = {}) {
      return withBudget(budget, await WasmKernels.create(core), (kernels) => new WasmDsa(config, weights, kernels, layerOptions));
    },
  };
}

/** Build a layer on its own kernels, counting its memory against the budget from birth (weights upload included) to dispose. */
function withBudget<L extends { dispose(): void }>(budget: MemoryBudget | null, kernels: WasmKernels, make: (k: WasmKernels) => L): L {
  if (!budget) return make(kernels);
  kernels.arena.attachBudget(budget);
  let layer: L;
  try {
    layer = make(kernels);
  } catch (e) {
    kernels.arena.releaseBudget();
    throw e;
  }
  const dispose = layer.dispose.bind(layer);
  layer.dispose = () => {
    kernels.arena.releaseBudget();
    dispose();
  };
  return layer;
}

function memoryBudget(limit: number | undefined): MemoryBudget | null {
  if (limit === undefined) {
    const d = defaultMemoryLimit();
    return d ? { limitBytes: d.bytes, usedBytes: 0, source: d.source } : null;
  }
  if (!Number.isInteger(limit) || limit <= 0) throw new ConfigError("memoryLimitBytes", limit, "a positive integer number of bytes");
  return { limitBytes: limit, usedBytes: 0, source: "options.memoryLimitBytes" };
}

/** The thread option of every createWasmBackend. */
export interface WasmThreadsOptions {
  /**
   * Threads for absorbed and naive MLA layers (projections split over output panels, q-absorption
   * and W_UV over heads, attention over the cached keys, a prefill's tokens or the naive heads), on
   * the threaded build of the same ISA over a worker pool; default 1. "auto": the runtime's cores.
   * Where threads cannot run (a window's main thread, no cross-origin isolation, no Worker, no
   * threaded build), the backend runs on 1 and `backend.threads.reason` says why.
   */
  threads?: ThreadsOption;
  /**
   * The split rule's threshold: floats of work a thread must get before a call is split (default
   * MIN_WORK_PER_THREAD, measured on this machine; 0 splits every call as far as its structure
   * allows, as the tests do on small shapes).
   */
  threadMinWork?: number;
}

/**
 * From modules the runtime compiled itself (Cloudflare Workers / workerd: `import simd128 from
 * "./mla-simd128.wasm"`). Threads need the threaded module of the chosen ISA among `mods` and a
 * runtime that starts Workers (workerd starts none: it falls back to 1, saying so).
 */
export function createWasmBackendFromModules(mods: WasmModules, build: WasmBuildChoice = "auto", options: WasmBackendOptions & WasmThreadsOptions = {}): WasmBackend {
  const { threads, threadMinWork, ...backendOptions } = options;
  const core = coreFromModules(mods, build);
  const threaded = mods as WasmModules & Partial<Record<WasmThreadedBuild, WebAssembly.Module>>;
  const threadedModule = (v: WasmThreadedBuild): CompiledAnyCore => {
    const m = threaded[v];
    if (!(m instanceof WebAssembly.Module)) throw new ConfigError(`modules["${v}"]`, m, `a WebAssembly.Module of build/${wasmFileName(v)}`);
    return { module: m, build: core.build, variant: v, threaded: true };
  };
  // the spawner is asked for only when threads are: a backend without them starts nothing
  return wasmBackendFromCore(core, backendOptions, resolveThreadingSync(threads, core.build, () => webThreadingHost(async (v) => threadedModule(v)), threadedModule, tuning(threadMinWork)));
}

/** From the bytes of the builds (browsers: fetch build/mla-*.wasm); threads take the threaded build's bytes among `bins`. */
export async function createWasmBackendFromBytes(bins: WasmAllBinaries, build: WasmBuildChoice = "auto", options: WasmBackendOptions & WasmThreadsOptions = {}): Promise<WasmBackend> {
  const { threads, threadMinWork, ...backendOptions } = options;
  const core = await compileCore(bins, build);
  return wasmBackendFromCore(core, backendOptions, await resolveThreading(threads, core.build, () => webThreadingHost((v) => compileAnyCore(bins, v)), tuning(threadMinWork)));
}

/** Options of createWasmBackend: which build, where the .wasm files are, and the backend-wide options. */
export interface WasmLoadOptions extends WasmBackendOptions, WasmThreadsOptions {
  /** "auto" (default): relaxed where the runtime takes relaxed-SIMD, else simd128. */
  build?: WasmBuildChoice;
  /** Where mla-simd128.wasm / mla-relaxed.wasm are (a base, or one URL per build); default: the package's build/, found by the bundler through `new URL(..., import.meta.url)`. */
  wasmPaths?: WasmPaths;
}

/**
 * The "wasm" backend, loading only the build it picks with fetch (and WebAssembly.compileStreaming
 * where available): browsers (Vite and webpack 5 copy the files into the bundle; with other bundlers
 * copy them and set wasmPaths), Deno, Bun. In Node, which cannot fetch file: URLs, use
 * createWasmBackend from "mlakit/wasm-node".
 */
export async function createWasmBackend(options: WasmLoadOptions = {}): Promise<WasmBackend> {
  const { build = "auto", wasmPaths, threads, threadMinWork, ...backendOptions } = options;
  const core = await fetchCore(build, wasmPaths);
  return wasmBackendFromCore(core, backendOptions, await resolveThreading(threads, core.build, () => webThreadingHost((v) => fetchThreadedCore(v, wasmPaths)), tuning(threadMinWork)));
}

/** The pool options of WasmThreadsOptions (checked when a pool is made). */
export function tuning(threadMinWork: number | undefined): PoolTuning {
  return threadMinWork === undefined ? {} : { minWorkPerThread: threadMinWork };
}
