// The layer contract on threads: a threaded absorbed layer allocates nothing per decode step
// (the pool's partials and scratch included, also when the context crosses into more ranges),
// reads nothing it did not write (every thread's partials and scratch poisoned with NaN before
// every call), and a thread lost mid-step is a ThreadError within the step timeout that leaves the
// cache as it was, after which the layer says it must be recreated.
import { describe, expect, it } from "vitest";
import { makeConfig } from "../../../src/config.js";
import { firstMismatch, toleranceFor } from "../../../src/numerics.js";
import { ReferenceMla } from "../../../src/reference/mla.js";
import { Rng, randomMlaWeights } from "../../../src/weights.js";
import { WasmMla } from "../../../src/wasm/mla-layer.js";
import { ThreadError, ThreadPool } from "../../../src/wasm/threads/index.js";
import { loadThreadedCoreNode, nodeSpawner } from "../../../src/wasm/threads/node.js";
import { THREADED_BUILDS } from "./helpers.js";
import { thrown } from "../../reference/error-helpers.js";

const { atol, rtol } = toleranceFor("float32");
// odd sizes; max_seq_len 200 so a decode runs from one 64-key range to four
const cfg = makeConfig({ dim: 19, n_heads: 3, q_lora_rank: 7, kv_lora_rank: 13, qk_nope_head_dim: 5, qk_rope_head_dim: 4, v_head_dim: 6, max_seq_len: 200, original_seq_len: 64, max_batch_size: 2, rope_factor: 4 });

const layerOn = (pool: ThreadPool, seed: number) => {
  const w = randomMlaWeights(cfg, new Rng(seed));
  return { layer: new WasmMla(cfg, w, pool.kernels, { path: "absorbed", threadPool: pool }), ref: new ReferenceMla(cfg, w, { path: "absorbed" }) };
};

describe.each(THREADED_BUILDS)("%s, 3 threads", (build) => {
  it("decode steps allocate nothing once the cache has room, across 1 to 4 key ranges", async () => {
    const pool = await ThreadPool.create({ threads: 3, core: await loadThreadedCoreNode(build), spawn: nodeSpawner(), minWorkPerThread: 0 });
    try {
      const { layer } = layerOn(pool, 3);
      const k = pool.kernels, rng = new Rng(4);
      layer.forward(rng.normalArray(2 * 5 * cfg.dim), { batch: 2, seqlen: 5, startPos: 0 });
      // the cache's blocks for the whole run reserved up front by a rolled-back long call
      layer.forward(rng.normalArray(2 * 195 * cfg.dim), { batch: 2, seqlen: 195, startPos: 5 });
      layer.forward(rng.normalArray(2 * 5 * cfg.dim), { batch: 2, seqlen: 5, startPos: 0 });
      layer.forward(rng.normalArray(2 * cfg.dim), { batch: 2, seqlen: 1, startPos: 5 });
      const before = [k.arena.bytesInUse(), k.arena.bytesReserved(), k.arena.grows];
      for (let p = 6; p < 200; p++) layer.forward(rng.normalArray(2 * cfg.dim), { batch: 2, seqlen: 1, startPos: p });
      expect([k.arena.bytesInUse(), k.arena.bytesReserved(), k.arena.grows]).toEqual(before);
      layer.dispose();
    } finally {
      await pool.terminate();
    }
  }, 60_000);

  it("every thread's partials, scratch and the layer's workspace poisoned with NaN before every call change nothing", async () => {
    const pool = await ThreadPool.create({ threads: 3, core: await loadThreadedCoreNode(build), spawn: nodeSpawner(), minWorkPerThread: 0 });
    try {
      const { layer, ref } = layerOn(pool, 11);
      const rng = new Rng(12);
      const poison = (): void => {
        const ws = (layer as unknown as { ws: { buffers: { fill(v: number): void }[] } | null }).ws;
        for (const b of ws?.buffers ?? []) b.fill(NaN);
        pool.poisonWorkspace();
      };
      const calls = [{ batch: 2, seqlen: 130, startPos: 0 }, ...Array.from({ length: 6 }, (_, i) => ({ batch: 2, seqlen: 1, startPos: 130 + i })), { batch: 1, seqlen: 3, startPos: 60 }, { batch: 2, seqlen: 1, startPos: 63 }];
      for (const call of calls) {
        poison();
        const x = rng.normalArray(call.batch * call.seqlen * cfg.dim);
        expect(firstMismatch(layer.forward(x, call), ref.forward(x, call), atol, rtol), JSON.stringify(call)).toBe(-1);
      }
      layer.dispose();
    } finally {
      await pool.terminate();
    }
  }, 60_000);
});

describe("a thread lost mid-step", () => {
  it("is a ThreadError within the step timeout; the cache is as it was; the layer then says to recreate it", async () => {
    const pool = await ThreadPool.create({ threads: 2, core: await loadThreadedCoreNode(THREADED_BUILDS[0]), spawn: nodeSpawner(), stepTimeoutMs: 400, minWorkPerThread: 0 });
    try {
      const { layer } = layerOn(pool, 21);
      const rng = new Rng(22);
      layer.forward(rng.normalArray(2 * 100 * cfg.dim), { batch: 2, seqlen: 100, startPos: 0 });
      const snap = layer.cache.snapshot(2, 100);
      // The worker is stopped and the step starts at once, in the same task: its exit event cannot
      // be seen before the step, so the step itself must notice (the pending count never reaches 0).
      void (pool as unknown as { workers: { terminate(): Promise<unknown> }[] }).workers[0].terminate();
      const t0 = performance.now();
      const err = thrown(() => layer.forward(rng.normalArray(2 * cfg.dim), { batch: 2, seqlen: 1, startPos: 100 }));
      expect(err).toBeInstanceOf(ThreadError);
      expect((err as ThreadError).message).toMatch(/unfinished after 400 ms/);
      expect(performance.now() - t0).toBeLessThan(5000);
      expect([layer.cache.length(0), layer.cache.length(1)]).toEqual([100, 100]);
      const after = layer.cache.snapshot(2, 100);
      for (const name of Object.keys(snap)) expect(Array.from(after[name].data), name).toEqual(Array.from(snap[name].data));
      const again = thrown(() => layer.forward(rng.normalArray(2 * cfg.dim), { batch: 2, seqlen: 1, startPos: 100 })) as ThreadError;
      expect(again).toBeInstanceOf(ThreadError);
      expect(again.field).toBe("layer");
      expect(again.message).toMatch(/dispose this layer and create it again/);
      layer.dispose();
    } finally {
      await pool.terminate();
    }
  }, 30_000);
});

