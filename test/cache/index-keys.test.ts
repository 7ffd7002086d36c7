// The indexer's key cache inside LatentCache (DeepSeek-V3.2): random operation sequences (appends
// across block boundaries, rollback writes, forks with copy on write, truncates, releases, batches
// that fail, checkpoint/restore, save/load) against a model that holds, per sequence, each token's
// latent record (the codec run on its own) and its act_quant'ed key (the oracle's actQuant). Also
// the accounting, the snapshot names, the typed errors (a failed call changes nothing) and that an
// MLA config without index fields keeps its layout.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeTokens } from "../../src/cache/codecs.js";
import { crc32 } from "../../src/cache/crc32.js";
import { type LatentCacheOptions, LatentCache } from "../../src/cache/latent-cache.js";
import { BLOCK_TOKENS, LATENT_FORMATS, type LatentFormat, tokenLayout } from "../../src/cache/layout.js";
import { loadCache, saveCache } from "../../src/cache/persist.js";
import { type DsaConfig, type MlaConfig, type ScaleFmt, makeConfig } from "../../src/config.js";
import { CacheError, NonFiniteError, ShapeError } from "../../src/errors.js";
import { actQuant } from "../../src/reference/dsa/quant.js";
import { Rng } from "../../src/weights.js";

const DI = 128;
/** DI e4m3 codes + one float32 scale (the 132 bytes per token and layer at index_head_dim 128). */
const INDEX_BYTES = DI + 4;

function dsaConfig(C: number, dr: number, scale_fmt: ScaleFmt | null, HI = 2): DsaConfig {
  return makeConfig({ dim: 16, n_heads: 2, q_lora_rank: 8, kv_lora_rank: C, qk_nope_head_dim: 4, qk_rope_head_dim: dr, v_head_dim: 4, max_seq_len: 300, original_seq_len: 300, max_batch_size: 2, index_n_heads: HI, index_head_dim: DI, index_topk: 4, scale_fmt }) as DsaConfig;
}

interface Tok {
  rec: Uint8Array;
  codes: Uint8Array;
  scale: number;
}

/** The tokens a write of these rows should leave: the latent codec on its own, the oracle's act_quant for the key. */
function expectTokens(cfg: DsaConfig, format: LatentFormat, c: Float64Array, kpe: Float64Array, k: Float64Array, n: number): Tok[] {
  const C = cfg.kv_lora_rank, dr = cfg.qk_rope_head_dim, L = tokenLayout(format, C, dr, cfg.scale_fmt);
  const rows = new Float32Array(n * (C + dr));
  for (let t = 0; t < n; t++) {
    rows.set(c.subarray(t * C, (t + 1) * C), t * (C + dr));
    rows.set(kpe.subarray(t * dr, (t + 1) * dr), t * (C + dr) + C);
  }
  const recs = new Uint8Array(n * L.bytesPerToken);
  encodeTokens(L, rows, 0, n, recs, 0);
  const q = actQuant(Float32Array.from(k), n, DI, cfg.scale_fmt);
  return Array.from({ length: n }, (_, t) => ({ rec: recs.slice(t * L.bytesPerToken, (t + 1) * L.bytesPerToken), codes: q.codes.slice(t * DI, (t + 1) * DI), scale: q.scales[t] }));
}

function randomRows(rng: Rng, cfg: DsaConfig, n: number) {
  const g = () => rng.normal() * (rng.uniform(0, 1) < 0.1 ? 1e-3 : 1);
  return { c: Float64Array.from({ length: n * cfg.kv_lora_rank }, g), kpe: Float64Array.from({ length: n * cfg.qk_rope_head_dim }, g), k: Float64Array.from({ length: n * DI }, g) };
}

function indexRecordBytes(toks: Tok[]): Uint8Array {
  const out = new Uint8Array(toks.length * INDEX_BYTES), dv = new DataView(out.buffer);
  toks.forEach((t, i) => {
    out.set(t.codes, i * INDEX_BYTES);
    dv.setFloat32(i * INDEX_BYTES + DI, t.scale, true);
  });
  return out;
}

const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
};

/** Everything observable of the cache, to compare before and after a call that must change nothing. */
function state(cache: LatentCache) {
  return {
    storage: crc32(cache.pool.storage),
    seqs: cache.sequenceIds().map((s) => [s, cache.length(s), Array.from(cache.blockTable(s))]),
    acct: [cache.bytesInUse(), cache.blocksInUse(), cache.bytesReserved()],
  };
}

/** Byte equality without the matcher's per-element walk (these arrays are tens of kilobytes): the first differing index, or -1. */
function firstDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const i = a.findIndex((v, k) => v !== b[k]);
  return i;
}

function checkAgainst(cache: LatentCache, model: Map<number, Tok[]>, recordBytes: number): void {
  expect(cache.sequenceIds().sort((a, b) => a - b)).toEqual([...model.keys()].sort((a, b) => a - b));
  const used = new Map<number, number>();
  for (const [seq, toks] of model) {
    expect(cache.length(seq)).toBe(toks.length);
    expect(firstDiff(cache.readRecords(seq), concat(toks.map((t) => t.rec))), `latent records of sequence ${seq}`).toBe(-1);
    expect(firstDiff(cache.readIndexRecords(seq), indexRecordBytes(toks)), `index keys of sequence ${seq}`).toBe(-1);
    const { values, scales } = cache.readIndexKeys(seq);
    expect(Array.from(scales)).toEqual(toks.map((t) => t.scale));
    expect(values.length).toBe(toks.length * DI);
    Array.from(cache.blockTable(seq)).forEach((b, k) => used.set(b, Math.max(used.get(b) ?? 0, Math.min(BLOCK_TOKENS, toks.length - k * BLOCK_TOKENS))));
  }
  let tokens = 0;
  for (const n of used.values()) tokens += n;
  expect(cache.bytesPerToken()).toBe(recordBytes + INDEX_BYTES);
  expect(cache.bytesInUse()).toBe(tokens * (recordBytes + INDEX_BYTES));
  expect(cache.bytesReserved()).toBe(cache.pool.maxBlocks * BLOCK_TOKENS * (recordBytes + INDEX_BYTES));
}

type Op =
  | { op: "append"; seq: number; n: number }
  | { op: "write"; seq: number; back: number; n: number }
  | { op: "fork"; seq: number; back: number }
  | { op: "forkWrite"; seq: number; back: number; n: number }
  | { op: "truncate"; seq: number; back: number }
  | { op: "release"; seq: number }
  | { op: "badBatch"; seq: number; n: number }
  | { op: "undo"; seq: number; back: number; n: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant("append" as const), seq: fc.nat(5), n: fc.integer({ min: 1, max: 70 }) }),
  fc.record({ op: fc.constant("write" as const), seq: fc.nat(5), back: fc.nat(80), n: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ op: fc.constant("fork" as const), seq: fc.nat(5), back: fc.nat(80) }),
  fc.record({ op: fc.constant("forkWrite" as const), seq: fc.nat(5), back: fc.nat(80), n: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ op: fc.constant("truncate" as const), seq: fc.nat(5), back: fc.nat(80) }),
  fc.record({ op: fc.constant("release" as const), seq: fc.nat(5) }),
  fc.record({ op: fc.constant("badBatch" as const), seq: fc.nat(5), n: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ op: fc.constant("undo" as const), seq: fc.nat(5), back: fc.nat(80), n: fc.integer({ min: 1, max: 70 }) }),
);

describe("LatentCache with the indexer's keys", () => {
  it("every operation keeps latent records and index keys together (random sequences against a model)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(128, 256),
        fc.integer({ min: 1, max: 4 }).map((h) => 2 * h),
        fc.constantFrom<ScaleFmt | null>(null, "ue8m0"),
        fc.constantFrom(...LATENT_FORMATS),
        fc.array(opArb, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        (C, dr, fmt, format, ops, seed) => {
          const cfg = dsaConfig(C, dr, fmt), rng = new Rng(seed);
          const cache = new LatentCache(cfg, { format, indexKeys: true, maxBlocks: 10, maxSequences: 5 });
          const recordBytes = tokenLayout(format, C, dr, fmt).bytesPerToken;
          const model = new Map<number, Tok[]>([[0, []], [1, []]]);
          const pick = (i: number) => [...model.keys()][i % model.size];
          /** Runs a call that may fail with a CacheError (pool or sequence limits): then nothing may change. */
          const attempt = (f: () => void, then: () => void) => {
            const before = state(cache);
            try {
              f();
            } catch (e) {
              expect(e).toBeInstanceOf(CacheError);
              expect(state(cache)).toEqual(before);
              return;
            }
            then();
          };
          for (const o of ops) {
            const seq = pick(o.seq), toks = model.get(seq)!;
            switch (o.op) {
              case "append":
              case "write": {
                const start = o.op === "append" ? toks.length : Math.max(0, toks.length - o.back);
                const r = randomRows(rng, cfg, o.n);
                attempt(
                  () => cache.write(seq, start, r.c, r.kpe, r.k),
                  () => model.set(seq, [...toks.slice(0, start), ...expectTokens(cfg, format, r.c, r.kpe, r.k, o.n)]),
                );
                break;
              }
              case "fork": {
                const pos = Math.max(0, toks.length - o.back);
                let id = -1;
                attempt(
                  () => void (id = cache.fork(seq, pos)),
                  () => model.set(id, toks.slice(0, pos)),
                );
                break;
              }
              case "forkWrite": {
                // fork, then append to the fork: copy on write of a shared partial block
                const pos = Math.max(0, toks.length - o.back), r = randomRows(rng, cfg, o.n);
                let id = -1;
                attempt(
                  () => void (id = cache.fork(seq, pos)),
                  () => {
                    model.set(id, toks.slice(0, pos));
                    attempt(
                      () => cache.append(id, r.c, r.kpe, r.k),
                      () => model.set(id, [...toks.slice(0, pos), ...expectTokens(cfg, format, r.c, r.kpe, r.k, o.n)]),
                    );
                  },
                );
                break;
              }
              case "truncate": {
                const pos = Math.max(0, toks.length - o.back);
                cache.truncate(seq, pos);
                model.set(seq, toks.slice(0, pos));
                break;
              }
              case "release":
                if (model.size > 1) {
                  cache.release(seq);
                  model.delete(seq);
                }
                break;
              case "badBatch": {
                // a valid write, then one whose key holds NaN: neither happens
                const other = pick(o.seq + 1), r = randomRows(rng, cfg, o.n), bad = randomRows(rng, cfg, 1);
                bad.k[Math.floor(rng.uniform(0, DI))] = NaN;
                const before = state(cache);
                const writes = [{ seq, startPos: toks.length, c: r.c, kpe: r.kpe, indexK: r.k }, ...(other !== seq ? [{ seq: other, startPos: model.get(other)!.length, c: bad.c, kpe: bad.kpe, indexK: bad.k }] : [])];
                if (writes.length === 2) {
                  let err: unknown;
                  try {
                    cache.writeBatch(writes);
                  } catch (e) {
                    err = e;
                  }
                  // the NaN, or the pool when it cannot take both writes (blocks are planned first)
                  expect(err instanceof NonFiniteError || (err instanceof CacheError && err.field === "block pool")).toBe(true);
                  expect(state(cache)).toEqual(before);
                }
                break;
              }
              case "undo": {
                // checkpoint, write (a rollback when back > 0), restore: the records and keys as they were
                const start = Math.max(0, toks.length - o.back), r = randomRows(rng, cfg, o.n);
                const before = { recs: cache.readRecords(seq), keys: cache.readIndexRecords(seq), len: cache.length(seq) };
                const cp = cache.checkpoint([{ seq, startPos: start }]);
                attempt(
                  () => cache.write(seq, start, r.c, r.kpe, r.k),
                  () => {
                    cache.restore(cp);
                    expect({ recs: cache.readRecords(seq), keys: cache.readIndexRecords(seq), len: cache.length(seq) }).toEqual(before);
                  },
                );
                break;
              }
            }
            checkAgainst(cache, model, recordBytes);
          }
          // save/load: the same sequences, records and keys; a restored cache keeps working
          const loaded = loadCache(saveCache(cache), { config: cfg, format, indexKeys: true });
          checkAgainst(loaded, model, recordBytes);
          const seq = pick(0), r = randomRows(rng, cfg, 3);
          attempt(
            () => loaded.append(seq, r.c, r.kpe, r.k),
            () => model.set(seq, [...model.get(seq)!, ...expectTokens(cfg, format, r.c, r.kpe, r.k, 3)]),
          );
          checkAgainst(loaded, model, recordBytes);
        },
      ),
      { numRuns: 50 },
    );
  }, 120_000);

  it("copy on write copies the shared block's keys: the fork's writes leave the parent's keys alone", () => {
    const cfg = dsaConfig(128, 4, "ue8m0"), rng = new Rng(7);
    const cache = new LatentCache(cfg, { format: "fp8_e4m3_v32", indexKeys: true, maxBlocks: 6, maxSequences: 3 });
    const r = randomRows(rng, cfg, 90);
    cache.append(0, r.c, r.kpe, r.k);
    const parent = cache.readIndexRecords(0);
    const f = cache.fork(0, 70); // shares block 1 at slot 6
    const w = randomRows(rng, cfg, 5);
    cache.append(f, w.c, w.kpe, w.k);
    expect(cache.readIndexRecords(0)).toEqual(parent);
    expect(cache.readIndexRecords(f)).toEqual(concat([parent.subarray(0, 70 * INDEX_BYTES), indexRecordBytes(expectTokens(cfg, "fp8_e4m3_v32", w.c, w.kpe, w.k, 5))]));
    expect(cache.blockTable(f)[1]).not.toBe(cache.blockTable(0)[1]);
  });

  it("snapshot adds model.py's indexer.k_cache [B, T, DI] (e4m3 values) and indexer.k_scale_cache [B, T, 1], zeros past a row's length", () => {
    const cfg = dsaConfig(256, 6, null), rng = new Rng(3);
    const cache = new LatentCache(cfg, { format: "fp8_e4m3_v32", indexKeys: true });
    const a = randomRows(rng, cfg, 3), b = randomRows(rng, cfg, 1);
    cache.append(0, a.c, a.kpe, a.k);
    cache.append(1, b.c, b.kpe, b.k);
    const snap = cache.snapshot(2, 3);
    expect(Object.keys(snap)).toEqual(["kv_cache", "pe_cache", "indexer.k_cache", "indexer.k_scale_cache"]);
    expect(snap["indexer.k_cache"].shape).toEqual([2, 3, DI]);
    expect(snap["indexer.k_scale_cache"].shape).toEqual([2, 3, 1]);
    const qa = actQuant(Float32Array.from(a.k), 3, DI, null), qb = actQuant(Float32Array.from(b.k), 1, DI, null);
    expect(Array.from(snap["indexer.k_cache"].data)).toEqual([...qa.values, ...qb.values, ...new Array(2 * DI).fill(0)]);
    expect(Array.from(snap["indexer.k_scale_cache"].data)).toEqual([...qa.scales, ...qb.scales, 0, 0]);
  });

  it("bad input is a typed error naming the field, and changes nothing", () => {
    const cfg = dsaConfig(128, 2, "ue8m0"), rng = new Rng(5);
    const cache = new LatentCache(cfg, { format: "bf16", indexKeys: true, maxBlocks: 4 });
    const r = randomRows(rng, cfg, 2);
    cache.append(0, r.c, r.kpe, r.k);
    const before = state(cache);
    const named = (f: () => void, type: new (...a: never[]) => Error, field: RegExp) => {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(type);
      expect((err as { field: string }).field).toMatch(field);
      expect(state(cache)).toEqual(before);
    };
    named(() => cache.append(0, r.c, r.kpe), ShapeError, /^writes\[0\]\.indexK\.length$/);
    named(() => cache.append(0, r.c, r.kpe, r.k.subarray(0, DI)), ShapeError, /^writes\[0\]\.indexK\.length$/);
    const nan = r.k.slice();
    nan[DI + 5] = Infinity;
    named(() => cache.append(0, r.c, r.kpe, nan), NonFiniteError, /^writes\[0\]\.indexK\[1, 5\]$/);
    const huge = r.k.slice();
    huge[7] = 3.4e38; // finite in float32, Inf in bf16 (act_quant reads bf16)
    named(() => cache.append(0, r.c, r.kpe, huge), CacheError, /^writes\[0\]\.indexK\[0, 7\]$/);
    named(() => cache.checkValues(0, r.c, r.kpe), ShapeError, /indexK/);
    named(() => cache.appendRecords(0, cache.readRecords(0), "bf16"), ShapeError, /^indexRecords\.length$/);
    // without index keys, a key is refused rather than dropped
    const plain = new LatentCache(cfg, { format: "bf16" });
    expect(() => plain.append(0, r.c, r.kpe, r.k)).toThrow(CacheError);
    expect(() => plain.readIndexKeys(0)).toThrow(CacheError);
    expect(plain.length(0)).toBe(0);
  });

  it("index keys and the V3.2 record need a V3.2 config; a V3.2 config without indexKeys is a plain latent cache", () => {
    const mla: MlaConfig = makeConfig({ dim: 16, n_heads: 2, q_lora_rank: 8, kv_lora_rank: 128, qk_nope_head_dim: 4, qk_rope_head_dim: 2, v_head_dim: 4, max_seq_len: 64, original_seq_len: 64, max_batch_size: 1 });
    const err = (opts: LatentCacheOptions) => {
      try {
        new LatentCache(mla, opts);
      } catch (e) {
        return e as CacheError;
      }
      return undefined;
    };
    expect(err({ indexKeys: true })).toBeInstanceOf(CacheError);
    expect(err({ indexKeys: true })!.field).toBe("options.indexKeys");
    expect(err({ format: "fp8_e4m3_v32" })!.field).toBe("options.format");
    expect(err({ indexKeys: "yes" as never })!.field).toBe("options.indexKeys");
    const dsa = dsaConfig(128, 2, null);
    for (const format of ["f32", "bf16", "f16", "int8", "fp8_e4m3"] as const) {
      const a = new LatentCache(mla, { format }), b = new LatentCache(dsa, { format });
      const bpt = tokenLayout(format, 128, 2).bytesPerToken;
      expect([a.bytesPerToken(), a.blockBytes, b.bytesPerToken(), b.blockBytes]).toEqual([bpt, 64 * bpt, bpt, 64 * bpt]);
      expect(Object.keys(b.snapshot(1, 1))).toEqual(["kv_cache", "pe_cache"]);
      expect(b.indexKeys).toBeNull();
    }
    // V3.2 at its real geometry: 656 + 132 bytes per token and layer
    const v32 = makeConfig({ ...dsa, kv_lora_rank: 512, qk_rope_head_dim: 64 });
    expect(new LatentCache(v32, { format: "fp8_e4m3_v32", indexKeys: true, maxBlocks: 1 }).bytesPerToken()).toBe(656 + 132);
  });
});
