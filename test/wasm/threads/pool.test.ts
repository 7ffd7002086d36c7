// The pool's life cycle and failures: every failure is a typed error on the caller within a
// bounded time, never a hang: a trap in a worker's call (the pool stays usable), a worker that
// never finishes a step (stepTimeoutMs; the pool is then broken), a worker that does not start,
// calls after terminate(); and its configuration errors.
import { describe, expect, it } from "vitest";
import { Worker } from "node:worker_threads";
import { ConfigError } from "../../../src/errors.js";
import { compileAnyCore } from "../../../src/wasm/loader.js";
import { ThreadError, ThreadPool, type Spawner } from "../../../src/wasm/threads/index.js";
import { loadThreadedCoreNode, nodeSpawner, readAllBinaries } from "../../../src/wasm/threads/node.js";
import { Rng } from "../helpers.js";
import { THREADED_BUILDS, pagedCache } from "./helpers.js";
import { thrown } from "../../reference/error-helpers.js";

const build = THREADED_BUILDS[0];

/** A worker that reports ready and then never takes part in a step (a hung thread). */
const hangingSpawner: Spawner = () => {
  const w = new Worker(`require("node:worker_threads").parentPort.postMessage({ type: "ready" }); setInterval(() => {}, 1000);`, { eval: true });
  w.unref();
  return { onMessage: (cb) => void w.on("message", cb), onFailure: () => {}, terminate: () => w.terminate() };
};

describe("thread pool", () => {
  it("runs a kernel on the caller and each worker; a trap in a worker is a ThreadError naming it, and the pool stays usable", async () => {
    const pool = await ThreadPool.create({ threads: 3, core: await loadThreadedCoreNode(build), spawn: nodeSpawner() });
    try {
      expect(pool.threads).toBe(3);
      const k = pool.kernels;
      // each thread combines one partial into its own output: o = o_s, lse = lse_s
      const src = k.alloc(3 * 8, Array.from({ length: 24 }, (_, i) => i)), lseSrc = k.alloc(3, [0.5, 1.5, 2.5]);
      const out = k.alloc(24).fill(NaN), lse = k.alloc(3).fill(NaN);
      pool.run([0, 1, 2].map((t) => ["attn_mla_combine", [1, 1, 1, 8, src.at(8 * t), 8, lseSrc.at(t), 1, out.at(8 * t), lse.at(t)]] as const));
      expect(Array.from(out.toArray())).toEqual(Array.from({ length: 24 }, (_, i) => i));
      expect(Array.from(lse.toArray())).toEqual([0.5, 1.5, 2.5]);
      const bad = 2 ** 32 - 16; // past the memory: the store traps
      expect(() => pool.run([["attn_mla_combine", [1, 1, 1, 8, src.ptr, 8, lseSrc.ptr, 1, out.ptr, lse.ptr]], ["attn_mla_combine", [1, 1, 1, 8, src.ptr, 8, lseSrc.ptr, 1, bad, bad]]])).toThrow(ThreadError);
      const ok = [1, 1, 1, 8, src.ptr, 8, lseSrc.ptr, 1, out.ptr, lse.ptr];
      const e = thrown(() => pool.run([["attn_mla_combine", ok], ["attn_mla_combine", ok], ["attn_mla_combine", [1, 1, 1, 8, src.ptr, 8, lseSrc.ptr, 1, bad, bad]]]));
      expect(e).toBeInstanceOf(ThreadError);
      expect((e as ThreadError).field).toBe("thread 2");
      expect(String((e as ThreadError).value)).toMatch(/out of bounds/);
      expect(() => pool.run([["attn_mla_combine", [1, 1, 1, 8, src.ptr, 8, lseSrc.ptr, 1, bad, bad]]])).toThrow(/thread 0/);
      expect(pool.unusable).toBeNull();
      pool.run([["attn_mla_combine", [1, 1, 1, 8, src.ptr, 8, lseSrc.ptr, 1, out.ptr, lse.ptr]], ["attn_mla_combine", [1, 1, 1, 8, src.ptr, 8, lseSrc.ptr, 1, out.ptr, lse.ptr]]]);
    } finally {
      await pool.terminate();
    }
  });

  it("a step right after create reaches every worker (each reads the step counter before it says ready), 20 pools in a row", async () => {
    const core = await loadThreadedCoreNode(build);
    for (let i = 0; i < 20; i++) {
      const pool = await ThreadPool.create({ threads: 3, core, spawn: nodeSpawner(), stepTimeoutMs: 2000 });
      try {
        pool.run([0, 1, 2].map(() => ["attn_mla_combine", [0, 1, 1, 1, 0, 0, 0, 0, 0, 0]] as const));
      } finally {
        await pool.terminate();
      }
    }
  });

  it("a worker that never finishes its part: a ThreadError after stepTimeoutMs, then every call says the pool is broken", async () => {
    const pool = await ThreadPool.create({ threads: 2, core: await loadThreadedCoreNode(build), spawn: hangingSpawner, stepTimeoutMs: 300, minWorkPerThread: 0 });
    try {
      const k = pool.kernels, rng = new Rng(5);
      const c = pagedCache(k, "f32", 200, 8, 2, rng);
      const q = k.alloc(10, rng.normalArray(10)), o = k.alloc(8).fill(NaN), lse = k.alloc(1).fill(NaN);
      const a = { format: "f32" as const, sq: 1, H: 1, C: 8, dr: 2, len: 200, q, pool: c.pool, blocks: c.blocks, table: c.table, scale: 0.3, o, lse };
      const t0 = performance.now();
      expect(() => pool.attnMlaDecodeSplit(a)).toThrow(ThreadError);
      expect(performance.now() - t0).toBeLessThan(5000);
      expect(o.toArray().every(Number.isNaN), "a failed call writes no output").toBe(true);
      expect(pool.unusable).toMatch(/did not finish/);
      expect(() => pool.attnMlaDecodeSplit(a)).toThrow(/broken/);
    } finally {
      await pool.terminate();
    }
  });

  it("a worker that exits between steps: the next call is a ThreadError saying the pool is broken", async () => {
    const spawned: { terminate(): Promise<unknown> }[] = [];
    const node = nodeSpawner();
    const recording: Spawner = (start) => {
      const w = node(start);
      spawned.push(w);
      return w;
    };
    const pool = await ThreadPool.create({ threads: 3, core: await loadThreadedCoreNode(build), spawn: recording, stepTimeoutMs: 2000 });
    try {
      await spawned[1].terminate();
      await new Promise((r) => setTimeout(r, 20));
      expect(pool.unusable).toMatch(/thread 2 failed: exited/);
      expect(() => pool.run([["attn_mla_combine", [0, 1, 1, 1, 0, 0, 0, 0, 0, 0]]])).toThrow(ThreadError);
    } finally {
      await pool.terminate();
    }
  });

  it("a worker that cannot start rejects create with a ThreadError; no workers are left running", async () => {
    const failing: Spawner = () => {
      const w = new Worker(`require("node:worker_threads").parentPort.postMessage({ type: "error", message: "no instance" });`, { eval: true });
      return { onMessage: (cb) => void w.on("message", cb), onFailure: () => {}, terminate: () => w.terminate() };
    };
    await expect(ThreadPool.create({ threads: 2, core: await loadThreadedCoreNode(build), spawn: failing })).rejects.toThrow(ThreadError);
    const silent: Spawner = () => {
      const w = new Worker(`setInterval(() => {}, 1000);`, { eval: true });
      w.unref();
      return { onMessage: (cb) => void w.on("message", cb), onFailure: () => {}, terminate: () => w.terminate() };
    };
    await expect(ThreadPool.create({ threads: 2, core: await loadThreadedCoreNode(build), spawn: silent, startTimeoutMs: 300 })).rejects.toThrow(/ready within 300 ms/);
  });

  it("terminate ends the workers (idempotent); later calls are ThreadErrors", async () => {
    const pool = await ThreadPool.create({ threads: 2, core: await loadThreadedCoreNode(build), spawn: nodeSpawner() });
    await pool.terminate();
    await pool.terminate();
    expect(pool.unusable).toBe("terminated");
    expect(() => pool.run([["attn_mla_combine", [0, 1, 1, 1, 0, 0, 0, 0, 0, 0]]])).toThrow(ThreadError);
  });

  it("defaults in Node: the package's threaded build, worker_threads, the machine's threads", async () => {
    const pool = await ThreadPool.create({ threads: 2 });
    try {
      expect(pool.core.threaded).toBe(true);
      expect(pool.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    } finally {
      await pool.terminate();
    }
  });

  it("configuration errors: threads out of range, a single-threaded build, a memory too large", async () => {
    const core = await loadThreadedCoreNode(build);
    await expect(ThreadPool.create({ threads: 0, core, spawn: nodeSpawner() })).rejects.toThrow(ConfigError);
    await expect(ThreadPool.create({ threads: 1.5, core, spawn: nodeSpawner() })).rejects.toThrow(/threads = 1.5/);
    const single = await compileAnyCore(readAllBinaries(), "simd128");
    await expect(ThreadPool.create({ threads: 2, core: single, spawn: nodeSpawner() })).rejects.toThrow(/a threaded build/);
    await expect(ThreadPool.create({ threads: 1, core, spawn: nodeSpawner(), maximumMemoryPages: 65537 })).rejects.toThrow(/maximumMemoryPages/);
    const pool = await ThreadPool.create({ threads: 1, core, spawn: nodeSpawner() });
    try {
      const k = pool.kernels;
      const q = k.alloc(4), o = k.alloc(4), lse = k.alloc(1), table = k.alloc(1);
      expect(() => pool.attnMlaDecodeSplit({ format: "f32", sq: 1, H: 1, C: 4, dr: 0, len: 0, q, pool: { ptr: q.ptr, bytes: 16 }, blocks: new Int32Array(1), table, scale: 1, o, lse }, { threads: 2 })).toThrow(/threads = 2/);
      // one thread, no key: o = 0, lse = +Infinity (attn_mla_decode's convention)
      pool.attnMlaDecodeSplit({ format: "f32", sq: 1, H: 1, C: 4, dr: 0, len: 0, q, pool: { ptr: q.ptr, bytes: 16 }, blocks: new Int32Array(1), table, scale: 1, o, lse });
      expect(Array.from(o.toArray())).toEqual([0, 0, 0, 0]);
      expect(lse.toArray()[0]).toBe(Infinity);
    } finally {
      await pool.terminate();
    }
  });
});
