// A pool of threads that run the threaded core's kernels on one shared WebAssembly.Memory.
//
// The calling thread is thread 0 and runs its own instance of the core (`pool.kernels`: the
// arena, the buffers and every check live there); threads 1 .. n-1 are workers, each with its own
// instance on the same memory. A step hands each thread one kernel call (an export and its
// arguments, produced by WasmKernels' checked host API) through the control block of
// ./protocol.ts: Atomics.notify wakes the workers, the caller runs its own call, then
// Atomics.wait until the last worker is done (or the step timeout passes). Nothing is posted per
// step. Memory grows only on the caller, between steps; the workers' instances see it at once.
//
// The caller blocks in Atomics.wait: fine in Node's main thread, in Deno and in any Worker; a
// browser window's main thread may not block, so there the pool must live in a Worker.
//
// Errors: a call that throws or traps in a worker fails the step with a ThreadError naming the
// thread and its message (the pool stays usable: every thread finished); a step that does not
// finish in stepTimeoutMs (a worker died or hangs) is a ThreadError and breaks the pool (every
// later call says so: terminate it and create a new one). A failed step writes no output the
// caller asked for: the combine runs only after every part succeeded.

import { ConfigError, ShapeError } from "../../errors.js";
import { BLOCK_TOKENS } from "../../cache/layout.js";
import { type CompiledAnyCore, THREADED_MAX_PAGES, createSharedMemory, threadedImports } from "../loader.js";
import { type F32Buf, type HeadWeights, type MlaDecodeKernelArgs, type PackedWeight, WasmKernels } from "../kernels.js";
import { ThreadError } from "./errors.js";
import { ARGS_BYTES, CTRL_BYTES, GO, MAX_ARGS, MAX_WORKERS, MSG_BYTES, MSG_LEN, PENDING, SLOTS, SLOT_INTS, SPIN_LOADS, STOP, WORKER_OPS, type WorkerOp, workerSource } from "./protocol.js";

/** What a worker is sent once, at start (structured-cloned: the module and the shared memory and control block are shared, not copied). */
export interface WorkerStart {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  ctrl: SharedArrayBuffer;
  index: number;
  ops: readonly string[];
}

/** One started worker, whatever the runtime's Worker is. */
export interface SpawnedWorker {
  /** Messages from the worker: { type: "ready" } once instantiated, { type: "error", message } if it could not. */
  onMessage(cb: (m: { type: string; message?: string }) => void): void;
  /** The worker failed outside a step's call, or exited. */
  onFailure(cb: (reason: string) => void): void;
  terminate(): Promise<unknown>;
}

/** Starts a worker running ./protocol.ts workerSource with `start`. */
export type Spawner = (start: WorkerStart) => SpawnedWorker;

/**
 * True in Node itself (not Deno or Bun, which also define process.versions.node): its threads are
 * worker_threads. A global `Worker` does not decide it: libraries (emscripten builds among them)
 * put worker_threads' Worker on globalThis in Node, and it cannot start a Blob URL.
 */
export function runsOnNode(): boolean {
  const v = (globalThis as { process?: { versions?: Record<string, string | undefined> } }).process?.versions;
  return typeof v?.node === "string" && v.deno === undefined && v.bun === undefined;
}

/** Web Workers (browsers, Deno): the worker program from a Blob URL, the start message posted once. */
export function webSpawner(): Spawner {
  let url: string | undefined;
  return (start) => {
    url ??= URL.createObjectURL(new Blob([workerSource("web")], { type: "text/javascript" }));
    const w = new Worker(url, { type: "module" }); // Deno has only module workers; browsers have both
    const msgs: ((m: { type: string; message?: string }) => void)[] = [];
    const fails: ((r: string) => void)[] = [];
    w.onmessage = (e: MessageEvent) => msgs.forEach((cb) => cb(e.data));
    w.onerror = (e: ErrorEvent) => fails.forEach((cb) => cb(e.message || "worker error"));
    w.postMessage(start);
    return {
      onMessage: (cb) => void msgs.push(cb),
      onFailure: (cb) => void fails.push(cb),
      terminate: async () => w.terminate(),
    };
  };
}

export interface ThreadPoolOptions {
  /** Threads in all, the caller included (1: no workers). Default: the runtime's hardware concurrency. */
  threads?: number;
  /** A threaded build (compileAnyCore / loadThreadedCoreNode). Default in Node: the package's, relaxed-threads where it validates. */
  core?: CompiledAnyCore;
  /** How workers start. Default: worker_threads in Node, Web Workers elsewhere. */
  spawn?: Spawner;
  /** The shared memory (default: a new one). */
  memory?: WebAssembly.Memory;
  /** Most 64 KiB pages the new shared memory may grow to (default THREADED_MAX_PAGES = 4 GiB of address space, reserved, not committed). */
  maximumMemoryPages?: number;
  /** A step that takes longer is a ThreadError and breaks the pool (default 60 s). */
  stepTimeoutMs?: number;
  /** Workers must be ready within this (default 30 s). */
  startTimeoutMs?: number;
  /** Work a thread must get before a call is split (MIN_WORK_PER_THREAD by default; 0: split every call as far as its structure allows). */
  minWorkPerThread?: number;
}

/**
 * The split rule: a call is cut into at most floor(work / MIN_WORK_PER_THREAD) parts, where work
 * counts the floats its kernel streams or multiplies (a GEMV: N K weights; attention: keys x heads
 * x (2C + dr); a head split: its heads' weights or K/V). Measured on this machine
 * (tools/threads/split-overhead.mjs): a step costs ~1 us while the workers spin between steps and
 * ~200 us when they have gone to sleep; one thread's GEMV takes 0.13-0.19 ns per weight float. So
 * 2^15 floats is 4-6 us of one thread's work, at least four times what a split costs back to
 * back. RMSNorm, RoPE and the small copies are never split.
 */
export const MIN_WORK_PER_THREAD = 1 << 15;

/** attnMlaDecode's arguments without the scratch: the pool owns one scratch per thread. */
export type MlaDecodeSplitArgs = Omit<MlaDecodeKernelArgs, "scratch">;

/**
 * Key ranges for split-KV over `keys` keys: at most `threads` parts, each a whole number of
 * 64-key blocks (the last may end inside its block), as equal as blocks allow, and at least
 * `minBlocksPerPart` blocks each (small contexts stay on fewer threads). keys 0: one empty part.
 */
export function splitKeyRanges(keys: number, threads: number, minBlocksPerPart = 1): { jBegin: number; jEnd: number }[] {
  const nb = Math.ceil(keys / BLOCK_TOKENS);
  const n = Math.max(1, Math.min(threads, Math.floor(nb / Math.max(1, minBlocksPerPart))));
  return Array.from({ length: n }, (_, i) => ({ jBegin: Math.floor((i * nb) / n) * BLOCK_TOKENS, jEnd: Math.min(keys, Math.floor(((i + 1) * nb) / n) * BLOCK_TOKENS) }));
}

/** Heads 0 .. H-1 in at most `threads` contiguous ranges, as equal as whole heads allow, at least `minHeads` heads each. */
export function splitHeadRanges(H: number, threads: number, minHeads = 1): { h0: number; h1: number }[] {
  const n = Math.max(1, Math.min(threads, Math.floor(H / Math.max(1, minHeads))));
  return Array.from({ length: n }, (_, i) => ({ h0: Math.floor((i * H) / n), h1: Math.floor(((i + 1) * H) / n) }));
}

/**
 * Query tokens 0 .. sq-1 in at most `threads` consecutive ranges of about equal work: a row at
 * token t sees `before` + t + 1 keys (causal; before = null: every row sees the same keys), at
 * least minRows tokens a range.
 */
export function splitRowRanges(sq: number, before: number | null, threads: number, minRows = 1): { t0: number; t1: number }[] {
  const n = Math.max(1, Math.min(threads, Math.floor(sq / Math.max(1, minRows))));
  const work = (t: number) => (before === null ? t : t * before + (t * (t + 1)) / 2); // rows 0 .. t-1
  const total = work(sq), cuts = [0];
  for (let i = 1; i < n; i++) {
    let t = cuts[i - 1] + 1;
    while (t < sq - (n - i) && work(t) < (i * total) / n) t++;
    cuts.push(t);
  }
  cuts.push(sq);
  return cuts.slice(0, -1).map((t0, i) => ({ t0, t1: cuts[i + 1] }));
}

const now = (): number => (typeof performance !== "undefined" ? performance.now() : Date.now());

export class ThreadPool {
  /** Threads of a step: the caller and threads - 1 workers. */
  readonly threads: number;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly u8: Uint8Array;
  private broken: string | null = null;
  /** The split rule's threshold (ThreadPoolOptions.minWorkPerThread). */
  readonly minWorkPerThread: number;
  private terminated = false;
  private ws: { parts: number; R: number; C: number; dr: number; oPart: F32Buf; lsePart: F32Buf; scratch: F32Buf } | null = null;
  /** One scratch slice per thread for head-split kernels, `perThread` floats each (grown, never shrunk). */
  private headWs: { perThread: number; buf: F32Buf } | null = null;

  private constructor(
    /** The caller's instance of the core on the shared memory: allocate the buffers of pool calls here. */
    readonly kernels: WasmKernels,
    readonly core: CompiledAnyCore,
    readonly memory: WebAssembly.Memory,
    ctrl: SharedArrayBuffer,
    private readonly workers: SpawnedWorker[],
    private readonly stepTimeoutMs: number,
    minWorkPerThread: number,
  ) {
    this.threads = workers.length + 1;
    this.minWorkPerThread = minWorkPerThread;
    this.i32 = new Int32Array(ctrl);
    this.f64 = new Float64Array(ctrl, ARGS_BYTES);
    this.u8 = new Uint8Array(ctrl, MSG_BYTES);
    workers.forEach((w, i) => w.onFailure((reason) => (this.broken ??= `thread ${i + 1} failed: ${reason}`)));
  }

  /** Start a pool: instantiate the core on a shared memory here and in threads - 1 workers, resolved once every worker is ready. */
  static async create(options: ThreadPoolOptions = {}): Promise<ThreadPool> {
    // Node (and runtimes with its built-ins: Deno 2 and Bun define process.versions.node) can read the
    // package's files; Web Workers wherever the runtime is not Node itself (Deno, Bun, browsers).
    const g0 = globalThis as { process?: { versions?: { node?: string } }; navigator?: { hardwareConcurrency?: number } };
    const nodeLike = typeof g0.process?.versions?.node === "string";
    const webWorkers = !runsOnNode();
    let { core, spawn, threads } = options;
    if (!core || !spawn || threads === undefined) {
      if (nodeLike) {
        const spec = "./node.js"; // Node defaults, imported only there (bundlers for the web do not follow it)
        const node = (await import(/* @vite-ignore */ spec)) as typeof import("./node.js");
        core ??= await node.loadThreadedCoreNode();
        spawn ??= webWorkers ? webSpawner() : node.nodeSpawner();
        threads ??= node.availableThreads();
      } else {
        if (!core) throw new ConfigError("core", undefined, "a threaded build compiled with compileAnyCore (outside Node the pool does not fetch it itself)");
        spawn ??= webSpawner();
        threads ??= g0.navigator?.hardwareConcurrency ?? 1;
      }
    }
    if (!(Number.isInteger(threads) && threads >= 1 && threads <= MAX_WORKERS + 1)) throw new ConfigError("threads", threads, `a whole number of threads in 1..${MAX_WORKERS + 1} (the caller included)`);
    const minWork = options.minWorkPerThread ?? MIN_WORK_PER_THREAD;
    if (!(Number.isFinite(minWork) && minWork >= 0)) throw new ConfigError("minWorkPerThread", minWork, "a number of floats >= 0");
    if (!core.threaded) throw new ConfigError("core", core.variant ?? core.build, "a threaded build (relaxed-threads or simd128-threads: the module must import a shared memory)");
    const g = globalThis as { document?: unknown; WorkerGlobalScope?: unknown };
    if (threads > 1 && g.document !== undefined && g.WorkerGlobalScope === undefined) {
      throw new ConfigError("threads", threads, "1 on a browser window's main thread (it may not block in Atomics.wait): create the pool inside a Worker");
    }
    const memory = options.memory ?? createSharedMemory(1, options.maximumMemoryPages ?? THREADED_MAX_PAGES);
    const kernels = WasmKernels.createSync(core, threadedImports(memory));
    const ctrl = new SharedArrayBuffer(CTRL_BYTES);
    const startTimeoutMs = options.startTimeoutMs ?? 30_000;
    const workers: SpawnedWorker[] = [];
    try {
      await Promise.all(Array.from({ length: threads - 1 }, (_, i) => {
        const w = spawn!({ module: core!.module, memory, ctrl, index: i, ops: WORKER_OPS });
        workers.push(w);
        return new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new ThreadError(`thread ${i + 1}`, "not ready", `a worker ready within ${startTimeoutMs} ms`)), startTimeoutMs);
          const fail = (msg: string) => {
            clearTimeout(timer);
            reject(new ThreadError(`thread ${i + 1}`, msg, "a worker that instantiates the core on the shared memory"));
          };
          w.onMessage((m) => {
            if (m.type === "ready") {
              clearTimeout(timer);
              resolve();
            } else if (m.type === "error") fail(m.message ?? "error");
          });
          w.onFailure(fail);
        });
      }));
    } catch (e) {
      await Promise.allSettled(workers.map((w) => w.terminate()));
      throw e;
    }
    return new ThreadPool(kernels, core, memory, ctrl, workers, options.stepTimeoutMs ?? 60_000, minWork);
  }

  /** Parts the split rule allows for `work` floats (1 .. threads). */
  partsFor(work: number): number {
    return this.minWorkPerThread === 0 ? this.threads : Math.max(1, Math.min(this.threads, Math.floor(work / this.minWorkPerThread)));
  }

  /** Why the pool cannot take calls (null: it can). */
  get unusable(): string | null {
    return this.terminated ? "terminated" : this.broken;
  }

  private usable(): void {
    if (this.terminated) throw new ThreadError("pool", "terminated", "a pool that is running (create a new one)");
    if (this.broken) throw new ThreadError("pool", "broken", "a working pool: terminate this one and create a new one", this.broken);
  }

  /**
   * One step: calls[0] on the caller, calls[i] on worker i (at most `threads` calls), every one
   * finished when this returns. The arguments must come from WasmKernels' checked host API.
   */
  run(calls: ReadonlyArray<readonly [WorkerOp, readonly number[]]>): void {
    this.usable();
    if (!(calls.length >= 1 && calls.length <= this.threads)) throw new ShapeError("calls.length", calls.length, `1..${this.threads} (one call per thread)`);
    const nW = this.workers.length, i32 = this.i32;
    const parallel = calls.length > 1;
    if (parallel) {
      for (let w = 0; w < nW; w++) {
        const slot = SLOTS + w * SLOT_INTS, c = calls[w + 1];
        i32[slot + 2] = 0;
        if (!c) {
          i32[slot] = 0;
          continue;
        }
        const op = WORKER_OPS.indexOf(c[0]);
        if (op < 0 || c[1].length > MAX_ARGS) throw new ShapeError(`calls[${w + 1}]`, c[0], `one of ${WORKER_OPS.join(", ")} with at most ${MAX_ARGS} arguments`);
        for (let k = 0; k < c[1].length; k++) this.f64[w * MAX_ARGS + k] = c[1][k];
        i32[slot] = op + 1;
        i32[slot + 1] = c[1].length;
      }
      Atomics.store(i32, PENDING, nW);
      Atomics.add(i32, GO, 1);
      Atomics.notify(i32, GO);
    }
    let local: unknown;
    try {
      const fn = (this.kernels.exports as unknown as Record<string, (...a: number[]) => void>)[calls[0][0]];
      fn(...calls[0][1]);
    } catch (e) {
      local = e;
    }
    if (parallel) this.waitWorkers();
    if (local !== undefined) throw new ThreadError("thread 0", (local as Error).message ?? String(local), "a kernel call that completes (it threw or trapped on the calling thread)");
    for (let w = 0; w < nW; w++) {
      if (i32[SLOTS + w * SLOT_INTS + 2] !== 0) throw new ThreadError(`thread ${w + 1}`, this.message(w), "a kernel call that completes (it threw or trapped in the worker)");
    }
  }

  private waitWorkers(): void {
    const i32 = this.i32;
    for (let s = 0; s < SPIN_LOADS && Atomics.load(i32, PENDING) !== 0; s++);
    if (Atomics.load(i32, PENDING) === 0) return;
    const deadline = now() + this.stepTimeoutMs;
    for (;;) {
      const p = Atomics.load(i32, PENDING);
      if (p === 0) return;
      const left = deadline - now();
      if (left <= 0) {
        this.broken = `a step did not finish within ${this.stepTimeoutMs} ms (${p} of ${this.workers.length} workers still running)`;
        throw new ThreadError("pool step", `${p} workers unfinished after ${this.stepTimeoutMs} ms`, "every worker to finish its part within stepTimeoutMs (a worker died or hangs: terminate the pool and create a new one)");
      }
      Atomics.wait(i32, PENDING, p, left);
    }
  }

  private message(w: number): string {
    let s = "";
    for (let k = w * MSG_LEN; k < (w + 1) * MSG_LEN && this.u8[k] !== 0; k++) s += String.fromCharCode(this.u8[k]);
    return s;
  }

  /** Per-thread partial outputs and scratch of split calls, grown (never shrunk) to the largest call so far. */
  private workspace(parts: number, R: number, C: number, dr: number): { oPart: F32Buf; lsePart: F32Buf; scratch: F32Buf } {
    const k = this.kernels, have = this.ws;
    if (have && have.parts >= parts && have.R * have.C >= R * C && have.R >= R && k.splitScratchStride(have.R, have.C, have.dr) >= k.splitScratchStride(R, C, dr)) {
      return have;
    }
    const P = Math.max(parts, have?.parts ?? 0), RR = Math.max(R, have?.R ?? 0), CC = Math.max(C, have?.C ?? 0), DR = Math.max(dr, have?.dr ?? 0);
    // NaN at first (as after poisonWorkspace): a slot no thread wrote cannot pass for a result
    const oPart = k.alloc(P * RR * CC).fill(Number.NaN), lsePart = k.alloc(P * RR).fill(Number.NaN), scratch = k.alloc(P * k.splitScratchStride(RR, CC, DR)).fill(Number.NaN);
    if (have) {
      have.oPart.free();
      have.lsePart.free();
      have.scratch.free();
    }
    this.ws = { parts: P, R: RR, C: CC, dr: DR, oPart, lsePart, scratch };
    return this.ws;
  }

  /**
   * Split-KV decode attention: WasmKernels.attnMlaDecode's call (same arguments but the scratch)
   * with the keys (cached tokens, or selection slots with `sel`) cut into 64-aligned ranges, one
   * per thread (all heads each), every range's partial (o, lse) into the thread's own slice, then
   * the core's attn_mla_combine into a.o / a.lse. `threads` (default all) caps the parts,
   * `minBlocksPerPart` (default 1) keeps short contexts on fewer threads. Returns how many parts ran.
   */
  attnMlaDecodeSplit(a: MlaDecodeSplitArgs, options: { threads?: number; minBlocksPerPart?: number } = {}): { parts: number } {
    this.usable();
    for (const [f, v] of [["sq", a.sq], ["H", a.H], ["C", a.C]] as const) if (!(Number.isInteger(v) && v >= 1)) throw new ShapeError(f, v, "a positive integer");
    if (!(Number.isInteger(a.dr) && a.dr >= 0)) throw new ShapeError("dr", a.dr, "a whole number");
    const keys = a.sel ? a.sel.topk : a.len;
    if (!(Number.isInteger(keys) && keys >= 0)) throw new ShapeError(a.sel ? "sel.topk" : "len", keys, "a whole number of keys");
    const threads = options.threads ?? this.partsFor(keys * a.sq * a.H * (2 * a.C + a.dr));
    if (!(Number.isInteger(threads) && threads >= 1 && threads <= this.threads)) throw new ConfigError("threads", threads, `1..${this.threads} (the pool's threads)`);
    const parts = splitKeyRanges(keys, threads, options.minBlocksPerPart);
    const ws = this.workspace(parts.length, a.sq * a.H, a.C, a.dr);
    const { ranges, combine } = this.kernels.mlaDecodeSplitCalls(a, parts, ws);
    this.run(ranges.map((r) => ["attn_mla_decode_range", r] as const));
    this.kernels.exports.attn_mla_combine(...combine);
    return { parts: parts.length };
  }

  /**
   * y = x W^T (WasmKernels.linear's call and checks) with the output columns split over the
   * threads in whole groups of four 8-column panels: each thread runs the one linear kernel on its
   * panels (their packed weights are contiguous), so every column is computed exactly as on one
   * thread (the same bits). Parts: `threads` if given, else the split rule on M N K. Returns the
   * parts that ran.
   */
  linearSplit(M: number, x: F32Buf, w: PackedWeight, y: F32Buf, o: { ldx?: number; ldy?: number; xOff?: number; yOff?: number } = {}, threads?: number): { parts: number } {
    this.usable();
    const a = this.kernels.linearArgs(M, x, w, y, o);
    // Parts are whole groups of 4 panels: the GEMV runs 4-panel groups as streams and the leftover
    // panels one by one (a different summation), so only group-aligned parts keep every column's bits.
    const panels = Math.ceil(a.N / 8), groups = Math.ceil(panels / 4), parts = Math.max(1, Math.min(threads ?? this.partsFor(M * a.N * a.K), this.threads, groups));
    const calls: (readonly ["linear_w", readonly number[]])[] = [];
    for (let t = 0; t < parts; t++) {
      const p0 = Math.min(panels, 4 * Math.floor((t * groups) / parts)), p1 = Math.min(panels, 4 * Math.floor(((t + 1) * groups) / parts));
      const n0 = 8 * p0, n = Math.min(a.N, 8 * p1) - n0;
      calls.push(["linear_w", [a.fmt, a.M, n, a.K, a.kg, a.x, a.ldx, a.wp + a.panelBytes * p0, a.sp + a.panelScaleBytes * p0, a.y + 4 * n0, a.ldy]]);
    }
    this.run(calls);
    return { parts };
  }

  /**
   * attnMlaDecode over sq query tokens (a prefill chunk: causal, or not) with the tokens split
   * over the threads: consecutive ranges of about equal work (a causal row sees len - sq + t + 1
   * keys), each thread running the one attention loop on its rows. o as the one-thread call;
   * lse [H, sq] gathered from the parts. Returns how many parts ran.
   */
  attnMlaRowSplit(a: MlaDecodeSplitArgs, minRowsPerPart = 1): { parts: number } {
    this.usable();
    if (!(Number.isInteger(a.sq) && a.sq >= 1)) throw new ShapeError("sq", a.sq, "a positive integer");
    const parts = splitRowRanges(a.sq, a.causal ? a.len - a.sq : null, this.partsFor(a.sq * a.len * a.H * (2 * a.C + a.dr)), minRowsPerPart);
    const ws = this.workspace(parts.length, a.sq * a.H, a.C, a.dr);
    const calls = this.kernels.mlaRowSplitCalls(a, parts, ws);
    this.run(calls.map((c) => ["attn_mla_decode", c] as const));
    // lse [H, sq]: part i wrote [H, t1 - t0] at its slice
    const f32 = this.kernels.arena.f32, R = a.sq * a.H, lse = a.lse.ptr / 4 + (a.lseOff ?? 0);
    parts.forEach((p, i) => {
      const n = p.t1 - p.t0, src = ws.lsePart.ptr / 4 + i * R;
      for (let h = 0; h < a.H; h++) f32.copyWithin(lse + h * a.sq + p.t0, src + h * n, src + (h + 1) * n);
    });
    return { parts: parts.length };
  }

  /** Run export `op` once per head range (heads in at most `threads` ranges, at least minHeads each); args(h0, h1, t) gives thread t's arguments. */
  private splitHeads(op: WorkerOp, H: number, work: number, minHeads: number, args: (h0: number, h1: number, t: number) => readonly number[]): { parts: number } {
    this.usable();
    const parts = splitHeadRanges(H, this.partsFor(work), minHeads);
    const calls = parts.map((p, t) => [op, args(p.h0, p.h1, t)] as const);
    this.run(calls);
    return { parts: parts.length };
  }

  /** WasmKernels.absorbQ with the heads split over the threads (each head is its own GEMM: the same bits as one thread). */
  absorbQSplit(N: number, H: number, C: number, dn: number, qk: number, q: F32Buf, wuk: F32Buf | HeadWeights, qabs: F32Buf, qOff = 0, minHeads = 1): { parts: number } {
    return this.splitHeads("mla_absorb_q_heads_w", H, H * dn * C * N, minHeads, (h0, h1) => this.kernels.absorbQHeadsArgs(N, H, h0, h1, C, dn, qk, q, wuk, qabs, qOff));
  }

  /** WasmKernels.projectUV (o = o_lat W_UV per head) with the heads split over the threads (the same bits as one thread). */
  projectUVSplit(s: number, H: number, C: number, dv: number, olat: F32Buf, wuv: F32Buf | HeadWeights, o: F32Buf, olatOff = 0, oOff = 0, minHeads = 1): { parts: number } {
    return this.splitHeads("mla_project_uv_heads_w", H, H * dv * C * s, minHeads, (h0, h1) => this.kernels.projectUVHeadsArgs(s, H, h0, h1, C, dv, olat, wuv, o, olatOff, oOff));
  }

  /**
   * WasmKernels.attnDecodeNaive with the heads split over the threads: every head reads its own
   * K/V columns of the whole context, so heads are independent work of equal size (the same bits
   * as one thread). The scratch is the pool's, one slice per thread.
   */
  attnDecodeNaiveSplit(H: number, qk: number, dv: number, startPos: number, q: F32Buf, kRow: number, vRow: number, scale: number, o: F32Buf, qOff = 0, oOff = 0, minHeads = 1): { parts: number } {
    const k = this.kernels, per = k.attnScratchFloats(Math.ceil(H / Math.min(this.threads, H)));
    const buf = this.headScratch(per);
    return this.splitHeads("attn_decode_naive_heads", H, H * (startPos + 1) * (qk + dv), minHeads, (h0, h1, t) => k.attnDecodeNaiveHeadsArgs(H, h0, h1, qk, dv, startPos, q, kRow, vRow, scale, o, buf, qOff, oOff, t * per));
  }

  /** The per-thread scratch of head-split kernels, at least `perThread` floats a thread (NaN when new). */
  private headScratch(perThread: number): F32Buf {
    const have = this.headWs;
    if (have && have.perThread >= perThread) return have.buf;
    const buf = this.kernels.alloc(this.threads * perThread).fill(Number.NaN);
    have?.buf.free();
    this.headWs = { perThread, buf };
    return buf;
  }

  /** Allocate now the head-split scratch for up to H heads (so later calls allocate nothing). */
  reserveHeadSplit(H: number): void {
    this.headScratch(this.kernels.attnScratchFloats(Math.ceil(H / Math.min(this.threads, H))));
  }

  /**
   * Allocate now the workspace attnMlaDecodeSplit needs for up to `parts` ranges of R = sq*H rows
   * (C, dr), so that later calls allocate nothing (a layer reserves it when it is built, outside
   * any call that has already grown memory).
   */
  reserveDecodeSplit(parts: number, R: number, C: number, dr: number): void {
    this.workspace(parts, R, C, dr);
  }

  /** Fill every thread's partial outputs and scratch with `value` (tests: NaN shows a slot no thread wrote). */
  poisonWorkspace(value = Number.NaN): void {
    this.headWs?.buf.fill(value);
    if (!this.ws) return;
    this.ws.oPart.fill(value);
    this.ws.lsePart.fill(value);
    this.ws.scratch.fill(value);
  }

  /** End every worker (idempotent). Later calls are ThreadErrors; the caller's instance and memory stay readable. */
  async terminate(): Promise<void> {
    if (this.terminated) return;
    this.terminated = true;
    Atomics.store(this.i32, STOP, 1);
    Atomics.add(this.i32, GO, 1);
    Atomics.notify(this.i32, GO);
    await Promise.allSettled(this.workers.map((w) => w.terminate()));
  }
}
