// The WASM layer keeps the layer contract: the reference's typed errors for the same bad inputs,
// nothing changed by a failed call, memory.grow in the middle of use, no allocation per decode
// step, dispose.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { makeConfig, type MlaConfig } from "../../src/config.js";
import { ConfigError, MlaError, NonFiniteError, ShapeError } from "../../src/errors.js";
import { ReferenceMla } from "../../src/reference/mla.js";
import { Rng, randomMlaWeights } from "../../src/weights.js";
import { toleranceFor, firstMismatch } from "../../src/numerics.js";
import { WasmMla } from "../../src/wasm/mla-layer.js";
import { BUILDS, kernels } from "./helpers.js";
import { thrown } from "../reference/error-helpers.js";

const { atol, rtol } = toleranceFor("float32");
const cfg: MlaConfig = makeConfig({ dim: 13, n_heads: 3, q_lora_rank: 5, kv_lora_rank: 9, qk_nope_head_dim: 5, qk_rope_head_dim: 4, v_head_dim: 7, max_seq_len: 40, original_seq_len: 16, max_batch_size: 2, rope_factor: 4 });

const badCalls: { name: string; x: (n: number) => ArrayLike<number>; opts: Record<string, unknown> }[] = [
  { name: "batch 0", x: () => new Float32Array(0), opts: { batch: 0, seqlen: 1, startPos: 0 } },
  { name: "batch > max", x: (d) => new Float32Array(3 * d), opts: { batch: 3, seqlen: 1, startPos: 0 } },
  { name: "seqlen 0", x: () => new Float32Array(0), opts: { batch: 1, seqlen: 0, startPos: 0 } },
  { name: "fractional seqlen", x: (d) => new Float32Array(d), opts: { batch: 1, seqlen: 1.5, startPos: 0 } },
  { name: "negative startPos", x: (d) => new Float32Array(d), opts: { batch: 1, seqlen: 1, startPos: -1 } },
  { name: "startPos past the cache", x: (d) => new Float32Array(d), opts: { batch: 1, seqlen: 1, startPos: 9 } },
  { name: "past max_seq_len", x: (d) => new Float32Array(2 * d), opts: { batch: 1, seqlen: 2, startPos: 39 } },
  { name: "short x", x: (d) => new Float32Array(d - 1), opts: { batch: 1, seqlen: 1, startPos: 3 } },
  { name: "NaN in x", x: (d) => Float32Array.from({ length: d }, (_, i) => (i === 4 ? NaN : 0.5)), opts: { batch: 1, seqlen: 1, startPos: 3 } },
  { name: "Infinity in x", x: (d) => Float32Array.from({ length: 2 * d }, (_, i) => (i === d + 1 ? -Infinity : 0.5)), opts: { batch: 2, seqlen: 1, startPos: 3 } },
  { name: "x not an array", x: () => 7 as unknown as ArrayLike<number>, opts: { batch: 1, seqlen: 1, startPos: 3 } },
  { name: "no options", x: (d) => new Float32Array(d), opts: undefined as unknown as Record<string, unknown> },
];

describe.each(BUILDS)("%s build", (build) => {
  it.each(["naive", "absorbed", "recompute"] as const)("%s: bad inputs throw the reference's errors and change nothing", async (path) => {
    const w = randomMlaWeights(cfg, new Rng(5));
    const ref = new ReferenceMla(cfg, w, { path });
    const layer = new WasmMla(cfg, w, await kernels(build), { path });
    const rng = new Rng(9);
    const x0 = rng.normalArray(2 * 4 * cfg.dim);
    ref.forward(x0, { batch: 2, seqlen: 4, startPos: 0 });
    layer.forward(x0, { batch: 2, seqlen: 4, startPos: 0 });
    const before = layer.cache.snapshot(2, 4);
    for (const bad of badCalls) {
      const eRef = thrown(() => ref.forward(bad.x(cfg.dim), bad.opts as never)) as Error;
      const eWasm = thrown(() => layer.forward(bad.x(cfg.dim), bad.opts as never)) as Error;
      expect(eRef, bad.name).toBeInstanceOf(MlaError);
      expect(eWasm?.constructor, bad.name).toBe(eRef.constructor);
      expect(eWasm.message, bad.name).toBe(eRef.message);
      expect([layer.cache.length(0), layer.cache.length(1)], bad.name).toEqual([4, 4]);
      const after = layer.cache.snapshot(2, 4);
      for (const name of Object.keys(before)) expect(Array.from(after[name].data), `${bad.name}: ${name}`).toEqual(Array.from(before[name].data));
    }
    // and the layer still continues exactly like the reference
    const x1 = rng.normalArray(2 * cfg.dim);
    expect(firstMismatch(layer.forward(x1, { batch: 2, seqlen: 1, startPos: 4 }), ref.forward(x1, { batch: 2, seqlen: 1, startPos: 4 }), atol, rtol)).toBe(-1);
  });

  it("construction: the reference's weight errors; unknown path; bad options", async () => {
    const w = randomMlaWeights(cfg, new Rng(1));
    const k = await kernels(build);
    const short = { ...w, wkv_a: new Float32Array(3) };
    const eRef = thrown(() => new ReferenceMla(cfg, short)) as Error;
    const eWasm = thrown(() => new WasmMla(cfg, short, k)) as Error;
    expect(eWasm).toBeInstanceOf(ShapeError);
    expect(eWasm.message).toBe(eRef.message);
    const nan = { ...w, wo: Float32Array.from(w.wo as Float32Array, (v, i) => (i === 2 ? NaN : v)) };
    expect((thrown(() => new WasmMla(cfg, nan, k)) as Error).message).toBe((thrown(() => new ReferenceMla(cfg, nan)) as Error).message);
    expect(thrown(() => new WasmMla(cfg, w, k, { path: "sparse" as never }))).toBeInstanceOf(ConfigError);
    expect(thrown(() => new WasmMla(cfg, w, k, { path: "recompute", initialCapacity: 4 }))).toBeInstanceOf(ConfigError);
    expect(thrown(() => new WasmMla(cfg, w, k, { path: "naive", initialCapacity: 0 }))).toBeInstanceOf(MlaError);
    expect(thrown(() => new WasmMla(cfg, w, k, { path: "absorbed", initialCapacity: 4 }))).toBeInstanceOf(ConfigError);
    expect(thrown(() => new WasmMla(cfg, w, k, { path: "naive", cacheFormat: "f32" }))).toBeInstanceOf(ConfigError);
    expect(thrown(() => new WasmMla(cfg, w, k, { maxChunkTokens: 1.5 }))).toBeInstanceOf(MlaError);
  });

  it("values beyond float32's range (finite in float64) are refused with NonFiniteError, nothing changed", async () => {
    const w = randomMlaWeights(cfg, new Rng(13));
    const k = await kernels(build);
    const big = { ...w, wkv_b: Array.from(w.wkv_b as Float32Array, (v, i) => (i === 7 ? 1e39 : v)) };
    const e = thrown(() => new WasmMla(cfg, big, k)) as Error;
    expect(e).toBeInstanceOf(NonFiniteError);
    expect(e.message).toContain("weights.wkv_b[0, 7]");
    const layer = new WasmMla(cfg, w, k);
    layer.forward(new Float32Array(cfg.dim).fill(0.3), { batch: 1, seqlen: 1, startPos: 0 });
    const before = layer.cache.snapshot(1, 1);
    const x = Array.from({ length: 2 * cfg.dim }, (_, i) => (i === cfg.dim + 2 ? -4e38 : 0.1));
    const ex = thrown(() => layer.forward(x, { batch: 1, seqlen: 2, startPos: 1 })) as Error;
    expect(ex).toBeInstanceOf(NonFiniteError);
    expect(ex.message).toContain("x[0, 1, 2]");
    expect(layer.cache.length(0)).toBe(1);
    expect(Array.from(layer.cache.snapshot(1, 1).kv_cache.data)).toEqual(Array.from(before.kv_cache.data));
  });

  it.each(["naive", "absorbed", "recompute"] as const)("%s: memory.grow during use (cache from 1 token, long prefill) keeps results exact", async (path) => {
    const w = randomMlaWeights(cfg, new Rng(3));
    const ref = new ReferenceMla(cfg, w, { path });
    const k = await kernels(build);
    const layer = new WasmMla(cfg, w, k, { path, initialCapacity: path === "naive" ? 1 : undefined });
    const rng = new Rng(4);
    k.arena.alloc(k.arena.headroom() - 64); // memory is now full: the next allocation must grow it
    const growsBefore = k.arena.grows;
    const bufBefore = k.arena.memory.buffer;
    const calls = [{ batch: 1, seqlen: 3, startPos: 0 }, { batch: 2, seqlen: 1, startPos: 0 }, { batch: 2, seqlen: 30, startPos: 1 }, { batch: 2, seqlen: 1, startPos: 31 }, { batch: 1, seqlen: 2, startPos: 20 }];
    for (const call of calls) {
      const x = rng.normalArray(call.batch * call.seqlen * cfg.dim);
      expect(firstMismatch(layer.forward(x, call), ref.forward(x, call), atol, rtol), JSON.stringify(call)).toBe(-1);
    }
    expect(k.arena.grows).toBeGreaterThan(growsBefore);
    expect(k.arena.memory.buffer).not.toBe(bufBefore);
    expect(bufBefore.byteLength).toBe(0); // the old buffer was detached by grow; views were re-created
    for (const name of ["k_cache", "v_cache", "kv_cache", "pe_cache"]) {
      const a = layer.cache.snapshot(2, 32)[name], r = ref.cache.snapshot(2, 32)[name];
      if (r) expect(firstMismatch(a.data, r.data, atol, rtol), name).toBe(-1);
    }
  });

  it.each(["naive", "absorbed", "recompute"] as const)("%s: decode steps allocate nothing once the cache has room", async (path) => {
    const w = randomMlaWeights(cfg, new Rng(6));
    const k = await kernels(build);
    const layer = new WasmMla(cfg, w, k, { path, initialCapacity: path === "naive" ? cfg.max_seq_len : undefined });
    const rng = new Rng(7);
    layer.forward(rng.normalArray(2 * 5 * cfg.dim), { batch: 2, seqlen: 5, startPos: 0 });
    const inUse = k.arena.bytesInUse(), reserved = k.arena.bytesReserved(), grows = k.arena.grows;
    for (let p = 5; p < 20; p++) layer.forward(rng.normalArray(2 * cfg.dim), { batch: 2, seqlen: 1, startPos: p });
    expect([k.arena.bytesInUse(), k.arena.bytesReserved(), k.arena.grows]).toEqual([inUse, reserved, grows]);
  });

  it.each(["naive", "absorbed", "recompute"] as const)("%s: a workspace poisoned with NaN before every call changes nothing (no kernel reads what it did not write)", async (path) => {
    const w = randomMlaWeights(cfg, new Rng(11));
    const ref = new ReferenceMla(cfg, w, { path });
    const layer = new WasmMla(cfg, w, await kernels(build), { path, initialCapacity: path === "naive" ? 2 : undefined });
    const rng = new Rng(12);
    const poison = (): void => {
      // every workspace buffer (the rope table's included) is recorded in ws.buffers as it is allocated
      const ws = (layer as unknown as { ws: { buffers: { fill(v: number): void }[] } | null }).ws;
      expect(ws?.buffers.length).toBeGreaterThan(5);
      for (const b of ws?.buffers ?? []) b.fill(NaN);
    };
    for (const call of [{ batch: 2, seqlen: 6, startPos: 0 }, { batch: 2, seqlen: 1, startPos: 6 }, { batch: 1, seqlen: 3, startPos: 4 }, { batch: 2, seqlen: 1, startPos: 7 }]) {
      poison();
      const x = rng.normalArray(call.batch * call.seqlen * cfg.dim);
      expect(firstMismatch(layer.forward(x, call), ref.forward(x, call), atol, rtol), JSON.stringify(call)).toBe(-1);
    }
  });

  it("dispose: later calls throw; the kernels are released", async () => {
    const w = randomMlaWeights(cfg, new Rng(8));
    const layer = new WasmMla(cfg, w, await kernels(build));
    layer.forward(new Float32Array(cfg.dim).fill(0.1), { batch: 1, seqlen: 1, startPos: 0 });
    layer.dispose();
    const ref = new ReferenceMla(cfg, w);
    ref.dispose();
    const e = thrown(() => layer.forward(new Float32Array(cfg.dim), { batch: 1, seqlen: 1, startPos: 1 })) as Error;
    expect(e).toBeInstanceOf(MlaError);
    expect(e.message).toBe((thrown(() => ref.forward(new Float32Array(cfg.dim), { batch: 1, seqlen: 1, startPos: 1 })) as Error).message);
    expect(() => layer.kernels).toThrow(MlaError);
  });

  it("random rollbacks: rewriting from any startPos <= length equals a fresh layer fed the surviving prefix", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 1, max: 6 }), fc.constantFrom("naive" as const, "absorbed" as const), fc.integer({ min: 1, max: 1e6 }), async (first, back, s2, path, seed) => {
        const rng = new Rng(seed);
        const w = randomMlaWeights(cfg, rng);
        const xa = rng.normalArray(first * cfg.dim), xb = rng.normalArray(s2 * cfg.dim);
        const startPos = Math.max(0, first - back);
        const a = new WasmMla(cfg, w, await kernels(build), { path });
        a.forward(xa, { batch: 1, seqlen: first, startPos: 0 });
        const ya = a.forward(xb, { batch: 1, seqlen: s2, startPos });
        const b = new WasmMla(cfg, w, await kernels(build), { path });
        if (startPos > 0) b.forward(xa.subarray(0, startPos * cfg.dim), { batch: 1, seqlen: startPos, startPos: 0 });
        const yb = b.forward(xb, { batch: 1, seqlen: s2, startPos });
        expect(firstMismatch(ya, yb, atol, rtol)).toBe(-1);
        expect(a.cache.length(0)).toBe(startPos + s2);
      }),
      { numRuns: 30 },
    );
  });
});
