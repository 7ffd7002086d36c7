// Bad input: typed errors naming field, value and expectation; a failed call changes nothing.
import { describe, expect, it } from "vitest";
import { makeConfig } from "../../src/config.js";
import { NonFiniteError, PositionError, ShapeError } from "../../src/errors.js";
import { ReferenceMla } from "../../src/reference/mla.js";
import { Rng, randomMlaWeights } from "../../src/weights.js";

const cfg = makeConfig({ dim: 12, n_heads: 2, q_lora_rank: 6, kv_lora_rank: 8, qk_nope_head_dim: 4, qk_rope_head_dim: 4, v_head_dim: 3, max_seq_len: 10, original_seq_len: 10, max_batch_size: 2 });

function layerWithCache() {
  const rng = new Rng(3);
  const layer = new ReferenceMla(cfg, randomMlaWeights(cfg, rng), { path: "absorbed" });
  layer.forward(rng.normalArray(2 * 6 * 12), { batch: 2, seqlen: 6, startPos: 0 });
  return { layer, rng };
}

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a throw");
}

describe("weights", () => {
  it("wrong, missing and superfluous weights are ShapeErrors naming the weight", () => {
    const w = randomMlaWeights(cfg, new Rng(1));
    const short = thrown(() => new ReferenceMla(cfg, { ...w, wkv_b: new Float32Array(5) })) as ShapeError;
    expect(short).toBeInstanceOf(ShapeError);
    expect(short.message).toBe(`weights.wkv_b.length = 5: expected ${2 * 7 * 8} = [14, 8]`);
    const missing = thrown(() => new ReferenceMla(cfg, { ...w, wo: undefined as unknown as Float32Array }));
    expect(missing).toBeInstanceOf(ShapeError);
    expect(missing.message).toMatch(/^weights\.wo = undefined \(missing\): expected an array of shape \[12, 6\]/);
    const extra = thrown(() => new ReferenceMla(cfg, { ...w, wq: new Float32Array(16 * 12) }));
    expect(extra.message).toMatch(/weights\.wq .*absent for this config/);
    const nan = w.kv_norm as Float32Array;
    nan[3] = NaN;
    expect(thrown(() => new ReferenceMla(cfg, w))).toBeInstanceOf(NonFiniteError);
  });
});

describe("forward arguments", () => {
  it("startPos + s > max_seq_len throws a PositionError and the cache is unchanged", () => {
    const { layer, rng } = layerWithCache();
    const before = layer.cache.snapshot(2, 6);
    const err = thrown(() => layer.forward(rng.normalArray(2 * 5 * 12), { batch: 2, seqlen: 5, startPos: 6 }));
    expect(err).toBeInstanceOf(PositionError);
    expect(err.message).toBe("startPos + seqlen = 11: expected <= max_seq_len (10) (startPos 6, seqlen 5)");
    const after = layer.cache.snapshot(2, 6);
    expect(after.kv_cache.data).toEqual(before.kv_cache.data);
    expect(after.pe_cache.data).toEqual(before.pe_cache.data);
    expect([layer.cache.length(0), layer.cache.length(1)]).toEqual([6, 6]);
  });

  it("NaN or Inf in the input is reported with where it was found; the cache is unchanged", () => {
    const { layer, rng } = layerWithCache();
    const before = layer.cache.snapshot(2, 6);
    const x = rng.normalArray(2 * 2 * 12);
    x[1 * 2 * 12 + 1 * 12 + 5] = NaN; // b 1, t 1, d 5
    const err = thrown(() => layer.forward(x, { batch: 2, seqlen: 2, startPos: 6 })) as NonFiniteError;
    expect(err).toBeInstanceOf(NonFiniteError);
    expect(err.field).toBe("x[1, 1, 5]");
    x[1 * 2 * 12 + 1 * 12 + 5] = 0;
    x[7] = -Infinity;
    expect(thrown(() => layer.forward(x, { batch: 2, seqlen: 2, startPos: 6 })).message).toMatch(/^x\[0, 0, 7\] = -Infinity: expected a finite number/);
    expect(layer.cache.snapshot(2, 6)).toEqual(before);
    expect(layer.cache.length(0)).toBe(6);
  });

  it("bad shapes, batches and positions are typed errors naming the field", () => {
    const { layer, rng } = layerWithCache();
    expect(thrown(() => layer.forward(rng.normalArray(11), { batch: 1, seqlen: 1, startPos: 6 })).message).toBe("x.length = 11: expected 12 = B 1 x s 1 x D 12");
    expect(thrown(() => layer.forward(rng.normalArray(36), { batch: 3, seqlen: 1, startPos: 0 })).message).toBe("batch = 3: expected an integer in 1..2 (max_batch_size)");
    expect(thrown(() => layer.forward(rng.normalArray(12), { batch: 1, seqlen: 0, startPos: 0 }))).toBeInstanceOf(PositionError);
    expect(thrown(() => layer.forward(rng.normalArray(12), { batch: 1, seqlen: 1, startPos: -1 })).message).toMatch(/^startPos = -1/);
    // A gap after the cached tokens would read positions that were never written.
    expect(thrown(() => layer.forward(rng.normalArray(12), { batch: 1, seqlen: 1, startPos: 7 })).message).toBe("startPos = 7: expected <= the 6 tokens cached for batch row 0 (positions must be contiguous)");
    expect(layer.cache.length(0)).toBe(6);
  });

  it("a disposed layer refuses to run", () => {
    const { layer, rng } = layerWithCache();
    layer.dispose();
    expect(() => layer.forward(rng.normalArray(12), { batch: 1, seqlen: 1, startPos: 6 })).toThrow(/disposed/);
  });
});

describe("error messages", () => {
  it("show hostile values briefly: deep nesting, long strings, big objects", async () => {
    const { showValue } = await import("../../src/errors.js");
    let deep: unknown = 1;
    for (let i = 0; i < 100000; i++) deep = [deep];
    expect(showValue(deep)).toBe("[[[...]]]");
    let deepObj: unknown = 1;
    for (let i = 0; i < 100000; i++) deepObj = { a: deepObj };
    expect(showValue(deepObj)).toBe('{"a": {"a": {...}}}');
    expect(showValue("x".repeat(1000)).length).toBeLessThan(90);
    expect(showValue(Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i]))).length).toBeLessThanOrEqual(120);
    expect(showValue(new Float32Array(7))).toBe("Float32Array(length 7)");
    expect(showValue(NaN)).toBe("NaN");
  });
});
