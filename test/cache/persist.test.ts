// Persistence: save -> load gives back the same sequences, block sharing and bytes; truncated,
// corrupted (bit flips anywhere) and mismatched files are rejected with typed errors; a restored
// cache keeps working (fork, copy on write, append) like the original.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LatentCache, MAX_SEQUENCE_ID } from "../../src/cache/latent-cache.js";
import { STORAGE_FORMATS, type StorageFormat } from "../../src/cache/layout.js";
import { crc32 } from "../../src/cache/crc32.js";
import { DEFAULT_MAX_POOL_BYTES, MAX_POOL_BLOCKS, loadCache, saveCache } from "../../src/cache/persist.js";
import { type MlaConfig, makeConfig } from "../../src/config.js";
import { CacheError, FormatError } from "../../src/errors.js";
import { Rng } from "../../src/weights.js";

const cfg: MlaConfig = makeConfig({ dim: 8, n_heads: 2, q_lora_rank: 0, kv_lora_rank: 5, qk_nope_head_dim: 4, qk_rope_head_dim: 2, v_head_dim: 4, max_seq_len: 200, original_seq_len: 200, max_batch_size: 2 });

function filled(format: StorageFormat, seed: number): LatentCache {
  const cache = new LatentCache(cfg, { format, maxBlocks: 6, maxSequences: 4 });
  const rng = new Rng(seed);
  const rows = (n: number) => ({ c: Float64Array.from({ length: n * 5 }, () => rng.normal()), kpe: Float64Array.from({ length: n * 2 }, () => rng.normal()) });
  const a = rows(70);
  cache.append(0, a.c, a.kpe);
  const b = rows(3);
  cache.append(1, b.c, b.kpe);
  const f = cache.fork(0, 66); // shares 2 blocks
  cache.truncate(1, 2);
  void f;
  return cache;
}

/** The metadata JSON of a cache file. */
function metadataOf(file: Uint8Array): any {
  const M = new DataView(file.buffer, file.byteOffset, file.byteLength).getUint32(12, true);
  return JSON.parse(new TextDecoder().decode(file.subarray(28, 28 + M)));
}

/** `file` with its metadata replaced by `meta` and the length and CRC fixed: a file whose checksum holds but whose metadata may lie. */
function resigned(file: Uint8Array, meta: unknown): Uint8Array {
  const M = new DataView(file.buffer, file.byteOffset, file.byteLength).getUint32(12, true);
  const json = new TextEncoder().encode(JSON.stringify(meta));
  const blocks = file.subarray(28 + M);
  const out = new Uint8Array(28 + json.length + blocks.length);
  out.set(file.subarray(0, 28));
  const o = new DataView(out.buffer);
  o.setUint32(12, json.length, true);
  out.set(json, 28);
  out.set(blocks, 28 + json.length);
  o.setUint32(24, crc32(out.subarray(28), crc32(out.subarray(0, 24))), true);
  return out;
}

function sameCache(a: LatentCache, b: LatentCache): void {
  expect(b.format).toBe(a.format);
  expect(b.config).toEqual(a.config);
  expect(b.sequenceIds()).toEqual(a.sequenceIds());
  for (const id of a.sequenceIds()) {
    expect(b.length(id)).toBe(a.length(id));
    expect(b.readRecords(id)).toEqual(a.readRecords(id));
  }
  expect([b.bytesInUse(), b.blocksInUse(), b.bytesReserved()]).toEqual([a.bytesInUse(), a.blocksInUse(), a.bytesReserved()]);
}

describe("save and load", () => {
  for (const format of STORAGE_FORMATS) {
    it(`${format}: round trip keeps sequences, sharing and bytes; the restored cache behaves the same`, () => {
      const a = filled(format, 1);
      const bytes = saveCache(a);
      // 28-byte header + metadata + the 2 + 1 distinct blocks in use (fork shares), each 64 records
      const M = new DataView(bytes.buffer).getUint32(12, true);
      expect(bytes.length).toBe(28 + M + 3 * 64 * a.bytesPerToken());
      const b = loadCache(bytes, { config: cfg, format });
      sameCache(a, b);
      // same operations on both keep them equal (copy on write of the shared block, new ids)
      for (const c of [a, b]) {
        c.append(2, [1, 2, 3, 4, 5], [6, 7]);
        c.fork(1);
      }
      sameCache(a, b);
      expect(saveCache(b)).toEqual(saveCache(a));
    });
  }
  it("an empty cache round-trips", () => {
    const a = new LatentCache(cfg, { format: "int8", maxBlocks: 2 });
    sameCache(a, loadCache(saveCache(a)));
  });
});

describe("bad files are rejected, never half-loaded", () => {
  const good = saveCache(filled("fp8_e4m3", 2));
  it("every truncation is a FormatError", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: good.length - 1 }), (n) => {
        expect(() => loadCache(good.slice(0, n))).toThrow(FormatError);
      }),
      { numRuns: 200 },
    );
    expect(() => loadCache(good.slice(0, 10))).toThrow(/header/);
  });
  it("1 to 3 flipped bits anywhere are a FormatError (CRC-32 detects all such errors below 11 KB)", () => {
    expect(good.length).toBeLessThan(91607 / 8);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: good.length * 8 - 1 }), { minLength: 1, maxLength: 3 }), (bits) => {
        const bad = good.slice();
        for (const b of bits) bad[b >> 3] ^= 1 << (b & 7);
        expect(() => loadCache(bad)).toThrow(FormatError);
      }),
      { numRuns: 300 },
    );
  });
  it("appended bytes, wrong magic and a newer version are FormatErrors naming the field", () => {
    const longer = new Uint8Array(good.length + 1);
    longer.set(good);
    expect(() => loadCache(longer)).toThrow(/cache file length/);
    const magic = good.slice();
    magic[0] = 0x58;
    expect(() => loadCache(magic)).toThrow(/magic/);
    const v2 = good.slice();
    v2[8] = 2;
    expect(() => loadCache(v2)).toThrow(/version = 2: expected 1/);
    expect(() => loadCache("not bytes" as unknown as Uint8Array)).toThrow(FormatError);
  });
  it("a file for another config or format is a CacheError naming the field", () => {
    const other = { ...cfg, kv_lora_rank: 6 };
    let err: unknown;
    try {
      loadCache(good, { config: other });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CacheError);
    expect((err as CacheError).field).toBe("config.kv_lora_rank");
    expect((err as CacheError).value).toBe(5);
    expect(() => loadCache(good, { config: { ...cfg, rope_theta: 500 } })).toThrow(/config.rope_theta/);
    expect(() => loadCache(good, { format: "bf16" })).toThrow(CacheError);
    expect(() => loadCache(good, { format: "bf16" })).toThrow(/"fp8_e4m3"/);
  });
  it("well-formed JSON with inconsistent metadata (checksum recomputed) is still a FormatError", () => {
    // Re-sign files whose metadata lies, to show the structural checks do not rely on the CRC.
    const meta = metadataOf(good);
    const resign = (m: unknown) => resigned(good, m);
    expect(loadCache(resign(meta)).length(0)).toBe(70); // re-signing itself is sound
    const lies: [string, (m: any) => void][] = [
      ["sequences[0].blocks", (m) => (m.sequences[0].length = 200)], // needs 4 blocks, lists 2
      ["sequences[0].blocks[]", (m) => (m.sequences[0].blocks[0] = 99)],
      ["sequences[1].id", (m) => (m.sequences[1].id = m.sequences[0].id)],
      ["config.n_heads", (m) => (m.config.n_heads = 0)],
      ["metadata.format", (m) => (m.format = "fp4")],
      ["metadata.bytesPerToken", (m) => (m.bytesPerToken = 1)],
      ["metadata.maxBlocks", (m) => (m.maxBlocks = 1)],
      ["block 2", (m) => (m.sequences = m.sequences.filter((s: { id: number }) => s.id !== 1))], // block 2 unused
    ];
    for (const [field, lie] of lies) {
      const m = structuredClone(meta);
      lie(m);
      let err: unknown;
      try {
        loadCache(resign(m));
      } catch (e) {
        err = e;
      }
      expect(err, field).toBeInstanceOf(FormatError);
      expect((err as FormatError).field, field).toContain(field);
    }
  });
});

/** f throws a `type` (CacheError, ...) naming `field` (or a field matching it). */
const fails = (f: () => unknown, type: string, field: string | RegExp) => expect(f).toThrow(expect.objectContaining({ name: type, field: typeof field === "string" ? field : expect.stringMatching(field) }));

describe("what a file states is bounded by what it holds, and a bad expectation is the caller's", () => {
  const one = new LatentCache(cfg, { maxBlocks: 6, maxSequences: 4, sequences: 1 });
  one.append(0, [1, 2, 3, 4, 5], [6, 7]);
  const good = saveCache(one); // sequence 0 (1 token, 1 block), nextId 1
  const meta = metadataOf(good);

  it("item 2: nextId 2^53 (CRC valid) is a FormatError; it used to load and openSequence gave 2^53 twice, the second replacing the first", () => {
    for (const nextId of [2 ** 53, 2 ** 53 + 2, 1e300, MAX_SEQUENCE_ID + 2]) fails(() => loadCache(resigned(good, { ...meta, nextId })), "FormatError", "metadata.nextId");
    // a sequence id at or above nextId stays refused (ids are < nextId)
    fails(() => loadCache(resigned(good, { ...meta, nextId: 0 })), "FormatError", "metadata.sequences[0].id");
  });

  it("item 2: at the last id openSequence and fork throw a CacheError and change nothing, never repeating an id", () => {
    const last = loadCache(resigned(good, { ...meta, nextId: MAX_SEQUENCE_ID }));
    expect(last.openSequence()).toBe(MAX_SEQUENCE_ID);
    const before = saveCache(last);
    for (const f of [() => last.openSequence(), () => last.fork(0)]) fails(f, "CacheError", "sequence id");
    expect(saveCache(last)).toEqual(before); // no id, block share or length changed
    expect(last.sequenceIds()).toEqual([0, MAX_SEQUENCE_ID]);
    // what saveCache wrote at the end of the ids loads again (nextId = Number.MAX_SAFE_INTEGER)
    expect(loadCache(before).sequenceIds()).toEqual([0, MAX_SEQUENCE_ID]);
    expect(metadataOf(before).nextId).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("item 3: a 1 KB file naming a 2.3 GB pool (maxBlocks 1.3e6) is a CacheError before anything is allocated; it used to reserve the pool", () => {
    const forged = resigned(good, { ...meta, maxBlocks: 1.3e6 });
    expect(forged.length).toBeLessThan(3000);
    fails(() => loadCache(forged), "CacheError", "metadata.maxBlocks");
    expect(() => loadCache(forged)).toThrow(`<= ${DEFAULT_MAX_POOL_BYTES} bytes (expect.maxPoolBytes, default)`);
    // the caller may allow it: then it is the pool the file describes
    const bb = 64 * one.bytesPerToken();
    const allowed = resigned(good, { ...meta, maxBlocks: 4096 });
    fails(() => loadCache(allowed, { maxPoolBytes: 4095 * bb }), "CacheError", "metadata.maxBlocks");
    expect(loadCache(allowed, { maxPoolBytes: 4096 * bb }).bytesReserved()).toBe(4096 * bb);
  });

  it("item 3: maxBlocks 2^31-1 or 1e15 is a typed error, never a RangeError (they threw 'Invalid typed array length')", () => {
    fails(() => loadCache(resigned(good, { ...meta, maxBlocks: MAX_POOL_BLOCKS })), "CacheError", "metadata.maxBlocks"); // int32 ids allow it; the caller's limit does not
    for (const maxBlocks of [MAX_POOL_BLOCKS + 1, 1e15, 2 ** 53]) fails(() => loadCache(resigned(good, { ...meta, maxBlocks })), "FormatError", "metadata.maxBlocks");
    for (const maxSequences of [0, 1.5, "4", null]) fails(() => loadCache(resigned(good, { ...meta, maxSequences })), "FormatError", "metadata.maxSequences");
  });

  it("item 3: a storage shorter than the blocks stored is a CacheError (it was a RangeError 'offset is out of bounds')", () => {
    const need = 64 * one.bytesPerToken();
    fails(() => loadCache(good, { storage: new Uint8Array(need - 1) }), "CacheError", "expect.storage");
    expect(loadCache(good, { storage: new Uint8Array(need) }).readRecords(0)).toEqual(one.readRecords(0));
  });

  it("item 10: an incomplete or bad expectation blames the caller's argument, before the file is read (it blamed the file: 'config.n_heads = 2: expected undefined')", () => {
    fails(() => loadCache(good, { config: { dim: 8 } as MlaConfig }), "ConfigError", /^expect\.config\./);
    fails(() => loadCache(new Uint8Array(3), { config: { dim: 8 } as MlaConfig }), "ConfigError", /^expect\.config\./);
    fails(() => loadCache(good, { format: "q4" as StorageFormat }), "CacheError", "expect.format");
    fails(() => loadCache(good, { storage: [1, 2] as unknown as Uint8Array }), "CacheError", "expect.storage");
    for (const maxPoolBytes of [0, -1, 1.5, NaN, 2 ** 60]) fails(() => loadCache(good, { maxPoolBytes }), "CacheError", "expect.maxPoolBytes");
    fails(() => loadCache(good, null as unknown as object), "CacheError", "expect");
    // a complete, matching expectation loads
    expect(loadCache(good, { config: cfg, format: "f32" }).length(0)).toBe(1);
  });
});
