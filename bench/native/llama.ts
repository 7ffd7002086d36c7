// llama.cpp through node-llama-cpp, loaded from bench/native/node_modules (installed on demand by
// bench/native/install.mjs, never a dependency of the project). The calls the bench makes are
// typed here, so the bench compiles without the package present.
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { rootPath } from "../lib/env.js";

export interface NativeSequence {
  readonly nextTokenIndex: number;
  evaluateWithoutGeneratingNewTokens(tokens: number[]): Promise<void>;
  controlledEvaluate(input: (number | [number, { generateNext: { probabilities: true; options: Record<string, number> } }])[]): Promise<({ next: { probabilities?: Map<number, number> } } | undefined)[]>;
  eraseContextTokenRanges(ranges: { start: number; end: number }[]): Promise<void>;
  saveStateToFile(path: string): Promise<{ fileSize: number }>;
  loadStateFromFile(path: string, risk: { acceptRisk: true }): Promise<void>;
}
export interface NativeContext {
  getSequence(): NativeSequence;
  dispose(): Promise<void>;
}
export interface NativeContextOptions {
  contextSize: number;
  threads: number | { ideal: number; min: number };
  batchSize?: number;
  flashAttention: boolean;
  experimentalKvCacheKeyType?: "F16" | "F32";
  experimentalKvCacheValueType?: "F16" | "F32";
}
export interface NativeModel {
  createContext(o: NativeContextOptions): Promise<NativeContext>;
  dispose(): Promise<void>;
}
interface Llama {
  readonly systemInfo: string;
  readonly llamaCppRelease: { repo: string; release: string };
  readonly buildType: string;
  loadModel(o: { modelPath: string }): Promise<NativeModel>;
  dispose(): Promise<void>;
}

export interface NativePeer {
  /** node-llama-cpp's version, llama.cpp's release it bundles, and the CPU backend variant it loaded. */
  nodeLlamaCpp: string;
  llamaCpp: string;
  cpuBackend: string;
  systemInfo: string;
  loadModel(path: string): Promise<NativeModel>;
  /** llama.cpp's own report of the last context's KV cache: bytes per cell per layer, and the element type of K. */
  lastKvCache(): { bytesPerTokenLayer: number; kType: string } | null;
  dispose(): Promise<void>;
}

const PKG = rootPath("bench", "native", "node_modules", "node-llama-cpp");

export function nativePeerInstalled(): boolean {
  return existsSync(`${PKG}/package.json`);
}

/** Loads node-llama-cpp's prebuilt CPU binaries (build "never": nothing is compiled here). */
export async function loadNativePeer(): Promise<NativePeer> {
  if (!nativePeerInstalled()) throw new Error("bench:native: node-llama-cpp is not installed in bench/native (run `npm run bench:native`, which installs it)");
  const { createRequire } = await import("node:module");
  const version = (createRequire(import.meta.url)(`${PKG}/package.json`) as { version: string }).version;
  const nlc = (await import(pathToFileURL(`${PKG}/dist/index.js`).href)) as { getLlama(o: object): Promise<Llama> };
  let backend = "?";
  let kv: { bytesPerTokenLayer: number; kType: string } | null = null;
  const logger = (level: string, message: string) => {
    const b = /loaded CPU backend from (\S+)/.exec(message);
    if (b) backend = b[1].split("/").pop()!;
    // "llama_kv_cache: size = 18.00 MiB ( 16384 cells, 1 layers, 1/1 seqs), K (f16): 18.00 MiB, V (f16): 0.00 MiB"
    const k = /llama_kv_cache: size =\s*([\d.]+) MiB \(\s*(\d+) cells,\s*(\d+) layers.*K \((\w+)\)/.exec(message);
    if (k) kv = { bytesPerTokenLayer: (Number(k[1]) * 2 ** 20) / Number(k[2]) / Number(k[3]), kType: k[4] };
    if (level === "error" || level === "fatal") console.error(`[llama.cpp] ${message.trim()}`);
  };
  // "log" level: the CPU backend variant llama.cpp picked is reported there; the KV cache size at "info".
  const llama = await nlc.getLlama({ gpu: false, build: "never", logLevel: "log", logger, maxThreads: 0 });
  return {
    nodeLlamaCpp: version,
    llamaCpp: llama.llamaCppRelease.release,
    get cpuBackend() {
      return backend;
    },
    systemInfo: llama.systemInfo.trim(),
    loadModel: (path) => llama.loadModel({ modelPath: path }),
    lastKvCache: () => kv,
    dispose: () => llama.dispose(),
  };
}
