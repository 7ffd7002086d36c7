// The WASM absorbed attention over a paged LatentCache pool (assembly/attention_absorbed.ts, through
// the kernel host API), every format, both builds and the asserting build: o_lat and o == the
// float64 reference math (attendRow over [c | k_pe], absorbOutput) over the same dequantised cache
// (LatentCache.read). The dequantised values are exact float32 numbers, so only the kernel's
// float32 arithmetic differs; each element is held to the bound ./f32-attention-bound.ts derives
// for the sizes drawn (keys up to 155, C + dr up to 276, values up to 20).
// The pool is copied into linear memory as the TypeScript cache wrote it, with every byte not
// holding a record of the attended sequence set to 0xFF (NaN in every format: f32/bf16/f16 NaN,
// e4m3 NaN, int8 scale NaN); outputs are NaN-filled. Block tables are shuffled by interleaved
// appends of another sequence, forks (shared blocks) and copy on write.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { makeConfig } from "../../src/config.js";
import { LatentCache } from "../../src/cache/latent-cache.js";
import { BLOCK_TOKENS, STORAGE_FORMATS, type StorageFormat } from "../../src/cache/layout.js";
import { attendRow } from "../../src/reference/attention.js";
import { absorbOutput } from "../../src/reference/mla.js";
import { mlaSoftmaxScale } from "../../src/derived.js";
import { ShapeError } from "../../src/errors.js";
import { randomMlaWeights } from "../../src/weights.js";
import type { ByteRange, WasmKernels } from "../../src/wasm/kernels.js";
import { attentionBound, projectionBound } from "./f32-attention-bound.js";
import { KERNEL_BUILDS, describe_, firstOutside, kernels, Rng, SENTINEL } from "./helpers.js";

const RUNS = 40;
/** Failures found by random runs, replayed on every run (fast-check seed and shrink path). */
const REGRESSIONS: { format: StorageFormat; seed: number; path: string; what: string }[] = [
  // a key's score 87.000007 below the max: vexp flushes its weight (e^-87) to 0
  { format: "int8", seed: -1768880585, path: "3:1:2:7:4:2:2:4:4:4:4:4:4:5:18:6:5:4:4:5:9:5:6:5:5:5:5:5:4:5:6:7:6:8:8:1:2:2:15:3:2:3:8:2:2:3:2:2:4:2:2:3:3:6:2:5:2:3:2:3:2:5:2:3:2:13:2:3:2:6:3:3:7:2:3:4:3:2:3:3:2:4:5:6:4:2:3", what: "a weight at vexp's underflow" },
];

const dims = fc.record({
  s: fc.integer({ min: 1, max: 5 }),
  startPos: fc.integer({ min: 0, max: 150 }),
  H: fc.integer({ min: 1, max: 5 }),
  C: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 120, max: 264 })), // fp8: one tile, partial and several tiles
  dn: fc.integer({ min: 1, max: 9 }),
  half: fc.integer({ min: 1, max: 6 }),
  dv: fc.integer({ min: 1, max: 12 }),
  pieces: fc.array(fc.integer({ min: 1, max: 70 }), { minLength: 1, maxLength: 4 }),
  other: fc.array(fc.integer({ min: 0, max: 70 }), { minLength: 4, maxLength: 4 }),
  forkAt: fc.option(fc.double({ min: 0, max: 1, noNaN: true })),
  // cache values 10^logScale x N(0,1): small to a few times the normalised latent's O(1)
  logScale: fc.double({ min: -3, max: 0.6, noNaN: true }),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});

function expectWithin(got: ArrayLike<number>, want: ArrayLike<number>, bound: ArrayLike<number>, what: string): void {
  const i = firstOutside(got, want, bound);
  expect(i, i >= 0 ? `${what}: ${describe_(got, want, bound, i)}` : "").toBe(-1);
}

/** Copy the records of sequence seq's first T tokens into a fresh 0xFF-filled pool in linear memory. */
function uploadSequence(k: WasmKernels, cache: LatentCache, seq: number, T: number): ByteRange {
  const bytes = cache.bytesReserved();
  const pool = k.allocBytes(bytes);
  const tableIds = cache.blockTable(seq);
  const mem = new Uint8Array(k.arena.memory.buffer);
  mem.fill(0xff, pool.ptr, pool.ptr + bytes);
  const bpt = cache.bytesPerToken();
  for (let b = 0; b * BLOCK_TOKENS < T; b++) {
    const m = Math.min(BLOCK_TOKENS, T - b * BLOCK_TOKENS), off = cache.pool.offset(tableIds[b]);
    mem.set(cache.pool.storage.subarray(off, off + m * bpt), pool.ptr + off);
  }
  return pool;
}

/** A cache with sequence `seq` holding T tokens in shuffled, possibly shared blocks. */
function shuffledCache(format: StorageFormat, C: number, dr: number, T: number, d: { pieces: number[]; other: number[]; forkAt: number | null; logScale: number }, rng: Rng): { cache: LatentCache; seq: number } {
  const cfg = makeConfig({ dim: 8, n_heads: 1, q_lora_rank: 0, kv_lora_rank: C, qk_nope_head_dim: 2, qk_rope_head_dim: dr, v_head_dim: 2, max_seq_len: 512, original_seq_len: 512, max_batch_size: 2 });
  const cache = new LatentCache(cfg, { format, maxBlocks: 24, maxSequences: 3 });
  const mult = 10 ** d.logScale;
  const put = (seq: number, n: number): void => {
    if (n > 0) cache.append(seq, rng.normalArray(n * C, mult), rng.normalArray(n * dr, mult));
  };
  const forkPos = d.forkAt === null ? -1 : Math.floor(d.forkAt * T);
  let len = 0, i = 0;
  const first = forkPos >= 0 ? forkPos : T;
  while (len < first) {
    const n = Math.min(first - len, d.pieces[i % d.pieces.length]);
    if (i < d.other.length) put(1, d.other[i]); // interleave the other row's blocks (<= 280 tokens)
    put(0, n);
    len += n;
    i++;
  }
  if (forkPos < 0) return { cache, seq: 0 };
  put(0, 3); // the original row goes on after the fork point: the fork's partial block is copied on write
  const f = cache.fork(0, forkPos);
  if (T > forkPos) put(f, T - forkPos);
  return { cache, seq: f };
}

for (const build of KERNEL_BUILDS) {
  describe(`paged absorbed attention (${build})`, () => {
    for (const format of STORAGE_FORMATS) {
      const property = (format: StorageFormat) =>
          fc.asyncProperty(dims, async (d) => {
            const k = await kernels(build);
            const rng = new Rng(d.seed);
            const { s, startPos, H, C, dn, dv } = d, dr = 2 * d.half, qk = dn + dr, T = startPos + s;
            const { cache, seq } = shuffledCache(format, C, dr, T, d, rng);
            expect(cache.length(seq)).toBe(T);
            const cfg = makeConfig({ dim: 8, n_heads: H, q_lora_rank: 0, kv_lora_rank: C, qk_nope_head_dim: dn, qk_rope_head_dim: dr, v_head_dim: dv, max_seq_len: 256, original_seq_len: 64, rope_factor: 8 });
            const w = randomMlaWeights(cfg, rng), scale = mlaSoftmaxScale(cfg);
            const qabs = rng.normalArray(s * H * C), q = rng.normalArray(s * H * qk);
            // reference: float64 math over the dequantised records
            const rows = cache.read(seq); // [T, C+dr] float32
            const keys = Float64Array.from(rows), vals = new Float64Array(T * C);
            for (let t = 0; t < T; t++) vals.set(rows.subarray(t * (C + dr), t * (C + dr) + C), t * C);
            const qLat = new Float64Array(s * H * (C + dr));
            for (let r = 0; r < s * H; r++) {
              qLat.set(qabs.subarray(r * C, (r + 1) * C), r * (C + dr));
              qLat.set(q.subarray(r * qk + dn, (r + 1) * qk), r * (C + dr) + C);
            }
            const oLat = attendRow({ q: qLat, k: keys, v: vals, s, startPos, hq: H, hkv: 1, dqk: C + dr, dv: C, scale });
            const want = absorbOutput(cfg, w, oLat, s);
            const bLat = attentionBound(qLat, keys, vals, s, startPos, H, C + dr, C, Math.fround(scale), BLOCK_TOKENS);
            const bOut = projectionBound(oLat, bLat, s, H, C, dn, dv, w.wkv_b);
            // kernel
            const pool = uploadSequence(k, cache, seq, T);
            const qb = k.alloc(s * H * C, qabs), qq = k.alloc(s * H * qk, q), wuv = k.packWUV(w.wkv_b, H, C, dn, dv);
            const olat = k.alloc(s * H * C).fill(SENTINEL), o = k.alloc(s * H * dv).fill(SENTINEL);
            const scratch = k.alloc(k.attnPagedScratchFloats(s * H, C, dr)).fill(SENTINEL);
            const table = k.alloc(Math.ceil(T / BLOCK_TOKENS)).fill(SENTINEL);
            k.attnAbsorbedPaged({ format, s, H, C, dr, dn, dv, startPos, qabs: qb, q: qq, pool, blocks: cache.blockTable(seq), table, scale: Math.fround(scale), wuv, olat, o, scratch });
            expectWithin(olat.toArray(), oLat, bLat, "o_lat");
            expectWithin(o.toArray(), want, bOut, "o");
          });
      it(`${format}: o_lat and o == reference math over the dequantised cache`, async () => {
        await fc.assert(property(format), { numRuns: RUNS });
      });
      for (const r of REGRESSIONS.filter((r) => r.format === format)) {
        it(`${format}: regression, ${r.what}`, async () => {
          await fc.assert(property(format), { seed: r.seed, path: r.path, numRuns: 1, endOnFailure: true });
        });
      }
    }

    it("a block id outside the pool is refused by the host API (ShapeError), and traps the asserting build's kernel", async () => {
      const k = await kernels(build);
      const C = 8, dr = 2, H = 1, s = 1, dn = 1, dv = 1, qk = dn + dr;
      const blockBytes = BLOCK_TOKENS * k.tokenBytes("f32", C, dr);
      const pool = k.allocBytes(2 * blockBytes);
      new Uint8Array(k.arena.memory.buffer, pool.ptr, pool.bytes).fill(0);
      const args = { format: "f32" as const, s, H, C, dr, dn, dv, startPos: 0, qabs: k.alloc(C), q: k.alloc(qk), pool, table: k.alloc(1), scale: 1, wuv: k.packWUV(new Float32Array((dn + dv) * C), H, C, dn, dv), olat: k.alloc(C), o: k.alloc(dv), scratch: k.alloc(k.attnPagedScratchFloats(1, C, dr)) };
      k.attnAbsorbedPaged({ ...args, blocks: Int32Array.of(1) });
      expect(() => k.attnAbsorbedPaged({ ...args, blocks: Int32Array.of(2) })).toThrow(ShapeError);
      expect(() => k.attnAbsorbedPaged({ ...args, blocks: Int32Array.of(-1) })).toThrow(ShapeError);
      // the raw export with the pool's true length and a bad id in the table
      const ex = k.exports;
      new Int32Array(k.arena.memory.buffer, args.table.ptr, 1)[0] = 2;
      const raw = () => ex.attn_absorbed_paged(0, s, H, C, dr, dn, dv, 0, args.qabs.ptr, args.q.ptr, pool.ptr, pool.bytes, args.table.ptr, 1, args.wuv.ptr, args.olat.ptr, args.o.ptr, args.scratch.ptr);
      if (build === "simd128-assert") expect(raw).toThrow(WebAssembly.RuntimeError);
      else expect(raw).not.toThrow(); // the release builds drop the assert: the host API is the guard
    });

    it("the kernels carry format and ISA in their names", async () => {
      const k = await kernels(build);
      expect(k.name("attn_absorbed_paged_fp8_e4m3")).toBe(`attn_absorbed_paged_fp8_e4m3_${k.build}`);
    });
  });
}
