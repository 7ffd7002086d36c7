// Issue 13 item 7: re-entrant or changing inputs, on every layer kind (WASM naive and paged in
// every format, the oracle's three paths and its cache option, the baselines). A Proxy whose
// getter called forward on the same layer during the copy corrupted the WASM layers (output off,
// wrong latents in the cache), and a getter finite on the first read and NaN on the second
// slipped NaN into the caches. Now forward reads each input exactly once into memory it owns and
// validates that copy; a forward that starts while another runs on the same layer is refused
// (CacheError), and whatever a getter does to the layer during the copy is seen by the checks.
import { describe, expect, it } from "vitest";
import { makeConfig } from "../../src/config.js";
import { CacheError, NonFiniteError, PositionError } from "../../src/errors.js";
import type { AttentionLayer, ForwardOptions } from "../../src/layer.js";
import { ReferenceMla } from "../../src/reference/mla.js";
import { ReferenceMha, mhaWeightShapes } from "../../src/reference/baselines.js";
import { ReferenceSeedLowRank, seedWeightShapes } from "../../src/reference/seed-lowrank.js";
import { Rng, randomMlaWeights, randomWeights } from "../../src/weights.js";
import { createWasmBackend } from "../../src/wasm/node.js";
import { thrown } from "../reference/error-helpers.js";

const cfg = makeConfig({ dim: 16, n_heads: 2, q_lora_rank: 0, kv_lora_rank: 8, qk_nope_head_dim: 4, qk_rope_head_dim: 4, v_head_dim: 4, max_seq_len: 64, original_seq_len: 64, max_batch_size: 2 });
const w = randomMlaWeights(cfg, new Rng(1));
const mha = { dim: 16, n_heads: 2, n_kv_heads: 1, head_dim: 4, v_head_dim: 4, rope_dim: 2, rope_theta: 10000, max_seq_len: 64, max_batch_size: 2, rope_layout: "interleaved" as const };

type Maker = () => Promise<AttentionLayer>;
const backend = createWasmBackend({ build: "simd128" });
const MAKERS: [string, Maker][] = [
  ["wasm naive", async () => (await backend).createMla(cfg, w, { path: "naive" })],
  ...(["f32", "bf16", "int8"] as const).map((f): [string, Maker] => [`wasm absorbed ${f}`, async () => (await backend).createMla(cfg, w, { path: "absorbed", cacheFormat: f })]),
  ["wasm absorbed f32, chunks of 2", async () => (await backend).createMla(cfg, w, { path: "absorbed", maxChunkTokens: 2 })],
  ["wasm recompute int8", async () => (await backend).createMla(cfg, w, { path: "recompute", cacheFormat: "int8" })],
  ["wasm mqa", async () => (await backend).createMha(mha, randomWeights(mhaWeightShapes(mha), new Rng(1), []) as never)],
  ["wasm seed", async () => (await backend).createSeedLowRank({ ...mha, rank: 2 }, randomWeights(seedWeightShapes({ ...mha, rank: 2 }), new Rng(1), []) as never)],
  ...(["naive", "absorbed", "recompute"] as const).map((path): [string, Maker] => [`reference ${path}`, async () => new ReferenceMla(cfg, w, { path })]),
  ["reference absorbed + cache f16", async () => new ReferenceMla(cfg, w, { path: "absorbed", cache: { format: "f16" } })],
  ["reference mha", async () => new ReferenceMha(mha, randomWeights(mhaWeightShapes(mha), new Rng(1), []) as never)],
  ["reference seed", async () => new ReferenceSeedLowRank({ ...mha, rank: 2 }, randomWeights(seedWeightShapes({ ...mha, rank: 2 }), new Rng(1), []) as never)],
];

function state(l: AttentionLayer) {
  return { lengths: [l.cache.length(0), l.cache.length(1)], bytes: l.cache.bytesInUse(), snap: l.cache.snapshot(2, 64) };
}

/** An array-like over `data` whose element reads run `onRead(i, readCount)` and return its result (undefined: the element). */
function hostile(data: ArrayLike<number>, onRead: (i: number, reads: number) => number | undefined): ArrayLike<number> {
  const reads = new Map<number, number>();
  return new Proxy({ length: data.length } as Record<string | number, unknown>, {
    get(target, key) {
      if (key === "length") return data.length;
      if (typeof key === "string" && /^\d+$/.test(key)) {
        const i = Number(key);
        const n = (reads.get(i) ?? 0) + 1;
        reads.set(i, n);
        return onRead(i, n) ?? data[i];
      }
      return target[key as string];
    },
  }) as unknown as ArrayLike<number>;
}

const X0 = new Rng(2).normalArray(2 * 6 * 16);
const X1 = new Rng(3).normalArray(2 * 3 * 16);
const CALL0: ForwardOptions = { batch: 2, seqlen: 6, startPos: 0 };
const CALL1: ForwardOptions = { batch: 2, seqlen: 3, startPos: 4 }; // rolls both rows back 2 tokens

/** Two layers after the same first call; `want` is the clean one's output for CALL1 (which it has run). */
async function twins(make: Maker): Promise<{ clean: AttentionLayer; want: ArrayLike<number>; layer: AttentionLayer }> {
  const clean = await make();
  clean.forward(X0, CALL0);
  const want = clean.forward(X1, CALL1);
  const layer = await make();
  layer.forward(X0, CALL0);
  return { clean, want, layer };
}

for (const [name, make] of MAKERS) {
  describe(`${name}`, () => {
    it("a getter that calls forward on the same layer is refused inside, and the outer call is exactly a plain call", async () => {
      const { clean, want, layer } = await twins(make);
      const inner: unknown[] = [];
      const x = hostile(X1, (i, n) => {
        if (n === 1 && i % 7 === 3) inner.push(thrown(() => layer.forward(X1.subarray(0, 16), { batch: 1, seqlen: 1, startPos: 1 })));
        return undefined;
      });
      const y = layer.forward(x, CALL1);
      expect(inner.length).toBeGreaterThan(0);
      for (const e of inner) expect(e).toBeInstanceOf(CacheError);
      expect(y).toEqual(want);
      expect(state(layer)).toEqual(state(clean));
      // a getter that lets the inner error escape fails the outer call, which then changes nothing
      const before = state(layer);
      const escaping = hostile(X1, (i) => (i === 20 ? (layer.forward(X1, CALL1), 0) : undefined));
      expect(thrown(() => layer.forward(escaping, { batch: 2, seqlen: 3, startPos: 7 }))).toBeInstanceOf(CacheError);
      expect(state(layer)).toEqual(before);
      expect(layer.forward(X1, { batch: 2, seqlen: 3, startPos: 7 })).toEqual(clean.forward(X1, { batch: 2, seqlen: 3, startPos: 7 }));
    });

    it("a value finite on the first read and NaN on later reads is read once: nothing NaN reaches the cache", async () => {
      const { clean, want, layer } = await twins(make);
      const y = layer.forward(hostile(X1, (_, n) => (n > 1 ? NaN : undefined)), CALL1);
      expect(y).toEqual(want);
      expect(state(layer)).toEqual(state(clean));
      expect(Array.from(Object.values(state(layer).snap)).every((t) => t.data.every(Number.isFinite))).toBe(true);
      // and NaN on the first read is refused as before
      expect(thrown(() => layer.forward(hostile(X1, (i, n) => (i === 5 && n === 1 ? NaN : undefined)), CALL1))).toBeInstanceOf(NonFiniteError);
    });

    it("options read once; a getter that disposes the layer or empties a row during the copy is caught by the checks", async () => {
      const layer = await make();
      layer.forward(X0, CALL0);
      const before = state(layer);
      let reads = 0;
      const opts = { batch: 2, startPos: 4, get seqlen() { return ++reads === 1 ? 3 : 1000; } } as ForwardOptions;
      const clean = await make();
      clean.forward(X0, CALL0);
      expect(layer.forward(X1, opts)).toEqual(clean.forward(X1, CALL1));
      expect(reads).toBe(1);
      // a row emptied by a getter (through the layer's own cache) before the positions are checked
      const latent = (layer.cache as unknown as { latent?: { truncate(b: number, p: number): void } }).latent;
      if (latent) {
        const x = hostile(X1, (i, n) => (i === 0 && n === 1 ? (latent.truncate(1, 0), undefined) : undefined));
        expect(thrown(() => layer.forward(x, { batch: 2, seqlen: 3, startPos: 7 }))).toBeInstanceOf(PositionError);
        expect(layer.cache.length(1)).toBe(0);
      }
      const lengths = [layer.cache.length(0), layer.cache.length(1)];
      const dying = hostile(X1, (i) => (i === 1 ? (layer.dispose(), undefined) : undefined));
      const err = thrown(() => layer.forward(dying, { batch: 2, seqlen: 3, startPos: 0 }));
      expect(err).toBeInstanceOf(CacheError);
      expect([layer.cache.length(0), layer.cache.length(1)]).toEqual(lengths);
      expect(before.lengths).toEqual([6, 6]);
    });
  });
}
