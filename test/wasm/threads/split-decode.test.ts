// Split-KV decode attention on the thread pool (ThreadPool.attnMlaDecodeSplit: one 64-aligned key
// range per thread, all heads each, partial (o, lse) per thread, the core's attn_mla_combine)
// against the one-range kernel attn_mla_decode on the same memory and build:
// - within splitBound (./split-bound.ts derives it: the combine reorders the softmax sums), for
//   random head counts (1, odd), context lengths (1, 63, 64, 65, odd, several thousand), 1..4
//   threads, dense / causal / sparse (slots split, -1 skipped), f32 and two lossy formats, both
//   threaded ISAs;
// - bit for bit when the call runs as one part (one thread, or a context of one block);
// - outputs and every thread's workspace NaN before each call, so an unwritten slot shows.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import type { StorageFormat } from "../../../src/cache/layout.js";
import type { F32Buf, WasmKernels } from "../../../src/wasm/kernels.js";
import { type MlaDecodeSplitArgs, ThreadPool, splitKeyRanges } from "../../../src/wasm/threads/index.js";
import { loadThreadedCoreNode, nodeSpawner } from "../../../src/wasm/threads/node.js";
import { KERNEL_BUILDS, Rng, describe_, firstOutside, kernels } from "../helpers.js";
import { THREADED_BUILDS, pagedCache } from "./helpers.js";
import { splitBound } from "./split-bound.js";

const RUNS = Number(process.env.MLAKIT_FUZZ_RUNS ?? 40);

const arbLen = fc.oneof(fc.constantFrom(0, 1, 63, 64, 65, 127, 128, 129, 191, 257), fc.integer({ min: 2, max: 400 }), fc.integer({ min: 1000, max: 4500 }));
const arbCall = fc.record({
  H: fc.oneof(fc.constantFrom(1, 3, 5), fc.integer({ min: 1, max: 8 })),
  C: fc.oneof(fc.integer({ min: 1, max: 24 }), fc.integer({ min: 60, max: 140 })),
  dr: fc.integer({ min: 0, max: 4 }).map((v) => 2 * v),
  sq: fc.integer({ min: 1, max: 3 }),
  len: arbLen,
  mode: fc.constantFrom("dense", "dense", "causal", "sparse"),
  topk: arbLen,
  emptyRate: fc.constantFrom(0, 0.3, 1),
  format: fc.constantFrom<StorageFormat>("f32", "f32", "bf16", "int8"),
  threads: fc.integer({ min: 1, max: 4 }),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});
type Call = typeof arbCall extends fc.Arbitrary<infer T> ? T : never;

/** Runs one split call: the pool's, or the same ranges one after another on one instance. */
interface Splitter {
  k: WasmKernels;
  split(a: MlaDecodeSplitArgs, threads: number): number;
  poison(): void;
}

/** The split's kernels without threads: mlaDecodeSplitCalls' ranges run in turn, then the combine (the asserting build checks their reads). */
function sequential(k: WasmKernels): Splitter {
  let ws: { oPart: F32Buf; lsePart: F32Buf; scratch: F32Buf } | null = null;
  return {
    k,
    split(a, threads) {
      const parts = splitKeyRanges(a.sel ? a.sel.topk : a.len, threads), R = a.sq * a.H;
      ws = { oPart: k.alloc(parts.length * R * a.C).fill(NaN), lsePart: k.alloc(parts.length * R).fill(NaN), scratch: k.alloc(parts.length * k.splitScratchStride(R, a.C, a.dr)).fill(NaN) };
      try {
        const { ranges, combine } = k.mlaDecodeSplitCalls(a, parts, ws);
        for (const r of ranges.reverse()) k.exports.attn_mla_decode_range(...r);
        k.exports.attn_mla_combine(...combine);
      } finally {
        ws.oPart.free();
        ws.lsePart.free();
        ws.scratch.free();
      }
      return parts.length;
    },
    poison() {},
  };
}

function check(sp: Splitter, c: Call): void {
  const k = sp.k, rng = new Rng(c.seed);
  const { H, C, dr, sq, format } = c, W = C + dr, R = sq * H;
  const len = c.mode === "causal" ? Math.max(c.len, sq) : c.len;
  const cache = pagedCache(k, format, len, C, dr, rng);
  const qData = rng.normalArray(R * W, 1 / Math.sqrt(Math.max(1, W / 8)));
  const q = k.alloc(R * W, qData);
  let sel: { range: { ptr: number; bytes: number }; at: number; topk: number } | undefined;
  let slots: Int32Array | undefined;
  const topk = c.topk;
  const selBuf = k.alloc(Math.max(1, sq * topk));
  if (c.mode === "sparse") {
    slots = new Int32Array(sq * topk);
    for (let i = 0; i < slots.length; i++) slots[i] = len === 0 || rng.uniform(0, 1) < c.emptyRate ? -1 : Math.floor(rng.uniform(0, len));
    new Int32Array(k.arena.memory.buffer, selBuf.ptr, slots.length).set(slots);
    sel = { range: { ptr: selBuf.ptr, bytes: 4 * Math.max(1, sq * topk) }, at: 0, topk };
  }
  const scale = Math.fround(1 / Math.sqrt(W));
  const base = { format, sq, H, C, dr, len, q, pool: cache.pool, blocks: cache.blocks, table: cache.table, scale, causal: c.mode === "causal", sel };
  const o1 = k.alloc(R * C).fill(NaN), l1 = k.alloc(R).fill(NaN), o2 = k.alloc(R * C).fill(NaN), l2 = k.alloc(R).fill(NaN);
  const scratch = k.alloc(k.attnPagedScratchFloats(R, C, dr));
  try {
    k.attnMlaDecode({ ...base, o: o1, lse: l1, scratch });
    sp.poison();
    const parts = sp.split({ ...base, o: o2, lse: l2 }, c.threads);
    const keys = sel ? topk : len;
    const ranges = splitKeyRanges(keys, c.threads);
    expect(parts).toBe(ranges.length);
    expect(parts).toBe(Math.max(1, Math.min(c.threads, Math.ceil(keys / 64))));
    const one = o1.toArray(), lOne = l1.toArray(), got = o2.toArray(), lGot = l2.toArray();
    expect(firstOutside(one, one, 0), "the one-range kernel wrote every o").toBe(-1);
    if (parts === 1) {
      // one range + the combine of one partial: attn_mla_decode's values, bit for bit
      expect(Array.from(new Uint32Array(got.buffer))).toEqual(Array.from(new Uint32Array(one.buffer)));
      expect(Array.from(new Uint32Array(lGot.buffer))).toEqual(Array.from(new Uint32Array(lOne.buffer)));
      return;
    }
    const bound = splitBound({
      sq, H, C, dr, keys: cache.keys, q: qData, scale, ranges,
      visible: (t) => Int32Array.from({ length: c.mode === "causal" ? len - sq + 1 + t : len }, (_, j) => j),
      slots: slots ? (t) => slots!.subarray(t * topk, (t + 1) * topk) : undefined,
    });
    const io = firstOutside(got, one, bound.o);
    expect(io, io < 0 ? "" : describe_(got, one, bound.o, io)).toBe(-1);
    // lse: +Infinity (no key) must match exactly; finite values within the bound
    for (let i = 0; i < R; i++) {
      if (lOne[i] === Infinity) expect(lGot[i], `lse[${i}]`).toBe(Infinity);
      else expect(Math.abs(lGot[i] - lOne[i]), `lse[${i}]: ${lGot[i]} vs ${lOne[i]} +- ${bound.lse[i]}`).toBeLessThanOrEqual(bound.lse[i]);
    }
  } finally {
    for (const b of [q, o1, l1, o2, l2, scratch, selBuf]) b.free();
    cache.free();
  }
}

describe.each(KERNEL_BUILDS)("%s build, the split's kernels on one thread", (build) => {
  it("ranges run in turn (last first) and combined equal the one-range kernel within the bound", async () => {
    const sp = sequential(await kernels(build));
    fc.assert(fc.property(arbCall, (c) => check(sp, c)), { numRuns: Math.ceil(RUNS / 2) });
  });
});

describe.each(THREADED_BUILDS)("%s build", (build) => {
  let pool: ThreadPool;
  let sp: Splitter;
  beforeAll(async () => {
    pool = await ThreadPool.create({ threads: 4, core: await loadThreadedCoreNode(build), spawn: nodeSpawner(), stepTimeoutMs: 30_000 });
    sp = { k: pool.kernels, split: (a, threads) => pool.attnMlaDecodeSplit(a, { threads }).parts, poison: () => pool.poisonWorkspace() };
  });
  afterAll(async () => pool?.terminate());

  it("equals the one-range kernel within the derived combine bound (random heads, contexts, threads, modes, formats)", () => {
    fc.assert(fc.property(arbCall, (c) => check(sp, c)), { numRuns: RUNS });
  });

  it("the edge contexts at every thread count (1, 63, 64, 65, 4097 keys; H = 1 and odd)", () => {
    for (const len of [0, 1, 63, 64, 65, 129, 4097]) {
      for (const threads of [1, 2, 3, 4]) {
        for (const H of [1, 3]) check(sp, { H, C: 33, dr: 4, sq: 1, len, mode: "dense", topk: 1, emptyRate: 0, format: "f32", threads, seed: len * 31 + threads * 7 + H });
      }
    }
  });

  it("several thousand keys, causal over 3 tokens and sparse top-2048 with empty slots", () => {
    check(sp, { H: 5, C: 128, dr: 8, sq: 3, len: 4500, mode: "causal", topk: 1, emptyRate: 0, format: "f32", threads: 4, seed: 11 });
    check(sp, { H: 3, C: 64, dr: 8, sq: 2, len: 3000, mode: "sparse", topk: 2048, emptyRate: 0.3, format: "bf16", threads: 3, seed: 12 });
  });

  it("splitKeyRanges: 64-aligned consecutive ranges covering every key, at most `threads`", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 20000 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 4 }), (keys, threads, minB) => {
      const r = splitKeyRanges(keys, threads, minB);
      expect(r.length).toBeGreaterThanOrEqual(1);
      expect(r.length).toBeLessThanOrEqual(threads);
      expect(r[0].jBegin).toBe(0);
      expect(r[r.length - 1].jEnd).toBe(keys);
      r.forEach((p, i) => {
        expect(p.jBegin % 64).toBe(0);
        if (i > 0) expect(p.jBegin).toBe(r[i - 1].jEnd);
        if (r.length > 1) expect(p.jEnd - p.jBegin).toBeGreaterThan(0);
      });
    }));
  });
});
