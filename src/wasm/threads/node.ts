// Node defaults of the thread pool: worker_threads running ./protocol.ts's worker program, the
// package's threaded builds read from build/ (relaxed-threads where the runtime validates it, after
// src/wasm/node.ts has set V8's relaxed-simd flag on Node 20), and the machine's thread count.

import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { ConfigError } from "../../errors.js";
import { type CompiledAnyCore, type WasmAllBinaries, type WasmThreadedBuild, WASM_FILES, WASM_THREADED_FILES, buildUnavailable, compileAnyCore } from "../loader.js";
import { buildDir, enableRelaxedSimd } from "../node.js";
import type { Spawner } from "./pool.js";
import { workerSource } from "./protocol.js";

/** worker_threads workers (unref'd: an idle pool does not keep the process alive; terminate() ends them). */
export function nodeSpawner(): Spawner {
  const src = workerSource("node");
  return (start) => {
    const w = new Worker(src, { eval: true, workerData: start });
    w.unref();
    return {
      onMessage: (cb) => void w.on("message", cb),
      onFailure: (cb) => {
        w.on("error", (e) => cb(e.message));
        w.on("exit", (code) => cb(`exited with code ${code}`));
      },
      terminate: () => w.terminate(),
    };
  };
}

/** The bytes of every build found in `dir` (default: the package's build/). */
export function readAllBinaries(dir: string = buildDir()): WasmAllBinaries {
  const read = (name: string) => {
    const p = join(dir, name);
    return existsSync(p) ? new Uint8Array(readFileSync(p)) : undefined;
  };
  const out: WasmAllBinaries = { simd128: read(WASM_FILES.simd128)! };
  const relaxed = read(WASM_FILES.relaxed);
  if (relaxed) out.relaxed = relaxed;
  for (const b of Object.keys(WASM_THREADED_FILES) as WasmThreadedBuild[]) {
    const bytes = read(WASM_THREADED_FILES[b]);
    if (bytes) out[b] = bytes;
  }
  return out;
}

/** Compile a threaded build from the package's files: "auto" is relaxed-threads where it validates, else simd128-threads (a ConfigError naming both reasons when neither can run). */
export async function loadThreadedCoreNode(build: WasmThreadedBuild | "auto" = "auto", binaries?: WasmAllBinaries): Promise<CompiledAnyCore & { reason: string }> {
  if (build !== "simd128-threads") enableRelaxedSimd();
  const bins = binaries ?? readAllBinaries();
  if (build !== "auto") return compileAnyCore(bins, build);
  const whyRelaxed = buildUnavailable(bins, "relaxed-threads");
  if (whyRelaxed === undefined) return compileAnyCore(bins, "relaxed-threads");
  const whySimd = buildUnavailable(bins, "simd128-threads");
  if (whySimd !== undefined) throw new ConfigError("build", build, "a threaded build this runtime can run", `relaxed-threads: ${whyRelaxed}; simd128-threads: ${whySimd}`);
  const c = await compileAnyCore(bins, "simd128-threads");
  return { ...c, reason: `relaxed-threads: ${whyRelaxed}` };
}

/** Threads this process may use (os.availableParallelism). */
export function availableThreads(): number {
  return availableParallelism();
}
