// The paged latent cache against an independent model: per sequence, the decoded rows it should
// hold and a list of block "tags" (a tag is shared by forks and replaced on the first write into a
// shared block), from which the expected block count, bytes in use and pool exhaustion follow.
// Plus: exact byte accounting in hand-computed scenarios, and every error leaving the cache
// unchanged. (Attention over a block table is the oracle's: test/reference/paged-attention.test.ts.)
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeTokens, encodeTokens } from "../../src/cache/codecs.js";
import { LatentCache } from "../../src/cache/latent-cache.js";
import { STORAGE_FORMATS, type StorageFormat, tokenLayout } from "../../src/cache/layout.js";
import { type MlaConfig, makeConfig } from "../../src/config.js";
import { CacheError, NonFiniteError, ShapeError } from "../../src/errors.js";
import { Rng } from "../../src/weights.js";

function cfgOf(C: number, dr: number, maxSeqLen = 300, batch = 2): MlaConfig {
  return makeConfig({ dim: 8, n_heads: 2, q_lora_rank: 0, kv_lora_rank: C, qk_nope_head_dim: 4, qk_rope_head_dim: dr, v_head_dim: 4, max_seq_len: maxSeqLen, original_seq_len: maxSeqLen, max_batch_size: batch });
}

/** Everything observable about a cache, to compare before/after a failing call. */
function observe(cache: LatentCache): unknown {
  return {
    storage: Array.from(cache.pool.storage),
    ids: cache.sequenceIds(),
    seqs: cache.sequenceIds().map((id) => [cache.length(id), Array.from(cache.blockTable(id))]),
    inUse: cache.bytesInUse(),
    blocks: cache.blocksInUse(),
  };
}

function randomRows(rng: Rng, n: number, C: number, dr: number): { c: Float64Array; kpe: Float64Array } {
  const c = new Float64Array(n * C), kpe = new Float64Array(n * dr);
  for (let i = 0; i < c.length; i++) c[i] = rng.normal();
  for (let i = 0; i < kpe.length; i++) kpe[i] = rng.normal() * 2;
  return { c, kpe };
}

/** What each token should read back as: its own codec round trip (codecs are tested elsewhere). */
function expectedRows(format: StorageFormat, C: number, dr: number, c: Float64Array, kpe: Float64Array): Float32Array[] {
  const L = tokenLayout(format, C, dr);
  const n = c.length / C, out: Float32Array[] = [];
  for (let t = 0; t < n; t++) {
    const row = new Float32Array(C + dr);
    row.set(c.subarray(t * C, (t + 1) * C));
    row.set(kpe.subarray(t * dr, (t + 1) * dr), C);
    const rec = new Uint8Array(L.bytesPerToken);
    encodeTokens(L, row, 0, 1, rec, 0);
    const back = new Float32Array(C + dr);
    decodeTokens(L, rec, 0, 1, back, 0);
    out.push(back);
  }
  return out;
}

describe("byte accounting (hand arithmetic)", () => {
  it("f32, C 10, dr 4: 56 bytes per token; append, fork, copy on write, truncate, release", () => {
    const bpt = 4 * (10 + 4); // 56
    const cache = new LatentCache(cfgOf(10, 4), { format: "f32", maxBlocks: 5, maxSequences: 3 });
    expect(cache.bytesPerToken()).toBe(56);
    expect(cache.bytesReserved()).toBe(5 * 64 * 56);
    expect([cache.bytesInUse(), cache.blocksInUse()]).toEqual([0, 0]);
    const rng = new Rng(1);
    const r70 = randomRows(rng, 70, 10, 4);
    cache.append(0, r70.c, r70.kpe);
    expect([cache.bytesInUse(), cache.blocksInUse(), cache.bytesAllocated()]).toEqual([70 * bpt, 2, 2 * 64 * bpt]);
    const f = cache.fork(0, 66); // shares both blocks; block 1 holds 6 tokens of seq 0 and 2 of the fork
    expect([cache.bytesInUse(), cache.blocksInUse(), cache.length(f)]).toEqual([70 * bpt, 2, 66]);
    const r1 = randomRows(rng, 1, 10, 4);
    cache.append(f, r1.c, r1.kpe); // copy on write: the fork gets its own block 1 with 3 tokens
    expect([cache.bytesInUse(), cache.blocksInUse()]).toEqual([(70 + 3) * bpt, 3]);
    expect(Array.from(cache.blockTable(f))[0]).toBe(Array.from(cache.blockTable(0))[0]);
    expect(Array.from(cache.blockTable(f))[1]).not.toBe(Array.from(cache.blockTable(0))[1]);
    cache.truncate(0, 10); // seq 0: one block, 10 tokens; block 0 still shared with the fork (64 used)
    expect([cache.bytesInUse(), cache.blocksInUse()]).toEqual([(64 + 3) * bpt, 2]);
    cache.release(f);
    expect([cache.bytesInUse(), cache.blocksInUse()]).toEqual([10 * bpt, 1]);
  });
  it("fp8_e4m3 at V3 sizes: 656 bytes per token, 64 x 656 per block", () => {
    const cache = new LatentCache(cfgOf(512, 64, 256, 1), { format: "fp8_e4m3", maxBlocks: 3 });
    const r = randomRows(new Rng(2), 65, 512, 64);
    cache.append(0, r.c, r.kpe);
    expect([cache.bytesPerToken(), cache.bytesInUse(), cache.bytesAllocated(), cache.bytesReserved()]).toEqual([656, 65 * 656, 2 * 64 * 656, 3 * 64 * 656]);
  });
});

describe("model-based: random appends, writes, truncations, forks and releases", () => {
  interface Model {
    rows: Map<number, Float32Array[]>;
    tags: Map<number, number[]>;
  }
  const opArb = fc.record({
    kind: fc.constantFrom("append", "append", "write", "truncate", "fork", "release", "open"),
    pick: fc.nat(),
    a: fc.nat(),
    n: fc.integer({ min: 1, max: 90 }),
  });
  const scenarioArb = fc.record({
    format: fc.constantFrom(...STORAGE_FORMATS),
    C: fc.integer({ min: 1, max: 20 }),
    dr: fc.integer({ min: 1, max: 3 }).map((h) => 2 * h),
    maxBlocks: fc.integer({ min: 1, max: 8 }),
    seed: fc.integer({ min: 1, max: 1e9 }),
    ops: fc.array(opArb, { minLength: 1, maxLength: 25 }),
  });

  it("reads, lengths, block counts, bytes in use and pool exhaustion match the model", () => {
    fc.assert(
      fc.property(scenarioArb, ({ format, C, dr, maxBlocks, seed, ops }) => {
        const maxSeqLen = 200;
        const cache = new LatentCache(cfgOf(C, dr, maxSeqLen, 2), { format, maxBlocks, maxSequences: 4 });
        const bpt = cache.bytesPerToken();
        const rng = new Rng(seed);
        const m: Model = { rows: new Map([[0, []], [1, []]]), tags: new Map([[0, []], [1, []]]) };
        let nextTag = 0;
        const live = () => [...m.rows.keys()];
        const distinct = () => new Set([...m.tags.values()].flat()).size;

        for (const op of ops) {
          const ids = live();
          const seq = ids.length ? ids[op.pick % ids.length] : 99;
          const len = m.rows.get(seq)?.length ?? 0;
          if (op.kind === "open") {
            if (ids.length >= 4) expect(() => cache.openSequence()).toThrow(CacheError);
            else {
              const id = cache.openSequence();
              m.rows.set(id, []);
              m.tags.set(id, []);
            }
          } else if (op.kind === "release") {
            if (!ids.length) continue;
            cache.release(seq);
            m.rows.delete(seq);
            m.tags.delete(seq);
          } else if (op.kind === "truncate") {
            if (!ids.length) continue;
            const pos = op.a % (len + 1);
            cache.truncate(seq, pos);
            m.rows.get(seq)!.length = pos;
            m.tags.get(seq)!.length = Math.ceil(pos / 64);
          } else if (op.kind === "fork") {
            if (!ids.length) continue;
            const pos = op.a % (len + 1);
            if (ids.length >= 4) {
              const before = observe(cache);
              expect(() => cache.fork(seq, pos)).toThrow(CacheError);
              expect(observe(cache)).toEqual(before);
              continue;
            }
            const id = cache.fork(seq, pos);
            m.rows.set(id, m.rows.get(seq)!.slice(0, pos));
            m.tags.set(id, m.tags.get(seq)!.slice(0, Math.ceil(pos / 64)));
          } else {
            if (!ids.length) continue;
            const start = op.kind === "append" ? len : op.a % (len + 1);
            const n = op.n;
            const { c, kpe } = randomRows(rng, n, C, dr);
            // model: truncate, then one new tag per new block, one per write into a block shared elsewhere
            const keepTags = m.tags.get(seq)!.slice(0, Math.ceil(start / 64));
            const tagsAfterTrunc = new Map(m.tags);
            tagsAfterTrunc.set(seq, keepTags);
            const inUseAfterTrunc = new Set([...tagsAfterTrunc.values()].flat()).size;
            const cow = start % 64 !== 0 && [...tagsAfterTrunc.entries()].some(([id, ts]) => id !== seq && ts.includes(keepTags[keepTags.length - 1]));
            const newBlocks = Math.ceil((start + n) / 64) - keepTags.length + (cow ? 1 : 0);
            const overCapacity = start + n > maxSeqLen;
            const exhausted = newBlocks > maxBlocks - inUseAfterTrunc;
            if (overCapacity || exhausted) {
              const before = observe(cache);
              expect(() => cache.write(seq, start, c, kpe)).toThrow(CacheError);
              expect(observe(cache)).toEqual(before);
              continue;
            }
            cache.write(seq, start, c, kpe);
            const tags = keepTags.slice();
            if (cow) tags[tags.length - 1] = nextTag++;
            while (tags.length < Math.ceil((start + n) / 64)) tags.push(nextTag++);
            m.tags.set(seq, tags);
            m.rows.set(seq, [...m.rows.get(seq)!.slice(0, start), ...expectedRows(format, C, dr, c, kpe)]);
          }
          // invariants after every successful op
          let usedSlots = 0;
          const slots = new Map<number, number>();
          for (const [id, ts] of m.tags) ts.forEach((t, k) => slots.set(t, Math.max(slots.get(t) ?? 0, Math.min(64, m.rows.get(id)!.length - 64 * k))));
          for (const v of slots.values()) usedSlots += v;
          expect(cache.blocksInUse()).toBe(distinct());
          expect(cache.bytesInUse()).toBe(usedSlots * bpt);
          expect(cache.sequenceIds().sort()).toEqual(live().sort());
          for (const id of live()) {
            const want = m.rows.get(id)!;
            expect(cache.length(id)).toBe(want.length);
            const got = cache.read(id);
            const flat = new Float32Array(want.length * (C + dr));
            want.forEach((r, t) => flat.set(r, t * (C + dr)));
            expect(got).toEqual(flat);
          }
        }
      }),
      { numRuns: 120 },
    );
  });
});

describe("errors leave the cache unchanged", () => {
  const setup = (format: StorageFormat = "f32") => {
    const cache = new LatentCache(cfgOf(6, 2, 100, 2), { format, maxBlocks: 3, maxSequences: 3 });
    const r = randomRows(new Rng(3), 70, 6, 2);
    cache.append(0, r.c, r.kpe);
    return cache;
  };
  it("appending past capacity (max_seq_len) throws a CacheError naming the limit", () => {
    const cache = setup();
    const before = observe(cache);
    const r = randomRows(new Rng(4), 31, 6, 2); // 70 + 31 = 101 > 100
    expect(() => cache.append(0, r.c, r.kpe)).toThrow(CacheError);
    expect(() => cache.append(0, r.c, r.kpe)).toThrow(/capacity 100/);
    expect(observe(cache)).toEqual(before);
  });
  it("an exhausted block pool throws a CacheError and changes nothing", () => {
    const cache = setup();
    const r = randomRows(new Rng(5), 65, 6, 2); // row 1 needs 2 blocks, only 1 is free
    const before = observe(cache);
    let err: unknown;
    try {
      cache.append(1, r.c, r.kpe);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CacheError);
    expect((err as CacheError).field).toBe("block pool");
    expect((err as CacheError).value).toBe(1);
    expect(observe(cache)).toEqual(before);
  });
  it("a rollback write does not count blocks still shared with a fork as freed", () => {
    const cache = new LatentCache(cfgOf(6, 2, 200, 2), { format: "f32", maxBlocks: 3, maxSequences: 3 });
    const r70 = randomRows(new Rng(3), 70, 6, 2);
    cache.append(0, r70.c, r70.kpe); // 2 of 3 blocks
    const f = cache.fork(0, 70); // shares both
    const r = randomRows(new Rng(7), 130, 6, 2); // rewrite seq 0 from 0: 3 blocks needed; the shared 2 stay with the fork
    const before = observe(cache);
    expect(() => cache.write(0, 0, r.c, r.kpe)).toThrow(CacheError);
    expect(observe(cache)).toEqual(before);
    cache.release(f); // now truncation frees them
    cache.write(0, 0, r.c, r.kpe);
    expect([cache.length(0), cache.blocksInUse()]).toEqual([130, 3]);
  });
  it("a batch write where one row fails writes no row", () => {
    const cache = setup();
    const ok = randomRows(new Rng(6), 2, 6, 2);
    const before = observe(cache);
    expect(() => cache.writeBatch([{ seq: 1, startPos: 0, ...ok }, { seq: 0, startPos: 71, ...ok }])).toThrow(CacheError);
    expect(() => cache.writeBatch([{ seq: 1, startPos: 0, ...ok }, { seq: 0, startPos: 70, c: [1, 2, 3, 4, 5, NaN], kpe: [0, 0] }])).toThrow(NonFiniteError);
    expect(observe(cache)).toEqual(before);
  });
  it("unknown sequence ids, bad positions and shapes are typed errors naming field and value", () => {
    const cache = setup();
    const before = observe(cache);
    for (const call of [() => cache.length(7), () => cache.truncate(7, 0), () => cache.fork(7), () => cache.read(7), () => cache.append(7, [1, 2, 3, 4, 5, 6], [1, 2])]) {
      let err: unknown;
      try {
        call();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CacheError);
      expect((err as CacheError).value).toBe(7);
      expect((err as CacheError).message).toMatch(/open sequence id \(open: 0, 1\)/);
    }
    expect(() => cache.truncate(0, 71)).toThrow(CacheError);
    expect(() => cache.fork(0, -1)).toThrow(CacheError);
    expect(() => cache.append(0, [1, 2, 3], [1, 2])).toThrow(ShapeError);
    expect(() => cache.append(0, [1, 2, 3, 4, 5, 6], [1])).toThrow(ShapeError);
    expect(() => cache.read(0, 5, 71)).toThrow(CacheError);
    expect(observe(cache)).toEqual(before);
  });
  it("a format mismatch (records of another format) is a CacheError", () => {
    const cache = setup("bf16");
    const before = observe(cache);
    const recs = new Uint8Array(tokenLayout("int8", 6, 2).bytesPerToken);
    expect(() => cache.appendRecords(0, recs, "int8")).toThrow(CacheError);
    expect(() => cache.appendRecords(0, recs, "int8")).toThrow(/"bf16"/);
    expect(observe(cache)).toEqual(before);
    // records of the right format round-trip between caches
    const other = new LatentCache(cfgOf(6, 2, 100, 2), { format: "bf16", maxBlocks: 3 });
    other.appendRecords(1, cache.readRecords(0), "bf16");
    expect(other.read(1)).toEqual(cache.read(0));
  });
  it("values a format cannot hold are rejected: f16 |x| >= 65520, NaN/Inf anywhere", () => {
    const cache = setup("f16");
    const before = observe(cache);
    expect(() => cache.append(1, [1, 2, 3, 4, 5, 70000], [0, 0])).toThrow(CacheError);
    expect(() => cache.append(1, [1, 2, 3, 4, 5, 6], [Infinity, 0])).toThrow(NonFiniteError);
    expect(() => cache.append(1, [1, 2, 3, 4, 5, 6], [1e39, 0])).toThrow(CacheError);
    expect(observe(cache)).toEqual(before);
    const f32cache = setup("f32");
    expect(() => f32cache.append(1, [1e39, 2, 3, 4, 5, 6], [0, 0])).toThrow(CacheError); // overflows float32
  });
  it("storage shorter than the pool (an owner grows it): a write that would reach past it throws and changes nothing; after rebindStorage it fits", () => {
    const bpt = 4 * (6 + 2), blockBytes = 64 * bpt;
    const cache = new LatentCache(cfgOf(6, 2, 200, 2), { format: "f32", maxBlocks: 3, storage: new Uint8Array(blockBytes) });
    const r = randomRows(new Rng(8), 70, 6, 2);
    cache.append(0, r.c.subarray(0, 60 * 6), r.kpe.subarray(0, 60 * 2)); // block 0
    const before = observe(cache);
    let err: unknown;
    try {
      cache.append(0, r.c.subarray(60 * 6), r.kpe.subarray(60 * 2)); // needs block 1, past the storage
    } catch (e) {
      err = e;
    }
    expect((err as CacheError).field).toBe("block pool storage");
    expect(observe(cache)).toEqual(before);
    const grown = new Uint8Array(2 * blockBytes);
    grown.set(cache.pool.storage);
    cache.rebindStorage(grown);
    cache.append(0, r.c.subarray(60 * 6), r.kpe.subarray(60 * 2));
    expect([cache.length(0), cache.blocksInUse()]).toEqual([70, 2]);
  });
  it("invalid options are CacheErrors", () => {
    expect(() => new LatentCache(cfgOf(6, 2), { format: "q4" as StorageFormat })).toThrow(CacheError);
    expect(() => new LatentCache(cfgOf(6, 2), { maxBlocks: 0 })).toThrow(CacheError);
    expect(() => new LatentCache(cfgOf(6, 2), { storage: [1, 2] as unknown as Uint8Array, maxBlocks: 2 })).toThrow(CacheError);
    // a pool no runtime can allocate (1.5e11 bytes) is a CacheError naming maxBlocks, not a bare RangeError
    expect(() => new LatentCache(cfgOf(512, 64), { maxBlocks: 2 ** 20 })).toThrow(/maxBlocks = 1048576/);
  });
});
