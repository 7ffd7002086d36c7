// The one rule that decides a backend's thread count, in every runtime: each fallback gives 1
// with the reason a user can act on, checked in the order the rule applies them; a granted count
// carries a pool factory on the threaded build of the backend's ISA.
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/errors.js";
import { createWasmBackendFromBytes } from "../../../src/wasm/backend.js";
import { readAllBinaries, loadThreadedCoreNode, nodeSpawner } from "../../../src/wasm/threads/node.js";
import { type ThreadingHost, resolveThreading, resolveThreadingSync } from "../../../src/wasm/threads/threading.js";
import { enableRelaxedSimd } from "../../../src/wasm/node.js";

const g = globalThis as Record<string, unknown>;
const saved = { document: g.document, crossOriginIsolated: g.crossOriginIsolated };
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete g[k];
    else g[k] = v;
  }
});

const host = (over: Partial<ThreadingHost> = {}): (() => ThreadingHost) => () => ({ cores: 4, spawner: nodeSpawner(), loadThreaded: (v) => loadThreadedCoreNode(v), ...over });

describe("resolveThreading", () => {
  it("1 with the reason, in the rule's order", async () => {
    expect(await resolveThreading(undefined, "simd128", host())).toEqual({ count: 1, reason: "1: threads not asked for" });
    expect(await resolveThreading(1, "simd128", host())).toEqual({ count: 1, reason: "1: asked for" });
    expect(await resolveThreading("auto", "simd128", host({ cores: 1 }))).toEqual({ count: 1, reason: "1: this runtime reports one core" });
    // a window's main thread comes before shared memory: isolation would not help there
    g.document = {};
    g.crossOriginIsolated = false;
    expect((await resolveThreading(2, "simd128", host())).reason).toMatch(/^1: a browser window's main thread may not block in Atomics\.wait/);
    delete g.document;
    expect((await resolveThreading(2, "simd128", host())).reason).toMatch(/^1: SharedArrayBuffer unavailable \(not cross-origin isolated: serve the page with COOP same-origin and COEP require-corp\)/);
    delete g.crossOriginIsolated;
    expect(await resolveThreading(2, "simd128", host({ spawner: { none: "no Worker here" } }))).toEqual({ count: 1, reason: "1: no Worker here" });
    const failing = await resolveThreading(2, "relaxed", host({ loadThreaded: async () => Promise.reject(new Error("HTTP 404")) }));
    expect(failing).toEqual({ count: 1, reason: "1: the threaded build relaxed-threads does not load here (HTTP 404)" });
    expect(resolveThreadingSync(2, "simd128", host(), () => { throw new Error("no module"); }).reason).toBe("1: the threaded build simd128-threads does not load here (no module)");
  });

  it("a granted count names the threaded build of the backend's ISA and makes working pools", async () => {
    enableRelaxedSimd();
    const asked: string[] = [];
    const t = await resolveThreading(3, "relaxed", host({ loadThreaded: (v) => (asked.push(v), loadThreadedCoreNode(v)) }));
    expect(asked).toEqual(["relaxed-threads"]);
    expect(t.count).toBe(3);
    expect(t.reason).toBe("3: asked for, relaxed-threads");
    const pool = await t.createPool!();
    expect(pool.threads).toBe(3);
    await pool.terminate();
    expect((await resolveThreading("auto", "simd128", host({ cores: 2 }))).reason).toBe("2: the runtime's cores, simd128-threads");
  });

  it("refuses a bad count with a ConfigError naming threads", async () => {
    for (const bad of [0, 1.5, -1, 65, "2", null]) {
      const e = await resolveThreading(bad as never, "simd128", host()).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).field).toBe("threads");
    }
  });
});

describe("the browser-safe entries in Node", () => {
  it("createWasmBackendFromBytes({ threads }) falls back to 1 and says to use mlakit/wasm-node (Node has no Web Worker)", async () => {
    const b = await createWasmBackendFromBytes(readAllBinaries(), "simd128", { threads: 2 });
    expect(b.threads).toEqual({ count: 1, reason: '1: Node has no Web Worker: use createWasmBackend from "mlakit/wasm-node" (worker_threads)' });
  });
});

describe("Node with a global Worker (a library put worker_threads' Worker on globalThis)", () => {
  it("createWasmBackend still starts worker_threads, and the browser-safe entry still says to use mlakit/wasm-node", async () => {
    const { Worker } = await import("node:worker_threads");
    const had = "Worker" in g, before = g.Worker;
    g.Worker = Worker;
    try {
      const { createWasmBackend } = await import("../../../src/wasm/node.js");
      const b = await createWasmBackend({ threads: 2 });
      expect(b.threads.count, b.threads.reason).toBe(2);
      const { makeConfig } = await import("../../../src/config.js");
      const { Rng, randomMlaWeights } = await import("../../../src/weights.js");
      const cfg = makeConfig({ dim: 16, n_heads: 2, q_lora_rank: 0, kv_lora_rank: 8, qk_nope_head_dim: 4, qk_rope_head_dim: 2, v_head_dim: 4, max_seq_len: 8, max_batch_size: 1 });
      const layer = await b.createMla(cfg, randomMlaWeights(cfg, new Rng(1)), { path: "absorbed" }); // the pool starts here
      expect(layer.forward(new Float32Array(cfg.dim).fill(0.5), { batch: 1, seqlen: 1, startPos: 0 }).every(Number.isFinite)).toBe(true);
      layer.dispose();
      expect((await createWasmBackendFromBytes(readAllBinaries(), "simd128", { threads: 2 })).threads.reason).toMatch(/use createWasmBackend from "mlakit\/wasm-node"/);
    } finally {
      if (had) g.Worker = before;
      else delete g.Worker;
    }
  });
});
