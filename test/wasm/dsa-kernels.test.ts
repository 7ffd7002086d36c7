// The V3.2 indexer kernels of the WASM core (assembly/dsa_indexer.ts), both builds and the
// asserting build, over random sizes (odd DI and HI, one head, zero keys, rows with many exact
// ties): index scores == the oracle's indexScores (exact e4m3 products, float64 sums) within the
// float32 bound src/wasm/dsa-numerics.ts derives for the inputs drawn; top-k == the oracle's
// topkRow on the SAME float32 scores exactly (the tie rule is the oracle's), and agrees with the
// oracle's selection from its exact scores by topkSetsAgree. Outputs are sentinel-filled, with
// sentinel padding between rows that must stay untouched.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { E4M3_VALUES } from "../../src/cache/scalar.js";
import { ShapeError } from "../../src/errors.js";
import { indexScores } from "../../src/reference/dsa/indexer.js";
import { topkRow } from "../../src/reference/dsa/topk.js";
import { indexScoreBound, topkSetsAgree } from "../../src/dsa-numerics.js";
import { KERNEL_BUILDS, Rng, SENTINEL, describe_, firstOutside, kernels } from "./helpers.js";

const RUNS = 40;

const dims = fc.record({
  s: fc.integer({ min: 1, max: 3 }),
  T: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 60, max: 150 })),
  HI: fc.integer({ min: 1, max: 5 }),
  DI: fc.oneof(fc.integer({ min: 1, max: 13 }), fc.constantFrom(127, 128)),
  pad: fc.integer({ min: 0, max: 3 }),
  // few distinct e4m3 codes make many exact ties (and ReLU zeros)
  codes: fc.oneof(fc.constant(256), fc.integer({ min: 2, max: 6 })),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});

/** e4m3 values drawn from the first `codes` finite codes of each sign (all finite codes at 256). */
function e4m3Array(n: number, codes: number, rng: Rng): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let c: number;
    do c = Math.floor(rng.uniform(0, codes >= 256 ? 256 : codes)) | (codes < 256 && rng.uniform(0, 1) < 0.5 ? 0x80 : 0) | (codes < 256 ? 0x30 : 0);
    while (!Number.isFinite(E4M3_VALUES[c & 0xff]));
    out[i] = E4M3_VALUES[c & 0xff];
  }
  return out;
}

describe.each(KERNEL_BUILDS)("dsa kernels (%s)", (build) => {
  it("index scores: within the derived float32 bound of the exact scores, sentinel padding untouched", async () => {
    const k = await kernels(build);
    await fc.assert(
      fc.asyncProperty(dims, async (d) => {
        const rng = new Rng(d.seed);
        const q8 = e4m3Array(d.s * d.HI * d.DI, d.codes, rng), k8 = e4m3Array(d.T * d.DI, d.codes, rng);
        const w = rng.normalArray(d.s * d.HI);
        const ks = Float32Array.from({ length: d.T }, () => Math.fround(Math.abs(rng.normal()) / 64));
        const exact = indexScores(q8, w, k8, ks, d.s, d.T, d.HI, d.DI);
        const ldo = d.T + d.pad;
        const qb = k.alloc(q8.length, q8), wb = k.alloc(w.length, w), kb = k.alloc(Math.max(1, k8.length), k8), ksb = k.alloc(Math.max(1, d.T), ks);
        const out = k.alloc(Math.max(1, d.s * ldo)).fill(SENTINEL), scratch = k.alloc(k.indexScratchFloats(d.HI, d.DI));
        k.indexScores({ s: d.s, T: d.T, HI: d.HI, DI: d.DI, q8: qb, w: wb, k8Row: kb.ptr, ksRow: ksb.ptr, out, ldo, scratch });
        const got = out.toArray();
        for (let m = 0; m < d.s; m++) {
          const row = got.subarray(m * ldo, m * ldo + d.T);
          const bound = indexScoreBound(q8, m * d.HI * d.DI, w, m * d.HI, k8, ks, d.T, d.HI, d.DI, exact, m * d.T);
          const ref = exact.subarray(m * d.T, (m + 1) * d.T);
          const i = firstOutside(row, ref, bound);
          expect(i, i >= 0 ? `row ${m} ${describe_(row, ref, bound, i)}` : "").toBe(-1);
          for (let j = d.T; j < ldo && m < d.s - 1; j++) expect(got[m * ldo + j]).toBeNaN();
        }
        for (const b of [qb, wb, kb, ksb, out, scratch]) b.free();
      }),
      { numRuns: RUNS },
    );
  });

  it("paged index scores: bit for bit the contiguous kernel's, over shuffled blocks with other bytes around the keys", async () => {
    const k = await kernels(build);
    const codeOf = new Map<number, number>();
    for (let c = 0; c < 256; c++) if (Number.isFinite(E4M3_VALUES[c]) && !codeOf.has(E4M3_VALUES[c])) codeOf.set(E4M3_VALUES[c], c);
    await fc.assert(
      fc.asyncProperty(dims, fc.integer({ min: 0, max: 40 }), async (d, extra) => {
        const rng = new Rng(d.seed);
        const { s, T, HI, DI } = d, KB = 64, nBlocks = Math.max(1, Math.ceil(T / KB));
        const q8 = e4m3Array(s * HI * DI, d.codes, rng), k8 = e4m3Array(T * DI, d.codes, rng), w = rng.normalArray(s * HI);
        const ks = Float32Array.from({ length: T }, () => Math.fround(Math.abs(rng.normal()) / 64));
        // a pool of nBlocks + 2 blocks, ids shuffled; each block: `extra * 4` bytes of other records, the codes, the scales, 4 spare bytes
        const keysOffset = 4 * extra, blockBytes = keysOffset + KB * (DI + 4) + 4, poolBlocks = nBlocks + 2;
        const perm = Array.from({ length: poolBlocks }, (_, i) => i).sort(() => rng.uniform(-1, 1));
        const ids = Int32Array.from(perm.slice(0, nBlocks));
        const pool = k.allocBytes(poolBlocks * blockBytes);
        const bytes = new Uint8Array(k.arena.memory.buffer, pool.ptr, pool.bytes).fill(0xff);
        const dv = new DataView(k.arena.memory.buffer, pool.ptr, pool.bytes);
        for (let n = 0; n < T; n++) {
          const at = ids[Math.floor(n / KB)] * blockBytes + keysOffset, slot = n % KB;
          for (let i = 0; i < DI; i++) bytes[at + slot * DI + i] = codeOf.get(k8[n * DI + i])!;
          dv.setFloat32(at + KB * DI + 4 * slot, ks[n], true);
        }
        const qb = k.alloc(q8.length, q8), wb = k.alloc(w.length, w), kb = k.alloc(Math.max(1, k8.length), k8), ksb = k.alloc(Math.max(1, T), ks);
        const want = k.alloc(Math.max(1, s * T)).fill(SENTINEL), got = k.alloc(Math.max(1, s * T)).fill(SENTINEL);
        const table = k.alloc(nBlocks), scratch = k.alloc(k.indexScratchFloats(HI, DI));
        k.indexScores({ s, T, HI, DI, q8: qb, w: wb, k8Row: kb.ptr, ksRow: ksb.ptr, out: want, scratch });
        k.indexScoresPaged({ s, T, HI, DI, q8: qb, w: wb, pool, blocks: ids, table, blockBytes, keysOffset, out: got, scratch });
        expect(Array.from(got.toArray())).toEqual(Array.from(want.toArray()));
        for (const b of [qb, wb, kb, ksb, want, got, table, scratch]) b.free();
        k.arena.free(pool.ptr);
      }),
      { numRuns: RUNS },
    );
  });

  it("top-k: exactly the oracle's rule on the same float32 scores; agrees with the exact selection", async () => {
    const k = await kernels(build);
    await fc.assert(
      fc.asyncProperty(dims, fc.integer({ min: 0, max: 200 }), fc.integer({ min: 1, max: 160 }), async (d, vis, kk) => {
        const rng = new Rng(d.seed);
        const T = Math.max(d.T, 1), HI = d.HI, DI = d.DI;
        const q8 = e4m3Array(HI * DI, d.codes, rng), k8 = e4m3Array(T * DI, d.codes, rng), w = rng.normalArray(HI);
        const ks = Float32Array.from({ length: T }, () => Math.fround(Math.abs(rng.normal()) / 64));
        const exact = indexScores(q8, w, k8, ks, 1, T, HI, DI);
        const visible = Math.min(vis, T), K = Math.min(kk, T + 3);
        const qb = k.alloc(q8.length, q8), wb = k.alloc(w.length, w), kb = k.alloc(k8.length, k8), ksb = k.alloc(T, ks);
        const sc = k.alloc(T).fill(SENTINEL), scratch = k.alloc(k.indexScratchFloats(HI, DI));
        k.indexScores({ s: 1, T, HI, DI, q8: qb, w: wb, k8Row: kb.ptr, ksRow: ksb.ptr, out: sc, scratch });
        const out = k.allocBytes(4 * (K + 2)), heap = k.allocBytes(4 * Math.max(1, Math.min(K, visible)));
        const i32 = () => new Int32Array(k.arena.memory.buffer, out.ptr, K + 2);
        i32().fill(0x7fff_fff0);
        k.topk(sc, 0, visible, K, out, 4, heap);
        const got = Array.from(i32());
        expect(got[0]).toBe(0x7fff_fff0); // the bytes around the row stay
        expect(got[K + 1]).toBe(0x7fff_fff0);
        const f32 = sc.toArray();
        expect(got.slice(1, K + 1)).toEqual(Array.from(topkRow(f32, 0, visible, K)));
        const bound = indexScoreBound(q8, 0, w, 0, k8, ks, T, HI, DI, exact, 0);
        const agree = topkSetsAgree(exact, 0, visible, K, got.slice(1, K + 1), topkRow(exact, 0, visible, K), bound);
        expect(agree.agree, agree.reason).toBe(true);
        for (const b of [qb, wb, kb, ksb, sc, scratch]) b.free();
        k.arena.free(out.ptr);
        k.arena.free(heap.ptr);
      }),
      { numRuns: RUNS },
    );
  });

  it("top-k edge rows: k > visible pads with -1, all-equal scores keep the lowest indices, -0 ties +0", async () => {
    const k = await kernels(build);
    const sc = k.alloc(6, [0, -0, 0, 1, 1, -2]);
    const out = k.allocBytes(4 * 8), heap = k.allocBytes(4 * 8);
    const row = (n: number) => Array.from(new Int32Array(k.arena.memory.buffer, out.ptr, n));
    k.topk(sc, 0, 6, 8, out, 0, heap);
    expect(row(8)).toEqual([3, 4, 0, 1, 2, 5, -1, -1]);
    k.topk(sc, 0, 3, 2, out, 0, heap);
    expect(row(2)).toEqual([0, 1]);
    k.topk(sc, 0, 0, 3, out, 0, heap);
    expect(row(3)).toEqual([-1, -1, -1]);
  });

  it("refuses bad extents with ShapeError before any write", async () => {
    const k = await kernels(build);
    const q = k.alloc(8), w = k.alloc(2), out = k.alloc(4).fill(SENTINEL), scratch = k.alloc(k.indexScratchFloats(2, 4));
    expect(() => k.indexScores({ s: 1, T: 5, HI: 2, DI: 4, q8: q, w, k8Row: q.ptr, ksRow: w.ptr, out, scratch })).toThrow(ShapeError);
    expect(() => k.indexScores({ s: 1, T: 2, HI: 2, DI: 4, q8: q, w, k8Row: 0, ksRow: w.ptr, out, scratch })).toThrow(/k8Row/);
    expect(() => k.indexScores({ s: 1, T: 2, HI: 2, DI: 4, q8: q, w, k8Row: q.ptr, ldk: 3, ksRow: w.ptr, out, scratch })).toThrow(/ldk/);
    const heap = k.allocBytes(8), dst = k.allocBytes(8);
    expect(() => k.topk(out, 0, 4, 3, dst, 0, heap)).toThrow(/outAt|heap/);
    expect(() => k.topk(out, 0, 5, 1, dst, 0, heap)).toThrow(/scores/);
    const pool = k.allocBytes(64 * 136), table = k.alloc(1), big = k.alloc(k.indexScratchFloats(2, 4));
    expect(() => k.indexScoresPaged({ s: 1, T: 2, HI: 2, DI: 4, q8: q, w, pool, blocks: Int32Array.of(17), table, blockBytes: 64 * 8, keysOffset: 0, out, scratch: big })).toThrow(/blocks\[0\]/);
    expect(() => k.indexScoresPaged({ s: 1, T: 2, HI: 2, DI: 4, q8: q, w, pool, blocks: Int32Array.of(0), table, blockBytes: 64 * 8, keysOffset: 8, out, scratch: big })).toThrow(/keysOffset/);
    expect(() => k.indexScoresPaged({ s: 1, T: 2, HI: 2, DI: 4, q8: q, w, pool, blocks: Int32Array.of(0), table, blockBytes: 64 * 8, keysOffset: 0, out, scratch: k.alloc(8) })).toThrow(/scratch/);
    expect(Array.from(out.toArray()).every(Number.isNaN)).toBe(true);
  });
});
