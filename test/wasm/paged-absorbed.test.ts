// The WASM absorbed decode over a paged LatentCache pool, every format, both builds
// (assembly/attention_absorbed_paged.ts): o_lat and o == the float64 reference math (attendRow
// over [c | k_pe], absorbOutput) over the same dequantised cache (LatentCache.read), at the
// float32 tolerance of src/numerics.ts (toleranceFor("float32"): the dequantised values are exact
// float32 numbers, so only the kernel's float32 arithmetic differs, as for attn_absorbed_fused).
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
import { firstMismatch, toleranceFor } from "../../src/numerics.js";
import { randomMlaWeights } from "../../src/weights.js";
import { type PagedExports, pagedExports, pagedKernelName } from "../../src/wasm/paged-mla-layer.js";
import type { WasmKernels } from "../../src/wasm/kernels.js";
import { BUILDS, kernels, Rng, SENTINEL } from "./helpers.js";

const { atol, rtol } = toleranceFor("float32");
const RUNS = 60;

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
  // cache values 10^logScale x N(0,1): at most O(1), the regime of the normalised latent and of
  // F32_ORACLE_TOL's derivation (scores of O(10) and more amplify float32 rounding through exp beyond it)
  logScale: fc.double({ min: -3, max: 0, noNaN: true }),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  const i = firstMismatch(got, want, atol, rtol);
  expect(i, i >= 0 ? `${what}: element ${i}: got ${got[i]}, want ${want[i]}` : "").toBe(-1);
}

/** Copy the records of sequence seq's first T tokens into a fresh 0xFF-filled pool in linear memory; returns [pool, table] byte pointers. */
function uploadSequence(k: WasmKernels, cache: LatentCache, seq: number, T: number): { pool: number; table: number } {
  const bytes = cache.bytesReserved();
  const pool = k.arena.alloc(bytes);
  const tableIds = cache.blockTable(seq);
  const table = k.arena.alloc(4 * Math.max(1, tableIds.length));
  const mem = new Uint8Array(k.arena.memory.buffer);
  mem.fill(0xff, pool, pool + bytes);
  const bpt = cache.bytesPerToken();
  for (let b = 0; b * BLOCK_TOKENS < T; b++) {
    const m = Math.min(BLOCK_TOKENS, T - b * BLOCK_TOKENS), off = cache.pool.offset(tableIds[b]);
    mem.set(cache.pool.storage.subarray(off, off + m * bpt), pool + off);
  }
  new Int32Array(k.arena.memory.buffer, table, tableIds.length).set(tableIds);
  return { pool, table };
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

for (const build of BUILDS) {
  describe(`paged absorbed decode (${build})`, () => {
    for (const format of STORAGE_FORMATS) {
      it(`${format}: o_lat and o == reference math over the dequantised cache`, async () => {
        await fc.assert(
          fc.asyncProperty(dims, async (d) => {
            const k = await kernels(build);
            const px: PagedExports = pagedExports(k);
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
            // kernel
            const { pool, table } = uploadSequence(k, cache, seq, T);
            const qb = k.alloc(s * H * C, qabs), qq = k.alloc(s * H * qk, q), wuv = k.packWUV(w.wkv_b, H, C, dn, dv);
            const olat = k.alloc(s * H * C).fill(SENTINEL), o = k.alloc(s * H * dv).fill(SENTINEL);
            const scratch = k.alloc(px.attn_paged_scratch_floats(s * H, C, dr)).fill(SENTINEL);
            px[pagedKernelName(format)](s, H, C, dr, dn, dv, startPos, qb.ptr, qq.ptr, pool, table, Math.fround(scale), wuv.ptr, olat.ptr, o.ptr, scratch.ptr);
            expectClose(olat.toArray(), oLat, "o_lat");
            expectClose(o.toArray(), want, "o");
          }),
          { numRuns: RUNS },
        );
      });
    }

    it("the kernels carry format and ISA in their names", async () => {
      const k = await kernels(build);
      for (const f of STORAGE_FORMATS) expect(typeof (pagedExports(k) as unknown as Record<string, unknown>)[pagedKernelName(f)]).toBe("function");
      expect(k.name(pagedKernelName("fp8_e4m3"))).toBe(`attn_absorbed_paged_fp8_e4m3_${build}`);
    });
  });
}
