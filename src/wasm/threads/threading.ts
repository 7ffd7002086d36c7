// How many threads a backend gets, and why: one rule for every runtime (Node, browsers, Deno,
// Bun, workerd). The runtime's entry (createWasmBackend in ./../backend.ts or ../node.ts) says how
// it starts workers and where its threaded build comes from; this file decides, and every "1"
// carries the reason a user reads in `backend.threads.reason`.

import { ConfigError } from "../../errors.js";
import { isCloudflareWorkers } from "../edge.js";
import { type CompiledAnyCore, type WasmBuild, type WasmThreadedBuild, sharedMemorySupport } from "../loader.js";
import { type Spawner, ThreadPool, type ThreadPoolOptions, runsOnNode, webSpawner } from "./pool.js";
import { MAX_WORKERS } from "./protocol.js";

/** What the backend got: the count, why, and (count > 1) a pool factory, one pool per layer. */
export interface WasmThreading {
  count: number;
  reason: string;
  createPool?: () => Promise<ThreadPool>;
}

/** The pool options a backend passes on to each layer's pool. */
export type PoolTuning = Pick<ThreadPoolOptions, "minWorkPerThread">;

/** The option every createWasmBackend takes. */
export type ThreadsOption = number | "auto" | undefined;

/** What a runtime offers for threads. */
export interface ThreadingHost {
  /** Cores the runtime reports (os.availableParallelism, navigator.hardwareConcurrency). */
  cores: number;
  /** How workers start here, or why they cannot. */
  spawner: Spawner | { none: string };
  /** Compile the threaded build of `variant` (throws, with its message as the reason, when it cannot load). */
  loadThreaded(variant: WasmThreadedBuild): Promise<CompiledAnyCore>;
}

/** Most threads a backend takes: the caller and up to 63 workers (the protocol has MAX_WORKERS slots). */
export const MAX_THREADS = Math.min(64, MAX_WORKERS + 1);

/** A ConfigError unless `threads` is undefined, "auto" or a whole number in 1..MAX_THREADS. */
export function checkThreadsOption(threads: unknown): asserts threads is ThreadsOption {
  if (threads === undefined || threads === "auto") return;
  if (!(typeof threads === "number" && Number.isInteger(threads) && threads >= 1 && threads <= MAX_THREADS)) {
    throw new ConfigError("threads", threads, `"auto" or a whole number of threads from 1 to ${MAX_THREADS}`);
  }
}

/** True on a browser window's main thread (a document and no worker scope): it may not block in Atomics.wait. */
export function onWindowMainThread(): boolean {
  const g = globalThis as { document?: unknown; WorkerGlobalScope?: unknown };
  return g.document !== undefined && g.WorkerGlobalScope === undefined;
}

const one = (reason: string): WasmThreading => ({ count: 1, reason: `1: ${reason}` });

/**
 * The rule, in the order a user can act on it: asked for 1 (or "auto" on one core); a window's
 * main thread; no shared memory (a page without cross-origin isolation); no way to start workers
 * (workerd); the threaded build of the backend's ISA does not load. Otherwise the count asked for
 * ("auto": the runtime's cores), on threaded build `isa`-threads.
 */
export async function resolveThreading(asked: ThreadsOption, isa: WasmBuild, host: () => ThreadingHost, pool: PoolTuning = {}): Promise<WasmThreading> {
  const pre = precheck(asked, host);
  if (!("want" in pre)) return pre;
  const variant = threadedVariant(isa);
  try {
    return granted(asked, pre, await pre.host.loadThreaded(variant), pool);
  } catch (e) {
    return notLoaded(variant, e);
  }
}

/** resolveThreading where the threaded build is already compiled (modules a runtime handed over): no await. */
export function resolveThreadingSync(asked: ThreadsOption, isa: WasmBuild, host: () => ThreadingHost, threadedModule: (v: WasmThreadedBuild) => CompiledAnyCore, pool: PoolTuning = {}): WasmThreading {
  const pre = precheck(asked, host);
  if (!("want" in pre)) return pre;
  const variant = threadedVariant(isa);
  try {
    return granted(asked, pre, threadedModule(variant), pool);
  } catch (e) {
    return notLoaded(variant, e);
  }
}

const threadedVariant = (isa: WasmBuild): WasmThreadedBuild => (isa === "relaxed" ? "relaxed-threads" : "simd128-threads");

const notLoaded = (variant: WasmThreadedBuild, e: unknown): WasmThreading => one(`the threaded build ${variant} does not load here (${e instanceof Error ? e.message : String(e)})`);

function precheck(asked: ThreadsOption, host: () => ThreadingHost): WasmThreading | { want: number; host: ThreadingHost; spawn: Spawner } {
  checkThreadsOption(asked);
  if (asked === undefined) return one("threads not asked for");
  const h = host();
  const cores = Math.max(1, Math.min(MAX_THREADS, Math.floor(h.cores) || 1));
  const want = asked === "auto" ? cores : asked;
  if (want === 1) return one(asked === "auto" ? "this runtime reports one core" : "asked for");
  if (onWindowMainThread()) return one("a browser window's main thread may not block in Atomics.wait (create the backend inside a Worker)");
  const shared = sharedMemorySupport();
  if (!shared.ok) return one(shared.reason);
  if ("none" in h.spawner) return one(h.spawner.none);
  return { want, host: h, spawn: h.spawner };
}

function granted(asked: ThreadsOption, pre: { want: number; spawn: Spawner }, core: CompiledAnyCore, pool: PoolTuning): WasmThreading {
  const { want, spawn } = pre;
  return { count: want, reason: `${want}: ${asked === "auto" ? "the runtime's cores" : "asked for"}, ${core.variant}`, createPool: () => ThreadPool.create({ threads: want, core, spawn, ...pool }) };
}

/** Browsers, Deno, Bun (and workerd, which has no Worker): Web Workers, navigator.hardwareConcurrency. */
export function webThreadingHost(loadThreaded: ThreadingHost["loadThreaded"]): ThreadingHost {
  const g = globalThis as { navigator?: { hardwareConcurrency?: number }; Worker?: unknown };
  // Node first: a global Worker there is worker_threads' (put there by some library), which cannot start a Blob URL
  // (workerd defines process.versions.node too: it is asked first)
  const spawner: ThreadingHost["spawner"] = isCloudflareWorkers()
    ? { none: "Cloudflare Workers / workerd start no threads (no Worker constructor)" }
    : runsOnNode()
      ? { none: 'Node has no Web Worker: use createWasmBackend from "mlakit/wasm-node" (worker_threads)' }
      : typeof g.Worker === "function"
        ? webSpawner()
        : { none: "this runtime has no Worker constructor to start threads with" };
  return { cores: g.navigator?.hardwareConcurrency ?? 1, spawner, loadThreaded };
}
