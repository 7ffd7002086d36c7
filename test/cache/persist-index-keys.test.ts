// saveCache / loadCache and the V3.2 additions: files written before them (fixtures/, saved by the
// code of commit 2bbe858) still load and save back byte for byte; a cache with index keys or in
// fp8_e4m3_v32 round-trips, states its index key section, and a file that lies about it, or does
// not match what the caller expects, is a typed error naming the field.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { crc32 } from "../../src/cache/crc32.js";
import { LatentCache } from "../../src/cache/latent-cache.js";
import { tokenLayout } from "../../src/cache/layout.js";
import { loadCache, saveCache } from "../../src/cache/persist.js";
import { type MlaConfig, makeConfig } from "../../src/config.js";
import { CacheError, FormatError } from "../../src/errors.js";
import { Rng } from "../../src/weights.js";

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`fixtures/${name}`, import.meta.url)));

/** The caches the fixtures hold, built the way their generator built them. */
function fixtureCache(v32: boolean): LatentCache {
  const cfg = makeConfig({ dim: 8, n_heads: 2, q_lora_rank: v32 ? 4 : 0, kv_lora_rank: v32 ? 128 : 5, qk_nope_head_dim: 4, qk_rope_head_dim: 2, v_head_dim: 4, max_seq_len: 200, original_seq_len: 200, max_batch_size: 2, ...(v32 && { index_n_heads: 2, index_head_dim: 128, index_topk: 4, scale_fmt: "ue8m0" as const }) });
  const cache = new LatentCache(cfg, { format: v32 ? "bf16" : "fp8_e4m3", maxBlocks: 5, maxSequences: 3 });
  const rng = new Rng(11);
  const rows = (n: number) => ({ c: Float64Array.from({ length: n * cfg.kv_lora_rank }, () => rng.normal()), kpe: Float64Array.from({ length: n * 2 }, () => rng.normal()) });
  const a = rows(v32 ? 10 : 70);
  cache.append(0, a.c, a.kpe);
  const b = rows(3);
  cache.append(1, b.c, b.kpe);
  cache.fork(0, v32 ? 6 : 66);
  return cache;
}

const metaOf = (file: Uint8Array): any => JSON.parse(new TextDecoder().decode(file.subarray(28, 28 + new DataView(file.buffer, file.byteOffset).getUint32(12, true))));

/** `file` with new metadata and, optionally, another blockBytes field; length and CRC fixed. */
function resigned(file: Uint8Array, meta: unknown, blockBytes?: number): Uint8Array {
  const M = new DataView(file.buffer, file.byteOffset).getUint32(12, true);
  const json = new TextEncoder().encode(JSON.stringify(meta)), blocks = file.subarray(28 + M);
  const out = new Uint8Array(28 + json.length + blocks.length), o = new DataView(out.buffer);
  out.set(file.subarray(0, 28));
  o.setUint32(12, json.length, true);
  if (blockBytes !== undefined) o.setUint32(20, blockBytes, true);
  out.set(json, 28);
  out.set(blocks, 28 + json.length);
  o.setUint32(24, crc32(out.subarray(28), crc32(out.subarray(0, 24))), true);
  return out;
}

function v32Cache(format: "fp8_e4m3_v32" | "int8", scale_fmt: "ue8m0" | null = "ue8m0"): { cfg: MlaConfig; cache: LatentCache } {
  const cfg = makeConfig({ dim: 8, n_heads: 2, q_lora_rank: 4, kv_lora_rank: 256, qk_nope_head_dim: 4, qk_rope_head_dim: 4, v_head_dim: 4, max_seq_len: 200, original_seq_len: 200, max_batch_size: 2, index_n_heads: 2, index_head_dim: 128, index_topk: 4, scale_fmt });
  const cache = new LatentCache(cfg, { format, indexKeys: true, maxBlocks: 5, maxSequences: 3 });
  const rng = new Rng(4), r = (n: number, w: number) => Float64Array.from({ length: n * w }, () => rng.normal());
  cache.append(0, r(70, 256), r(70, 4), r(70, 128));
  cache.append(1, r(2, 256), r(2, 4), r(2, 128));
  cache.fork(0, 65);
  return { cfg, cache };
}

describe("cache files and the V3.2 additions", () => {
  it.each([["v1-fp8_e4m3.mlakvc", false], ["v1-v32-config-bf16.mlakvc", true]] as const)("%s, written before them, loads and saves back byte for byte", (name, v32) => {
    const file = fixture(name), want = fixtureCache(v32);
    const got = loadCache(file, { config: want.config, format: want.format, indexKeys: false });
    expect(got.indexKeys).toBeNull();
    for (const id of want.sequenceIds()) expect(got.readRecords(id)).toEqual(want.readRecords(id));
    expect(saveCache(got)).toEqual(file);
    expect(saveCache(want)).toEqual(file);
  });

  it.each(["fp8_e4m3_v32", "int8"] as const)("index keys in %s: saved in version 1 with an indexKeys section, loaded back exactly", (format) => {
    const { cfg, cache } = v32Cache(format);
    const file = saveCache(cache), dv = new DataView(file.buffer);
    expect(dv.getUint32(8, true)).toBe(1);
    expect(dv.getUint32(20, true)).toBe(64 * (cache.layout.bytesPerToken + 132));
    expect(metaOf(file).indexKeys).toEqual({ dim: 128, bytesPerToken: 132 });
    expect(metaOf(file).bytesPerToken).toBe(cache.layout.bytesPerToken);
    const back = loadCache(file, { config: cfg, format, indexKeys: true });
    for (const id of cache.sequenceIds()) {
      expect(back.readRecords(id)).toEqual(cache.readRecords(id));
      expect(back.readIndexRecords(id)).toEqual(cache.readIndexRecords(id));
    }
    expect([back.bytesInUse(), back.blocksInUse(), back.bytesReserved(), back.bytesPerToken()]).toEqual([cache.bytesInUse(), cache.blocksInUse(), cache.bytesReserved(), cache.bytesPerToken()]);
    expect(saveCache(back)).toEqual(file);
  });

  it("a file that lies about its index keys, or that the caller did not expect, is a typed error naming the field", () => {
    const { cfg, cache } = v32Cache("fp8_e4m3_v32");
    const file = saveCache(cache), meta = metaOf(file);
    const fieldOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return [(e as Error).constructor.name, (e as FormatError).field];
      }
      return undefined;
    };
    const { indexKeys: _drop, ...without } = meta;
    expect(fieldOf(() => loadCache(resigned(file, without)))).toEqual(["FormatError", "cache file blockBytes"]);
    expect(fieldOf(() => loadCache(resigned(file, { ...meta, indexKeys: { dim: 64, bytesPerToken: 68 } })))).toEqual(["FormatError", "metadata.indexKeys"]);
    expect(fieldOf(() => loadCache(resigned(file, { ...meta, indexKeys: null })))).toEqual(["FormatError", "metadata.indexKeys"]);
    const dense = { ...meta.config };
    for (const k of ["index_n_heads", "index_head_dim", "index_topk", "scale_fmt"]) delete dense[k];
    expect(fieldOf(() => loadCache(resigned(file, { ...meta, config: dense })))).toEqual(["FormatError", "metadata.format"]);
    expect(fieldOf(() => loadCache(resigned(file, { ...meta, format: "int8", bytesPerToken: tokenLayout("int8", 256, 4).bytesPerToken, config: dense })))).toEqual(["FormatError", "metadata.indexKeys"]);
    expect(fieldOf(() => loadCache(file, { indexKeys: false }))).toEqual(["CacheError", "indexKeys"]);
    expect(fieldOf(() => loadCache(file, { config: { ...cfg, scale_fmt: null } }))).toEqual(["CacheError", "config.scale_fmt"]);
    expect(fieldOf(() => loadCache(file, { format: "fp8_e4m3" }))).toEqual(["CacheError", "format"]);
    expect(fieldOf(() => loadCache(file, { indexKeys: 1 as never }))).toEqual(["CacheError", "expect.indexKeys"]);
    expect(() => loadCache(file, { indexKeys: false })).toThrow(CacheError);
  });
});
