// The async layer interface: a layer served by a worker (serveLayers in a worker_threads worker,
// the WASM backend there on 2 threads) computes what the oracle computes, keeps the calling
// thread's event loop running while it works, and gives back the library's typed errors with a
// cache the failed call did not change; asyncLayer puts any layer behind the same interface.
import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asyncLayer, connectLayerWorker, type LayerWorker } from "../../src/async/index.js";
import { makeConfig } from "../../src/config.js";
import { CacheError, ConfigError, ShapeError } from "../../src/errors.js";
import { firstMismatch, toleranceFor } from "../../src/numerics.js";
import { ReferenceMla } from "../../src/reference/mla.js";
import { referenceBackend } from "../../src/reference/index.js";
import { Rng, randomMlaWeights } from "../../src/weights.js";

const dist = (f: string) => new URL(`../../dist/${f}`, import.meta.url).href;
// The worker runs the built package (dist/, made by npm test's pretest), as a user's worker would.
const WORKER_SRC = `
const { parentPort } = require("node:worker_threads");
(async () => {
  const { serveLayers } = await import(${JSON.stringify(dist("index.js"))});
  const { createWasmBackend } = await import(${JSON.stringify(dist("wasm/node.js"))});
  serveLayers(parentPort, { wasm: (o) => createWasmBackend(o) });
})();`;

const { atol, rtol } = toleranceFor("float32");
const cfg = makeConfig({ dim: 96, n_heads: 5, q_lora_rank: 0, kv_lora_rank: 48, qk_nope_head_dim: 16, qk_rope_head_dim: 8, v_head_dim: 12, max_seq_len: 1024, original_seq_len: 256, rope_factor: 4, max_batch_size: 1 });

let worker: Worker;
let lw: LayerWorker;
beforeAll(() => {
  worker = new Worker(WORKER_SRC, { eval: true });
  lw = connectLayerWorker(worker);
});
afterAll(async () => {
  lw.close();
  await worker.terminate();
});

describe("a layer in a worker (connectLayerWorker + serveLayers)", () => {
  it("on the WASM backend with 2 threads: equals the oracle over a prefill and decodes, and the caller's event loop runs meanwhile", async () => {
    const w = randomMlaWeights(cfg, new Rng(3));
    const layer = await lw.createMla({ name: "wasm", options: { threads: 2 } }, cfg, w, { path: "absorbed" });
    expect(layer.threads?.count, layer.threads?.reason).toBe(2);
    expect([layer.kind, layer.backend, layer.dim]).toEqual(["mla-absorbed", "wasm", cfg.dim]);
    const ref = new ReferenceMla(cfg, w, { path: "absorbed" });
    const rng = new Rng(4);
    const T = 900, x = rng.normalArray(T * cfg.dim);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 2);
    const t0 = performance.now();
    const y = await layer.forward(x, { batch: 1, seqlen: T, startPos: 0 });
    const ms = performance.now() - t0;
    clearInterval(timer);
    // the prefill took tens of ms in the worker; a blocked caller would have run no timer at all
    if (ms > 20) expect(ticks, `${ms.toFixed(0)} ms`).toBeGreaterThan(0);
    expect(firstMismatch(y, ref.forward(x, { batch: 1, seqlen: T, startPos: 0 }), atol, rtol)).toBe(-1);
    for (let t = T; t < T + 3; t++) {
      const xt = rng.normalArray(cfg.dim);
      const got = await layer.forward(xt, { batch: 1, seqlen: 1, startPos: t });
      expect(firstMismatch(got, ref.forward(xt, { batch: 1, seqlen: 1, startPos: t }), atol, rtol), `step ${t}`).toBe(-1);
    }
    expect(await layer.cache.length(0)).toBe(T + 3);
    expect(await layer.cache.bytesPerToken()).toBe((cfg.kv_lora_rank + cfg.qk_rope_head_dim) * 4);
    await layer.dispose();
  }, 60_000);

  it("errors arrive typed, with the message the layer threw, and the failed call changed nothing; a disposed layer says so", async () => {
    const w = randomMlaWeights(cfg, new Rng(5));
    const layer = await lw.createMla("wasm", cfg, w, { path: "naive" });
    const local = new ReferenceMla(cfg, w, { path: "naive" });
    await layer.forward(new Rng(6).normalArray(4 * cfg.dim), { batch: 1, seqlen: 4, startPos: 0 });
    local.forward(new Rng(6).normalArray(4 * cfg.dim), { batch: 1, seqlen: 4, startPos: 0 });
    const bad = new Float32Array(cfg.dim + 1);
    const e = await layer.forward(bad, { batch: 1, seqlen: 1, startPos: 4 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ShapeError);
    const want = (() => {
      try {
        local.forward(bad, { batch: 1, seqlen: 1, startPos: 4 });
      } catch (x) {
        return x as ShapeError;
      }
    })()!;
    expect([(e as ShapeError).field, (e as ShapeError).message]).toEqual([want.field, want.message]);
    expect(await layer.cache.length(0)).toBe(4);
    await layer.dispose();
    const gone = await layer.forward(new Float32Array(cfg.dim), { batch: 1, seqlen: 1, startPos: 4 }).catch((x: unknown) => x);
    expect(gone).toBeInstanceOf(ConfigError);
    expect((gone as ConfigError).field).toBe("layer");
  }, 30_000);

  it("a backend or layer kind the worker does not serve is a ConfigError naming the field", async () => {
    const w = randomMlaWeights(cfg, new Rng(7));
    const e1 = (await lw.createMla("tpu", cfg, w, { path: "absorbed" }).catch((x: unknown) => x)) as ConfigError;
    expect(e1).toBeInstanceOf(ConfigError);
    expect([e1.field, e1.value]).toEqual(["backend.name", "tpu"]);
    const e2 = (await lw.create("reference", "mha", cfg, w).catch((x: unknown) => x)) as ConfigError;
    expect(e2).toBeInstanceOf(ConfigError);
    expect(e2.field).toBe("kind");
    expect(e2.message).toMatch(/builds \(mla, dsa\)/);
  });

  it("a closed connection rejects its calls with a CacheError", async () => {
    const w2 = new Worker(WORKER_SRC, { eval: true });
    const c = connectLayerWorker(w2);
    const pending = c.createMla("reference", cfg, randomMlaWeights(cfg, new Rng(8)), { path: "naive" });
    c.close();
    await expect(pending).rejects.toBeInstanceOf(CacheError);
    await expect(c.createMla("reference", cfg, {}, { path: "naive" })).rejects.toBeInstanceOf(CacheError);
    await w2.terminate();
  });
});

describe("asyncLayer", () => {
  it("puts a layer of any backend behind the async interface with the same outputs and cache", async () => {
    const w = randomMlaWeights(cfg, new Rng(9));
    const a = asyncLayer(await referenceBackend.createMla(cfg, w, { path: "absorbed" }));
    const direct = new ReferenceMla(cfg, w, { path: "absorbed" });
    const x = new Rng(10).normalArray(3 * cfg.dim);
    expect(Array.from(await a.forward(x, { batch: 1, seqlen: 3, startPos: 0 }))).toEqual(Array.from(direct.forward(x, { batch: 1, seqlen: 3, startPos: 0 })));
    expect(await a.cache.length(0)).toBe(3);
    await expect(a.forward(new Float64Array(1), { batch: 1, seqlen: 1, startPos: 3 })).rejects.toBeInstanceOf(ShapeError);
    expect(await a.cache.length(0)).toBe(3);
    await a.dispose();
  });
});
