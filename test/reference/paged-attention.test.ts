// The oracle over a paged latent cache. pagedAttend reads a sequence's records along its block
// table and attends as attendRow does: over block tables that forks, copies on write and
// rollbacks have scattered, it equals attendRow over the rows that were written (each through its
// codec round trip), bit for bit. ReferenceMla's cache option: the absorbed path over a
// LatentCache of a storage format, named and typed as such, refused on the other paths, and a
// call the pool cannot hold changes nothing.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeTokens, encodeTokens } from "../../src/cache/codecs.js";
import { LatentCache } from "../../src/cache/latent-cache.js";
import { STORAGE_FORMATS, type StorageFormat, tokenLayout } from "../../src/cache/layout.js";
import { makeConfig } from "../../src/config.js";
import { CacheError, MlaError } from "../../src/errors.js";
import { attendRow } from "../../src/reference/attention.js";
import { ReferenceMla } from "../../src/reference/mla.js";
import { pagedAttend } from "../../src/reference/paged-attention.js";
import { Rng, randomMlaWeights } from "../../src/weights.js";

/** A random token row [c | k_pe] (float32 values) and what the cache holds for it: its own round trip through `format` (codecs are tested in test/cache). */
function token(format: StorageFormat, C: number, dr: number, rng: Rng): { row: Float32Array; held: Float32Array } {
  const L = tokenLayout(format, C, dr);
  const row = Float32Array.from({ length: C + dr }, () => rng.normal());
  const rec = new Uint8Array(L.bytesPerToken), held = new Float32Array(C + dr);
  encodeTokens(L, row, 0, 1, rec, 0);
  decodeTokens(L, rec, 0, 1, held, 0);
  return { row, held };
}

describe("pagedAttend", () => {
  const opArb = fc.record({ kind: fc.constantFrom("append", "rewrite", "fork"), pick: fc.nat(), a: fc.nat(), n: fc.integer({ min: 1, max: 80 }) });
  it("over scattered block tables (forks, copies on write, rollbacks) == attendRow over the rows written, bit for bit", () => {
    fc.assert(
      fc.property(fc.constantFrom(...STORAGE_FORMATS), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.array(opArb, { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 1e9 }), (format, C, half, H, ops, seed) => {
        const dr = 2 * half, W = C + dr;
        const cfg = makeConfig({ dim: 8, n_heads: H, q_lora_rank: 0, kv_lora_rank: C, qk_nope_head_dim: 4, qk_rope_head_dim: dr, v_head_dim: 4, max_seq_len: 200, original_seq_len: 200, max_batch_size: 1 });
        const cache = new LatentCache(cfg, { format, maxBlocks: 64, maxSequences: 8 });
        const rng = new Rng(seed);
        const rows = new Map<number, Float32Array[]>([[0, []]]);
        for (const op of ops) {
          const ids = [...rows.keys()], seq = ids[op.pick % ids.length], have = rows.get(seq)!;
          if (op.kind === "fork") {
            if (ids.length < 8) rows.set(cache.fork(seq, op.a % (have.length + 1)), have.slice(0, op.a % (have.length + 1)));
            continue;
          }
          const start = op.kind === "append" ? have.length : op.a % (have.length + 1), n = Math.min(op.n, 200 - start);
          if (n < 1) continue;
          const fresh = Array.from({ length: n }, () => token(format, C, dr, rng));
          const c = new Float64Array(n * C), kpe = new Float64Array(n * dr);
          fresh.forEach(({ row }, t) => {
            c.set(row.subarray(0, C), t * C);
            kpe.set(row.subarray(C), t * dr);
          });
          cache.write(seq, start, c, kpe);
          rows.set(seq, [...have.slice(0, start), ...fresh.map((f) => f.held)]);
        }
        for (const [seq, want] of rows) {
          const T = want.length;
          if (T < 2) continue;
          const s = 1 + (seed % Math.min(3, T)), startPos = T - s;
          const q = Float64Array.from({ length: s * H * W }, () => rng.normal());
          const keys = new Float64Array(T * W), vals = new Float64Array(T * C);
          want.forEach((r, t) => {
            keys.set(r, t * W);
            vals.set(r.subarray(0, C), t * C);
          });
          expect(pagedAttend(cache, seq, { q, s, startPos, heads: H, scale: 0.3 })).toEqual(attendRow({ q, k: keys, v: vals, s, startPos, hq: H, hkv: 1, dqk: W, dv: C, scale: 0.3 }));
        }
      }),
      { numRuns: 80 },
    );
  });

  it("a range past the cached tokens is a CacheError", () => {
    const cfg = makeConfig({ dim: 8, n_heads: 1, q_lora_rank: 0, kv_lora_rank: 4, qk_nope_head_dim: 4, qk_rope_head_dim: 2, v_head_dim: 4, max_seq_len: 16, original_seq_len: 16, max_batch_size: 1 });
    const cache = new LatentCache(cfg);
    cache.append(0, new Float64Array(3 * 4), new Float64Array(3 * 2));
    expect(() => pagedAttend(cache, 0, { q: new Float64Array(2 * 6), s: 2, startPos: 2, heads: 1, scale: 1 })).toThrow(CacheError);
    expect(() => pagedAttend(cache, 0, { q: new Float64Array(6), s: 1, startPos: 2, heads: 1, scale: 1 })).not.toThrow();
  });
});

describe("ReferenceMla with options.cache", () => {
  const cfg = makeConfig({ dim: 16, n_heads: 2, q_lora_rank: 0, kv_lora_rank: 8, qk_nope_head_dim: 4, qk_rope_head_dim: 4, v_head_dim: 4, max_seq_len: 256, original_seq_len: 256, max_batch_size: 2 });
  const weights = randomMlaWeights(cfg, new Rng(5));

  it("keeps the absorbed path's latents in a LatentCache of the format, named reference+cache-<format>", () => {
    const layer = new ReferenceMla(cfg, weights, { path: "absorbed", cache: { format: "fp8_e4m3", maxBlocks: 4 } });
    expect([layer.backend, layer.kind]).toEqual(["reference+cache-fp8_e4m3", "mla-absorbed"]);
    expect(layer.cache).toBeInstanceOf(LatentCache);
    expect([layer.cache.format, layer.cache.pool.maxBlocks]).toEqual(["fp8_e4m3", 4]);
    layer.forward(new Rng(6).normalArray(2 * 3 * 16), { batch: 2, seqlen: 3, startPos: 0 });
    expect([layer.cache.length(0), layer.cache.length(1), layer.cache.bytesInUse()]).toEqual([3, 3, 6 * tokenLayout("fp8_e4m3", 8, 4).bytesPerToken]);
    expect(new ReferenceMla(cfg, weights).backend).toBe("reference");
  });

  it("is refused on the naive and recompute paths (they do not attend over latents alone)", () => {
    for (const path of ["naive", "recompute"] as const) expect(() => new ReferenceMla(cfg, weights, { path, cache: { format: "bf16" } })).toThrow(MlaError);
  });

  it("a call the pool cannot hold throws a CacheError and changes nothing: the next call equals a layer's that never saw it", () => {
    const rng = new Rng(7);
    const x60 = rng.normalArray(2 * 60 * 16), x10 = rng.normalArray(2 * 10 * 16), x1 = rng.normalArray(2 * 16);
    const small = new ReferenceMla(cfg, weights, { path: "absorbed", cache: { format: "int8", maxBlocks: 3 } });
    const clean = new ReferenceMla(cfg, weights, { path: "absorbed", cache: { format: "int8", maxBlocks: 3 } });
    small.forward(x60, { batch: 2, seqlen: 60, startPos: 0 }); // 2 of 3 blocks
    clean.forward(x60, { batch: 2, seqlen: 60, startPos: 0 });
    const records = [small.cache.readRecords(0), small.cache.readRecords(1)];
    expect(() => small.forward(x10, { batch: 2, seqlen: 10, startPos: 60 })).toThrow(CacheError); // both rows cross into a second block: 2 > 1 free
    expect([small.cache.length(0), small.cache.length(1), small.cache.blocksInUse()]).toEqual([60, 60, 2]);
    expect([small.cache.readRecords(0), small.cache.readRecords(1)]).toEqual(records);
    expect(small.forward(x1, { batch: 2, seqlen: 1, startPos: 60 })).toEqual(clean.forward(x1, { batch: 2, seqlen: 1, startPos: 60 }));
  });
});
