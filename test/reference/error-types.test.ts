// Issue 13 item 9: every failure a caller can cause is one of the documented error types
// (ConfigError, ShapeError, PositionError, NonFiniteError, FormatError, CacheError; src/errors.ts),
// never the base MlaError, a TypeError or a RangeError. The oracle's side: calls after dispose(),
// bad options, writeBatch(null) and friends on a LatentCache, allocations the runtime refuses,
// randomMlaWeights for a config too large to allocate.
import { describe, expect, it } from "vitest";
import { makeConfig } from "../../src/config.js";
import { CacheError, ConfigError, ShapeError } from "../../src/errors.js";
import { documented } from "./error-helpers.js";
import { LatentCache } from "../../src/cache/latent-cache.js";
import { ReferenceMla } from "../../src/reference/mla.js";
import { ReferenceMha, mhaWeightShapes } from "../../src/reference/baselines.js";
import { ReferenceSeedLowRank, seedWeightShapes } from "../../src/reference/seed-lowrank.js";
import { Rng, randomMlaWeights, randomWeights } from "../../src/weights.js";

const cfg = makeConfig({ dim: 8, n_heads: 2, q_lora_rank: 0, kv_lora_rank: 8, qk_nope_head_dim: 2, qk_rope_head_dim: 2, v_head_dim: 2, max_seq_len: 64, original_seq_len: 64, max_batch_size: 2 });
const w = randomMlaWeights(cfg, new Rng(1));
const mha = { dim: 8, n_heads: 2, n_kv_heads: 1, head_dim: 4, v_head_dim: 4, rope_dim: 2, rope_theta: 10000, max_seq_len: 64, max_batch_size: 2, rope_layout: "interleaved" as const };

describe("reference: documented error types only", () => {
  it("every layer kind refuses calls after dispose() with CacheError", () => {
    const layers = [
      new ReferenceMla(cfg, w, { path: "naive" }),
      new ReferenceMla(cfg, w, { path: "absorbed" }),
      new ReferenceMla(cfg, w, { path: "recompute" }),
      new ReferenceMla(cfg, w, { path: "absorbed", cache: { format: "int8" } }),
      new ReferenceMha(mha, randomWeights(mhaWeightShapes(mha), new Rng(1), []) as never),
      new ReferenceSeedLowRank({ ...mha, rank: 2 }, randomWeights(seedWeightShapes({ ...mha, rank: 2 }), new Rng(1), []) as never),
    ];
    for (const l of layers) {
      l.forward(new Float32Array(8), { batch: 1, seqlen: 1, startPos: 0 });
      l.dispose();
      const e = documented(() => l.forward(new Float32Array(8), { batch: 1, seqlen: 1, startPos: 1 }));
      expect(e).toBeInstanceOf(CacheError);
      expect(e.message).toMatch(/disposed/);
      expect(l.cache.length(0)).toBe(1);
    }
  });

  it("bad options are ConfigErrors", () => {
    expect(documented(() => new ReferenceMla(cfg, w, { path: "fast" as never }))).toBeInstanceOf(ConfigError);
    expect(documented(() => new ReferenceMla(cfg, w, { path: "naive", cache: { format: "f32" } }))).toBeInstanceOf(ConfigError);
  });

  it("LatentCache batch calls with null, non-arrays or null entries are ShapeErrors", () => {
    const c = new LatentCache(cfg);
    for (const bad of [null, undefined, 3, "x", {}, [null], [undefined], [3]]) {
      expect(documented(() => c.writeBatch(bad as never))).toBeInstanceOf(ShapeError);
      expect(documented(() => c.placeBatch(bad as never, () => {}))).toBeInstanceOf(ShapeError);
      expect(documented(() => c.checkPlacement(bad as never))).toBeInstanceOf(ShapeError);
    }
    documented(() => c.appendRecords(0, null as never, "f32"));
    documented(() => c.checkValues(0, null as never, null as never));
    expect(c.length(0)).toBe(0);
  });

  it("allocations the runtime refuses are CacheErrors (memory), configs too large for their weights ConfigErrors", () => {
    const wide = makeConfig({ ...cfg, max_seq_len: 2 ** 40, original_seq_len: 2 ** 40 });
    const layer = new ReferenceMla(wide, randomMlaWeights(wide, new Rng(1)), { path: "naive" });
    const n = 2 ** 33; // B*s*D elements: no runtime holds that as a Float64Array copy
    const huge = new Proxy({ length: n }, { get: (t, k) => (k === "length" ? n : 0) }) as unknown as ArrayLike<number>;
    expect(documented(() => layer.forward(huge, { batch: 1, seqlen: n / 8, startPos: 0 }))).toBeInstanceOf(CacheError);
    expect(layer.cache.length(0)).toBe(0);
    expect(documented(() => new ReferenceMla(makeConfig({ ...cfg, max_batch_size: 2 ** 33 }), w))).toBeInstanceOf(CacheError);
    expect(documented(() => randomMlaWeights(makeConfig({ ...cfg, dim: 1e15 }), new Rng(1)))).toBeInstanceOf(ConfigError);
  });
});
