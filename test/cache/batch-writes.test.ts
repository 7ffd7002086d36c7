// Batched writes into the paged latent cache are all or nothing. A batch (writeBatch, placeBatch,
// appendRecords) rolls every row back to its startPos before any row takes a block, so a row may
// use blocks that a later row's rollback frees; when the rows do not fit, nothing changes: every
// byte, length, block table, refcount and counter stays as it was. Checked on the scenarios that
// lost data before (a row truncated and left short, a sequence of length 0 owning blocks) and as
// a fast-check property against an independent model (block "tags": a tag is shared by forks and
// replaced on a write into a block another sequence holds) over random batched writes, forks,
// truncations and releases in pools small enough to run out.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeTokens, encodeTokens } from "../../src/cache/codecs.js";
import { type CacheWrite, LatentCache } from "../../src/cache/latent-cache.js";
import { BLOCK_TOKENS, STORAGE_FORMATS, type StorageFormat, tokenLayout } from "../../src/cache/layout.js";
import { type MlaConfig, makeConfig } from "../../src/config.js";
import { CacheError, NonFiniteError } from "../../src/errors.js";
import { Rng } from "../../src/weights.js";

function cfgOf(C: number, dr: number, maxSeqLen: number, batch: number): MlaConfig {
  return makeConfig({ dim: 8, n_heads: 2, q_lora_rank: 0, kv_lora_rank: C, qk_nope_head_dim: 4, qk_rope_head_dim: dr, v_head_dim: 4, max_seq_len: maxSeqLen, original_seq_len: maxSeqLen, max_batch_size: batch });
}

/** Everything a failed call must leave as it was: bytes, sequences, lengths, block tables, refcounts, counters. */
function observe(cache: LatentCache): unknown {
  const pool = cache.pool;
  return {
    storage: Buffer.from(pool.storage.buffer, pool.storage.byteOffset, pool.storage.byteLength).toString("base64"),
    seqs: cache.sequenceIds().map((id) => [id, cache.length(id), Array.from(cache.blockTable(id))]),
    refs: Array.from({ length: pool.maxBlocks }, (_, b) => pool.refCount(b)),
    free: pool.freeBlocks(),
    counters: [cache.blocksInUse(), cache.bytesInUse(), cache.bytesAllocated()],
  };
}

/** Structure that must hold after every call: ceil(length / 64) blocks per sequence (none at length 0), refcount = owners, free = the rest. */
function expectSound(cache: LatentCache): void {
  const owners = new Map<number, number>();
  for (const id of cache.sequenceIds()) {
    const table = Array.from(cache.blockTable(id));
    expect(table.length, `sequence ${id} of length ${cache.length(id)}`).toBe(Math.ceil(cache.length(id) / BLOCK_TOKENS));
    for (const b of table) owners.set(b, (owners.get(b) ?? 0) + 1);
  }
  for (let b = 0; b < cache.pool.maxBlocks; b++) expect(cache.pool.refCount(b), `refcount of block ${b}`).toBe(owners.get(b) ?? 0);
  expect(cache.pool.freeBlocks()).toBe(cache.pool.maxBlocks - owners.size);
  expect(cache.blocksInUse()).toBe(owners.size);
}

function rows(rng: Rng, n: number, C: number, dr: number): { c: Float64Array; kpe: Float64Array } {
  return { c: Float64Array.from({ length: n * C }, () => rng.normal()), kpe: Float64Array.from({ length: n * dr }, () => 2 * rng.normal()) };
}

/** Tokens as the cache reads them back: each token's own codec round trip, [n, C+dr]. */
function roundTrip(format: StorageFormat, C: number, dr: number, c: ArrayLike<number>, kpe: ArrayLike<number>): Float32Array[] {
  const L = tokenLayout(format, C, dr), n = c.length / C, out: Float32Array[] = [];
  for (let t = 0; t < n; t++) {
    const row = new Float32Array(C + dr);
    for (let i = 0; i < C; i++) row[i] = c[t * C + i];
    for (let i = 0; i < dr; i++) row[C + i] = kpe[t * dr + i];
    const rec = new Uint8Array(L.bytesPerToken), back = new Float32Array(C + dr);
    encodeTokens(L, row, 0, 1, rec, 0);
    decodeTokens(L, rec, 0, 1, back, 0);
    out.push(back);
  }
  return out;
}

const flat = (rs: Float32Array[], W: number): Float32Array => {
  const f = new Float32Array(rs.length * W);
  rs.forEach((r, t) => f.set(r, t * W));
  return f;
};

describe("a row may use blocks a later row's rollback frees (reproductions)", () => {
  const C = 6, dr = 2, W = C + dr;
  /** Rows at 10, 64 and 130 tokens: 1 + 1 + 3 = 5 blocks. */
  function threeRows(maxBlocks: number) {
    const cache = new LatentCache(cfgOf(C, dr, 200, 3), { format: "f32", maxBlocks });
    const rng = new Rng(41);
    const held = [10, 64, 130].map((n, seq) => {
      const r = rows(rng, n, C, dr);
      cache.append(seq, r.c, r.kpe);
      return roundTrip("f32", C, dr, r.c, r.kpe);
    });
    const writes: CacheWrite[] = [0, 1, 2].map((seq) => ({ seq, startPos: 10, ...rows(rng, 60, C, dr) }));
    return { cache, held, writes };
  }

  it("writeBatch of 60 tokens at startPos 10 on rows of 10/64/130 tokens in a 6-block pool completes (before: 'pool exhausted', lengths left 70/10/130)", () => {
    const { cache, held, writes } = threeRows(6);
    // 1 free block; row 0 needs 1, row 1 needs 1 (its second block), row 2 needs 0 and frees 2 by its rollback.
    cache.writeBatch(writes);
    expect([0, 1, 2].map((b) => cache.length(b))).toEqual([70, 70, 70]);
    expect(cache.blocksInUse()).toBe(6);
    for (const w of writes) expect(cache.read(w.seq)).toEqual(flat([...held[w.seq].slice(0, 10), ...roundTrip("f32", C, dr, w.c, w.kpe)], W));
    expectSound(cache);
  });

  it("placeBatch (the WASM layer's path) of the same writes completes too", () => {
    const { cache, held, writes } = threeRows(6);
    const L = cache.layout;
    const enc = writes.map((w) => flat(roundTrip("f32", C, dr, w.c, w.kpe), W));
    cache.placeBatch(writes.map((w) => ({ seq: w.seq, startPos: 10, n: 60 })), (i, t, m, at) => encodeTokens(L, enc[i], t * W, m, cache.pool.storage, at));
    expect([0, 1, 2].map((b) => cache.length(b))).toEqual([70, 70, 70]);
    for (const w of writes) expect(cache.read(w.seq)).toEqual(flat([...held[w.seq].slice(0, 10), ...roundTrip("f32", C, dr, w.c, w.kpe)], W));
    expectSound(cache);
  });

  it("in a 5-block pool the same batch does not fit: it throws 'block pool' and changes nothing", () => {
    const { cache, writes } = threeRows(5);
    const before = observe(cache);
    expect(() => cache.writeBatch(writes)).toThrow(CacheError);
    expect(() => cache.checkPlacement(writes.map((w) => ({ seq: w.seq, startPos: 10, n: 60 })))).toThrow(/block pool|exhausted/);
    expect(observe(cache)).toEqual(before);
  });

  it("a row rewritten from 0 that needs another row's freed blocks (before: it kept 2 blocks at length 0)", () => {
    // row 0: 64 tokens (1 block), row 1: 128 tokens (2 blocks), pool of 4: 1 free.
    // Row 0 rewrites 130 tokens from 0 (3 blocks, frees its own), row 1 rewrites 1 token from 0 (frees 2, needs 1): 4 of 4.
    const cache = new LatentCache(cfgOf(C, dr, 200, 2), { format: "bf16", maxBlocks: 4 });
    const rng = new Rng(42);
    for (const [seq, n] of [[0, 64], [1, 128]]) {
      const r = rows(rng, n, C, dr);
      cache.append(seq, r.c, r.kpe);
    }
    const w0 = rows(rng, 130, C, dr), w1 = rows(rng, 1, C, dr);
    cache.writeBatch([{ seq: 0, startPos: 0, ...w0 }, { seq: 1, startPos: 0, ...w1 }]);
    expect([cache.length(0), cache.length(1), cache.blocksInUse()]).toEqual([130, 1, 4]);
    expect(cache.read(0)).toEqual(flat(roundTrip("bf16", C, dr, w0.c, w0.kpe), W));
    expectSound(cache);
  });

  it("appendRecords plans its blocks the same way: a shared partial block needs a copy, an exhausted pool changes nothing", () => {
    const cache = new LatentCache(cfgOf(C, dr, 200, 1), { format: "int8", maxBlocks: 2, maxSequences: 2 });
    const r = rows(new Rng(43), 70, C, dr);
    cache.append(0, r.c.subarray(0, 10 * C), r.kpe.subarray(0, 10 * dr));
    const f = cache.fork(0); // shares block 0 (10 of 64 slots used)
    cache.appendRecords(f, cache.readRecords(0), "int8"); // copy on write: the fork takes the last free block
    expect([cache.length(0), cache.length(f), cache.blocksInUse()]).toEqual([10, 20, 2]);
    const more = new Uint8Array(60 * cache.bytesPerToken()); // 10 + 60 tokens need a second block for row 0: none is free
    const before = observe(cache);
    expect(() => cache.appendRecords(0, more, "int8")).toThrow(CacheError);
    expect(observe(cache)).toEqual(before);
    expectSound(cache);
  });
});

describe("model-based: batched writes, forks, truncations, releases with pool exhaustion", () => {
  type Op =
    | { kind: "batch" | "place"; picks: number[]; starts: number[]; ns: number[]; poison: number }
    | { kind: "records" | "truncate" | "fork" | "release" | "open"; pick: number; a: number; n: number };
  const batchArb = fc.record({
    kind: fc.constantFrom("batch" as const, "place" as const),
    picks: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
    starts: fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
    ns: fc.array(fc.integer({ min: 1, max: 140 }), { minLength: 4, maxLength: 4 }),
    poison: fc.nat({ max: 12 }), // < number of writes: that write carries a NaN (writeBatch only)
  });
  const singleArb = fc.record({ kind: fc.constantFrom("records" as const, "truncate" as const, "fork" as const, "fork" as const, "release" as const, "open" as const), pick: fc.nat(), a: fc.nat(), n: fc.integer({ min: 1, max: 140 }) });
  const scenarioArb = fc.record({
    format: fc.constantFrom(...STORAGE_FORMATS),
    C: fc.integer({ min: 1, max: 9 }),
    dr: fc.integer({ min: 1, max: 2 }).map((h) => 2 * h),
    maxBlocks: fc.integer({ min: 2, max: 9 }),
    seed: fc.integer({ min: 1, max: 1e9 }),
    ops: fc.array(fc.oneof({ weight: 3, arbitrary: batchArb }, { weight: 2, arbitrary: singleArb }) as fc.Arbitrary<Op>, { minLength: 1, maxLength: 30 }),
  });

  it("a call completes as the model says, or throws and leaves every byte, length, block table and counter as before", () => {
    fc.assert(
      fc.property(scenarioArb, ({ format, C, dr, maxBlocks, seed, ops }) => {
        const maxSeqLen = 260, maxSeqs = 5, W = C + dr;
        const cache = new LatentCache(cfgOf(C, dr, maxSeqLen, 3), { format, maxBlocks, maxSequences: maxSeqs });
        const L = cache.layout, rng = new Rng(seed);
        const model = new Map<number, { rows: Float32Array[]; tags: number[] }>([0, 1, 2].map((id) => [id, { rows: [], tags: [] }]));
        let nextTag = 0, takes = 0;
        const live = () => [...model.keys()];
        /** The model's outcome of a batch: new rows and tags per sequence, or why it cannot happen. */
        function plan(writes: { seq: number; start: number; rows: Float32Array[] }[]): Map<number, { rows: Float32Array[]; tags: number[] }> | "capacity" | "exhausted" {
          if (writes.some((w) => w.start + w.rows.length > maxSeqLen)) return "capacity";
          const first = nextTag;
          const next = new Map([...model].map(([id, s]) => [id, { rows: s.rows, tags: s.tags.slice() }]));
          for (const w of writes) next.get(w.seq)!.tags.length = Math.ceil(w.start / BLOCK_TOKENS); // every rollback first
          for (const w of writes) {
            const s = next.get(w.seq)!, keep = s.tags.length;
            const sharedPartial = w.start % BLOCK_TOKENS !== 0 && [...next].some(([id, o]) => id !== w.seq && o.tags.includes(s.tags[keep - 1]));
            if (sharedPartial) s.tags[keep - 1] = nextTag++;
            while (s.tags.length < Math.ceil((w.start + w.rows.length) / BLOCK_TOKENS)) s.tags.push(nextTag++);
            s.rows = [...s.rows.slice(0, w.start), ...w.rows];
          }
          takes = nextTag - first; // blocks the batch takes: one per new tag
          return new Set([...next.values()].flatMap((s) => s.tags)).size > maxBlocks ? "exhausted" : next;
        }
        /** Run a call the model has decided: it completes, or it throws (a CacheError; NonFiniteError too when a value is bad) and changes nothing. */
        function expectOutcome(outcome: ReturnType<typeof plan>, call: () => void, badValue = false): void {
          if (outcome instanceof Map && !badValue) {
            call();
            model.clear();
            for (const [id, s] of outcome) model.set(id, s);
            return;
          }
          const before = observe(cache);
          let err: unknown;
          try {
            call();
          } catch (e) {
            err = e;
          }
          if (outcome instanceof Map) expect(err).toBeInstanceOf(NonFiniteError);
          else expect(err instanceof CacheError || (badValue && err instanceof NonFiniteError), `${outcome}: ${String(err)}`).toBe(true);
          expect(observe(cache)).toEqual(before);
        }

        for (const op of ops) {
          const ids = live();
          if (op.kind === "batch" || op.kind === "place") {
            if (!ids.length) continue;
            const seqs = [...new Set(op.picks.map((p) => ids[p % ids.length]))];
            const writes = seqs.map((seq, i) => {
              const len = model.get(seq)!.rows.length, start = op.starts[i] % (len + 1), n = op.ns[i];
              return { seq, start, ...rows(rng, n, C, dr) };
            });
            const planned = writes.map((w) => ({ seq: w.seq, start: w.start, rows: roundTrip(format, C, dr, w.c, w.kpe) }));
            const poisoned = op.kind === "batch" && op.poison < writes.length ? op.poison : -1;
            if (poisoned >= 0) writes[poisoned].kpe[0] = NaN;
            const outcome = plan(planned);
            if (op.kind === "batch") expectOutcome(outcome, () => cache.writeBatch(writes.map((w) => ({ seq: w.seq, startPos: w.start, c: w.c, kpe: w.kpe }))), poisoned >= 0);
            else {
              const enc = planned.map((p) => flat(p.rows, W));
              const places = planned.map((p) => ({ seq: p.seq, startPos: p.start, n: p.rows.length }));
              if (outcome instanceof Map) expect(cache.checkPlacement(places)).toBe(takes); // exact, so an owner can size its storage by it
              expectOutcome(outcome, () => cache.placeBatch(places, (i, t, m, at) => encodeTokens(L, enc[i], t * W, m, cache.pool.storage, at)));
            }
          } else if (op.kind === "records") {
            if (!ids.length) continue;
            const seq = ids[op.pick % ids.length], r = rows(rng, op.n, C, dr);
            const recs = new Uint8Array(op.n * L.bytesPerToken);
            encodeTokens(L, flat(roundTrip("f32", C, dr, r.c, r.kpe), W), 0, op.n, recs, 0);
            expectOutcome(plan([{ seq, start: model.get(seq)!.rows.length, rows: roundTrip(format, C, dr, r.c, r.kpe) }]), () => cache.appendRecords(seq, recs, format));
          } else if (op.kind === "truncate") {
            if (!ids.length) continue;
            const seq = ids[op.pick % ids.length], s = model.get(seq)!, pos = op.a % (s.rows.length + 1);
            cache.truncate(seq, pos);
            s.rows = s.rows.slice(0, pos);
            s.tags.length = Math.ceil(pos / BLOCK_TOKENS);
          } else if (op.kind === "fork") {
            if (!ids.length || ids.length >= maxSeqs) continue;
            const seq = ids[op.pick % ids.length], s = model.get(seq)!, pos = op.a % (s.rows.length + 1);
            model.set(cache.fork(seq, pos), { rows: s.rows.slice(0, pos), tags: s.tags.slice(0, Math.ceil(pos / BLOCK_TOKENS)) });
          } else if (op.kind === "release") {
            if (!ids.length) continue;
            const seq = ids[op.pick % ids.length];
            cache.release(seq);
            model.delete(seq);
          } else if (ids.length < maxSeqs) model.set(cache.openSequence(), { rows: [], tags: [] });
          // after every call, failed or not
          expectSound(cache);
          expect(cache.blocksInUse()).toBe(new Set([...model.values()].flatMap((s) => s.tags)).size);
          expect(cache.sequenceIds().sort()).toEqual(live().sort());
          for (const [id, s] of model) {
            expect(cache.length(id)).toBe(s.rows.length);
            expect(cache.read(id)).toEqual(flat(s.rows, W));
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});
