// Issue 13 item 8: a failed chunked call on the paged layer while a fork shares the row's blocks
// restored contents and lengths but not the block accounting (blocks in use 2 -> 3, the row's
// table changed): the old undo truncated the row and appended its saved records, which took
// fresh blocks instead of the shared ones. Now the call's checkpoint keeps the rows' block tables
// and the records a write may touch, and the restore puts back tables, refcounts and bytes.
// Item 10's part: a paged layer at max_seq_len 2^31-1 with a small pool allocates nothing
// proportional to max_seq_len.
import { describe, expect, it } from "vitest";
import { makeConfig } from "../../src/config.js";
import { CacheError, NonFiniteError } from "../../src/errors.js";
import type { StorageFormat } from "../../src/cache/layout.js";
import { Rng, randomMlaWeights } from "../../src/weights.js";
import { createWasmBackend } from "../../src/wasm/node.js";
import type { WasmMla } from "../../src/wasm/mla-layer.js";
import type { WasmPagedCache } from "../../src/wasm/paged-cache.js";
import { thrown } from "../reference/error-helpers.js";

const cfg = makeConfig({ dim: 16, n_heads: 2, q_lora_rank: 0, kv_lora_rank: 8, qk_nope_head_dim: 4, qk_rope_head_dim: 4, v_head_dim: 4, max_seq_len: 256, original_seq_len: 256, max_batch_size: 2 });
const w = randomMlaWeights(cfg, new Rng(1));
type Paged = WasmMla & { cache: WasmPagedCache };

function state(l: Paged) {
  const lat = l.cache.latent;
  const seqs = lat.sequenceIds();
  return {
    seqs,
    lengths: seqs.map((s) => lat.length(s)),
    tables: seqs.map((s) => Array.from(lat.blockTable(s))),
    records: seqs.map((s) => lat.readRecords(s)),
    refs: seqs.map((s) => Array.from(lat.blockTable(s), (b) => lat.pool.refCount(b))),
    blocksInUse: lat.blocksInUse(),
    freeBlocks: lat.pool.freeBlocks(),
    bytesInUse: lat.bytesInUse(),
    arena: l.kernels.arena.bytesInUse(),
  };
}

describe("paged layer: a failed chunked call restores copy-on-write state", () => {
  for (const format of ["f32", "f16", "fp8_e4m3"] as StorageFormat[]) {
    it(`${format}: rows sharing blocks with forks, a rollback call failing in its third chunk`, async () => {
      const backend = await createWasmBackend({ build: "simd128" });
      const layer = (await backend.createMla(cfg, w, { path: "absorbed", cacheFormat: format, maxChunkTokens: 4 })) as Paged;
      const rng = new Rng(7);
      layer.forward(rng.normalArray(2 * 100 * 16), { batch: 2, seqlen: 100, startPos: 0 });
      const lat = layer.cache.latent;
      lat.release(1); // a free sequence slot (maxSequences is max_batch_size)
      const f = lat.fork(0, 90); // shares both blocks of row 0, the second one partially
      expect(lat.pool.refCount(lat.blockTable(0)[1])).toBe(2);
      expect(lat.blocksInUse()).toBe(2);
      const before = state(layer);
      const x = rng.normalArray(20 * 16);
      x.fill(1e20, 10 * 16, 11 * 16); // token 10 of the call: the third chunk
      const err = thrown(() => layer.forward(x, { batch: 1, seqlen: 20, startPos: 70 }));
      expect(err).toBeInstanceOf(format === "f32" ? NonFiniteError : Error);
      expect(state(layer)).toEqual(before);
      // the same with a call that appends to the shared partial block (copy on write), failing late
      const y = rng.normalArray(20 * 16);
      y.fill(1e20, 15 * 16, 16 * 16);
      expect(thrown(() => layer.forward(y, { batch: 1, seqlen: 20, startPos: 90 }))).toBeInstanceOf(Error);
      expect(state(layer)).toEqual(before);
      // the fork can still be read, released, and the layer goes on as one that never failed
      expect(lat.readRecords(f)).toEqual(lat.readRecords(0, 0, 90));
      lat.release(f);
      expect(lat.blocksInUse()).toBe(2);
      expect(layer.forward(rng.normalArray(16), { batch: 1, seqlen: 1, startPos: 100 }).every(Number.isFinite)).toBe(true);
    });
  }
});

describe("paged layer sizes (the layer's part)", () => {
  it("max_seq_len 2^31-1 with a 2-block pool allocates nothing proportional to max_seq_len", async () => {
    const huge = makeConfig({ ...cfg, max_seq_len: 2 ** 31 - 1, original_seq_len: 2 ** 31 - 1, max_batch_size: 2 });
    const backend = await createWasmBackend({ build: "simd128" });
    const js0 = process.memoryUsage().arrayBuffers;
    const layer = (await backend.createMla(huge, w, { path: "absorbed", cacheBlocks: 2 })) as Paged;
    const rng = new Rng(3);
    layer.forward(rng.normalArray(2 * 64 * 16), { batch: 2, seqlen: 64, startPos: 0 });
    expect(thrown(() => layer.forward(rng.normalArray(16), { batch: 1, seqlen: 1, startPos: 64 }))).toBeInstanceOf(CacheError); // a third block
    expect(layer.kernels.arena.bytesReserved()).toBeLessThan(8 << 20);
    expect(process.memoryUsage().arrayBuffers - js0).toBeLessThan(16 << 20);
    expect(layer.cache.latent.pool.maxBlocks).toBe(2);
  });
});
