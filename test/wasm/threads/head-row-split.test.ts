// The head splits (q-absorption, W_UV, naive decode attention) and the prefill row split on the
// pool's threads against the same kernels on one thread: the head splits give the same bits (each
// head is computed by the same calls), and so does the row split (each query row of the one
// attention loop depends only on its own keys). Random sizes (odd heads, H = 1, more threads than
// heads), sentinel-filled outputs, every thread count the pool has.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { MIN_WORK_PER_THREAD, ThreadPool, splitHeadRanges, splitRowRanges } from "../../../src/wasm/threads/pool.js";
import { loadThreadedCoreNode, nodeSpawner } from "../../../src/wasm/threads/node.js";
import { STORAGE_FORMATS } from "../../../src/cache/layout.js";
import { Rng } from "../helpers.js";
import { THREADED_BUILDS, pagedCache } from "./helpers.js";

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe.each(THREADED_BUILDS)("%s, a pool of 3 threads", (build) => {
  let pool: ThreadPool;
  beforeAll(async () => {
    pool = await ThreadPool.create({ threads: 3, core: await loadThreadedCoreNode(build), spawn: nodeSpawner(), minWorkPerThread: 0 });
  });
  afterAll(() => pool.terminate());

  it("q-absorption and W_UV split by heads: the same bits as one thread", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 37 }), fc.integer({ min: 1, max: 19 }), fc.integer({ min: 1, max: 13 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 1e6 }), (H, N, C, dn, dv, dr, seed) => {
        const k = pool.kernels, rng = new Rng(seed), qk = dn + dr;
        const wkvb = rng.normalArray(H * (dn + dv) * C);
        const wuk = k.packWUK(wkvb, H, C, dn, dv), wuv = k.packWUV(wkvb, H, C, dn, dv);
        const q = k.alloc(N * H * qk, rng.normalArray(N * H * qk)), olat = k.alloc(N * H * C, rng.normalArray(N * H * C));
        const a1 = k.alloc(N * H * C).fill(NaN), a2 = k.alloc(N * H * C).fill(NaN), o1 = k.alloc(N * H * dv).fill(NaN), o2 = k.alloc(N * H * dv).fill(NaN);
        try {
          k.absorbQ(N, H, C, dn, qk, q, wuk, a1);
          expect(pool.absorbQSplit(N, H, C, dn, qk, q, wuk, a2).parts).toBe(Math.min(3, H));
          expect(bits(a2.toArray())).toEqual(bits(a1.toArray()));
          k.projectUV(N, H, C, dv, olat, wuv, o1);
          pool.projectUVSplit(N, H, C, dv, olat, wuv, o2);
          expect(bits(o2.toArray())).toEqual(bits(o1.toArray()));
          expect(o1.toArray().every(Number.isFinite)).toBe(true);
        } finally {
          for (const b of [wuk, wuv, q, olat, a1, a2, o1, o2]) b.free();
        }
      }),
      { numRuns: 40 },
    );
  });

  it("naive decode attention split by heads: the same bits as one thread, every thread's scratch poisoned", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 11 }), fc.constantFrom(0, 1, 62, 63, 64, 65, 130, 300), fc.integer({ min: 1, max: 1e6 }), (H, qk, dv, startPos, seed) => {
        const k = pool.kernels, rng = new Rng(seed), T = startPos + 1;
        const kv = k.alloc(T * H * (qk + dv), rng.normalArray(T * H * (qk + dv)));
        const kRow = kv.ptr, vRow = kv.ptr + 4 * T * H * qk;
        const q = k.alloc(H * qk, rng.normalArray(H * qk)), scratch = k.alloc(k.attnScratchFloats(H));
        const o1 = k.alloc(H * dv).fill(NaN), o2 = k.alloc(H * dv).fill(NaN);
        try {
          const scale = Math.fround(1 / Math.sqrt(qk));
          k.attnDecodeNaive(H, qk, dv, startPos, q, kRow, vRow, scale, o1, scratch);
          pool.poisonWorkspace();
          pool.attnDecodeNaiveSplit(H, qk, dv, startPos, q, kRow, vRow, scale, o2);
          expect(bits(o2.toArray())).toEqual(bits(o1.toArray()));
          expect(o1.toArray().every(Number.isFinite)).toBe(true);
        } finally {
          for (const b of [kv, q, scratch, o1, o2]) b.free();
        }
      }),
      { numRuns: 40 },
    );
  });

  it("a prefill chunk's causal attention split by token ranges: the same bits as one call, o and lse", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 2, max: 20 }), fc.integer({ min: 0, max: 200 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 6 }), fc.constantFrom(...STORAGE_FORMATS), fc.integer({ min: 1, max: 1e6 }), (H, sq, before, C, dr, format, seed) => {
        const k = pool.kernels, rng = new Rng(seed), W = C + dr, R = sq * H, len = before + sq;
        const cache = pagedCache(k, format, len, C, dr, rng);
        const q = k.alloc(R * W, rng.normalArray(R * W, 0.3)), scratch = k.alloc(k.attnPagedScratchFloats(R, C, dr));
        const o1 = k.alloc(R * C).fill(NaN), l1 = k.alloc(R).fill(NaN), o2 = k.alloc(R * C).fill(NaN), l2 = k.alloc(R).fill(NaN);
        try {
          const a = { format, sq, H, C, dr, len, q, pool: cache.pool, blocks: cache.blocks, table: cache.table, scale: Math.fround(1 / Math.sqrt(W)), causal: true };
          k.attnMlaDecode({ ...a, o: o1, lse: l1, scratch });
          pool.poisonWorkspace();
          expect(pool.attnMlaRowSplit({ ...a, o: o2, lse: l2 }).parts).toBe(Math.min(3, sq));
          expect(bits(o2.toArray())).toEqual(bits(o1.toArray()));
          expect(bits(l2.toArray())).toEqual(bits(l1.toArray()));
        } finally {
          for (const b of [q, scratch, o1, l1, o2, l2]) b.free();
          cache.free();
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe("split rules", () => {
  it("splitHeadRanges: consecutive, covering, as equal as whole heads allow, at most `threads`", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 8 }), (H, threads, minHeads) => {
        const r = splitHeadRanges(H, threads, minHeads);
        expect(r[0].h0).toBe(0);
        expect(r[r.length - 1].h1).toBe(H);
        r.forEach((p, i) => i > 0 && expect(p.h0).toBe(r[i - 1].h1));
        expect(r.length).toBe(Math.max(1, Math.min(threads, Math.floor(H / minHeads))));
        const sizes = r.map((p) => p.h1 - p.h0);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }),
    );
  });

  it("splitRowRanges: consecutive non-empty ranges whose causal work differs by at most one row's", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.option(fc.integer({ min: 0, max: 5000 })), fc.integer({ min: 1, max: 9 }), (sq, before, threads) => {
        const r = splitRowRanges(sq, before, threads);
        expect(r[0].t0).toBe(0);
        expect(r[r.length - 1].t1).toBe(sq);
        r.forEach((p, i) => {
          expect(p.t1).toBeGreaterThan(p.t0);
          if (i > 0) expect(p.t0).toBe(r[i - 1].t1);
        });
        expect(r.length).toBe(Math.min(threads, sq));
        const rowWork = (t: number) => (before === null ? 1 : before + t + 1);
        const work = r.map((p) => Array.from({ length: p.t1 - p.t0 }, (_, i) => rowWork(p.t0 + i)).reduce((x, y) => x + y, 0));
        const total = work.reduce((x, y) => x + y, 0), ideal = total / r.length;
        // each cut lands on the first row whose prefix reaches its share: a range is off its share by less than two rows
        for (const w of work) expect(Math.abs(w - ideal)).toBeLessThanOrEqual(2 * rowWork(sq - 1) + 1e-9);
      }),
    );
  });
});

describe("the split rule (MIN_WORK_PER_THREAD)", () => {
  it("keeps small calls on one thread and splits large ones; 0 splits everything", async () => {
    const core = await loadThreadedCoreNode(THREADED_BUILDS[0]);
    const pool = await ThreadPool.create({ threads: 2, core, spawn: nodeSpawner() });
    const eager = await ThreadPool.create({ threads: 2, core, spawn: nodeSpawner(), minWorkPerThread: 0 });
    try {
      expect(pool.minWorkPerThread).toBe(MIN_WORK_PER_THREAD);
      expect([pool.partsFor(MIN_WORK_PER_THREAD - 1), pool.partsFor(2 * MIN_WORK_PER_THREAD - 1), pool.partsFor(2 * MIN_WORK_PER_THREAD), pool.partsFor(1e12)]).toEqual([1, 1, 2, 2]);
      expect(eager.partsFor(1)).toBe(2);
      const k = pool.kernels, rng = new Rng(1);
      const small = k.packNK(rng.normalArray(64 * 16), 64, 16), big = k.packNK(rng.normalArray(512 * 512), 512, 512);
      const x = k.alloc(512, rng.normalArray(512)), y = k.alloc(512);
      expect(pool.linearSplit(1, x, small, y).parts).toBe(1); // 1 Ki floats: one thread
      expect(pool.linearSplit(1, x, big, y).parts).toBe(2); // 256 Ki floats: both
      const ek = eager.kernels, es = ek.packNK(rng.normalArray(64 * 16), 64, 16), ex = ek.alloc(16, rng.normalArray(16)), ey = ek.alloc(64);
      expect(eager.linearSplit(1, ex, es, ey).parts).toBe(2);
      await expect(ThreadPool.create({ threads: 2, core, spawn: nodeSpawner(), minWorkPerThread: -1 })).rejects.toThrow(/minWorkPerThread/);
    } finally {
      await pool.terminate();
      await eager.terminate();
    }
  });
});
