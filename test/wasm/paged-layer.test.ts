// The "wasm" backend's absorbed layer keeps its latent cache in a paged pool of a storage format
// (createWasmBackend({ cacheFormat }), default f32; src/wasm/mla-layer.ts + paged-cache.ts), both builds:
//  - every format: the pool's records are byte-identical to a TypeScript LatentCache fed the same
//    float32 latents (the WASM codecs encode), accounting equals src/cache/layout.ts arithmetic,
//    saveCache/loadCache round-trips the pool, the pool's memory grows with use up to cacheBlocks,
//    and the outputs equal float64 reference math over the layer's own dequantised cache at the
//    float32 tolerance (inner lengths reach C+dr = 144 and 150 keys, past F32_ORACLE_TOL's n <= 64;
//    the rounding model of F32_VECTOR_ATOL, 4 chained sums of 3 sqrt(n) u max|y|, gives
//    4*3*sqrt(150)*6e-8*max|y| = 8.8e-6 max|y|, under 1e-4 for outputs up to 11);
//  - errors: pool exhausted, capacity, a value the format cannot hold (also in a later chunk of a
//    rollback call) -> typed errors, and the layer is exactly as before.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { type MlaConfig, makeConfig } from "../../src/config.js";
import { CacheError, ConfigError, MlaError, PositionError } from "../../src/errors.js";
import { LatentCache } from "../../src/cache/latent-cache.js";
import { loadCache, saveCache } from "../../src/cache/persist.js";
import { BLOCK_TOKENS, STORAGE_FORMATS, type StorageFormat, tokenLayout } from "../../src/cache/layout.js";
import { attendRow } from "../../src/reference/attention.js";
import { absorbOutput, absorbQuery, mlaQuery } from "../../src/reference/mla.js";
import { linear } from "../../src/reference/linear.js";
import { mlaSoftmaxScale, ropeFrequencies, ropeTable } from "../../src/derived.js";
import { firstMismatch, toleranceFor } from "../../src/numerics.js";
import { type MlaWeights, randomMlaWeights } from "../../src/weights.js";
import { createWasmBackend } from "../../src/wasm/node.js";
import type { WasmMla } from "../../src/wasm/mla-layer.js";
import type { WasmPagedCache } from "../../src/wasm/paged-cache.js";
import { BUILDS, Rng } from "./helpers.js";

const { atol, rtol } = toleranceFor("float32");

const cfgArb = fc.record({
  D: fc.integer({ min: 1, max: 24 }),
  H: fc.integer({ min: 1, max: 4 }),
  Q: fc.constantFrom(0, 5),
  C: fc.oneof(fc.integer({ min: 1, max: 24 }), fc.constantFrom(128, 136)),
  dn: fc.integer({ min: 1, max: 6 }),
  half: fc.integer({ min: 1, max: 4 }),
  dv: fc.integer({ min: 1, max: 6 }),
  layout: fc.constantFrom("interleaved" as const, "half" as const),
  yarn: fc.boolean(),
});
type CfgDims = typeof cfgArb extends fc.Arbitrary<infer T> ? T : never;

function configOf(d: CfgDims): MlaConfig {
  return makeConfig({ dim: d.D, n_heads: d.H, q_lora_rank: d.Q, kv_lora_rank: d.C, qk_nope_head_dim: d.dn, qk_rope_head_dim: 2 * d.half, v_head_dim: d.dv, original_seq_len: 64, max_seq_len: d.yarn ? 256 : 160, rope_layout: d.layout, rope_factor: 8, max_batch_size: 2 });
}

/** Calls: a prefill, decodes, maybe a rollback, more tokens; positions stay <= 150 (three blocks). */
const scheduleArb = fc.record({
  B: fc.integer({ min: 1, max: 2 }),
  prefill: fc.integer({ min: 1, max: 70 }),
  decodes: fc.integer({ min: 1, max: 3 }),
  rollback: fc.option(fc.integer({ min: 0, max: 60 })),
  tail: fc.integer({ min: 1, max: 70 }),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});
type Schedule = typeof scheduleArb extends fc.Arbitrary<infer T> ? T : never;

function calls(s: Schedule): { startPos: number; seqlen: number }[] {
  const out = [{ startPos: 0, seqlen: s.prefill }];
  let len = s.prefill;
  for (let i = 0; i < s.decodes; i++) out.push({ startPos: len++, seqlen: 1 });
  const back = s.rollback === null ? len : Math.min(len, s.rollback);
  out.push({ startPos: back, seqlen: s.tail });
  return out;
}

/** An absorbed layer and its paged cache. */
type PagedLayer = WasmMla & { cache: WasmPagedCache };

async function layerOf(build: (typeof BUILDS)[number], cfg: MlaConfig, w: MlaWeights, cacheFormat?: StorageFormat, extra: { cacheBlocks?: number; maxChunkTokens?: number } = {}): Promise<PagedLayer> {
  const backend = await createWasmBackend({ build });
  return (await backend.createMla(cfg, w, { path: "absorbed", cacheFormat, ...extra })) as PagedLayer;
}

function run(layer: WasmMla, cfg: MlaConfig, sched: Schedule): { outs: Float32Array[]; xs: Float32Array[] } {
  const rng = new Rng(sched.seed ^ 0x5bd1e995);
  const outs: Float32Array[] = [], xs: Float32Array[] = [];
  for (const c of calls(sched)) {
    const x = rng.normalArray(sched.B * c.seqlen * cfg.dim);
    xs.push(x);
    outs.push(layer.forward(x, { batch: sched.B, seqlen: c.seqlen, startPos: c.startPos }) as Float32Array);
  }
  return { outs, xs };
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  const i = firstMismatch(got, want, atol, rtol);
  expect(i, i >= 0 ? `${what}: element ${i}: got ${got[i]}, want ${want[i]}` : "").toBe(-1);
}

for (const build of BUILDS) {
  describe(`wasm layer with a paged cache (${build})`, () => {
    it("the default absorbed layer keeps an f32 paged pool", async () => {
      const cfg = configOf({ D: 8, H: 2, Q: 0, C: 8, dn: 2, half: 2, dv: 2, layout: "interleaved", yarn: false });
      const layer = await layerOf(build, cfg, randomMlaWeights(cfg, new Rng(3)));
      expect(layer.format).toBe("f32");
      expect(layer.attentionKernelName).toBe(`attn_absorbed_paged_f32_${build}`);
      expect(layer.cache.bytesReserved()).toBe(0); // nothing until the first call
    });

    for (const format of STORAGE_FORMATS) {
      it(`${format}: records == TS LatentCache's, accounting == layout.ts, output == reference math over the dequantised cache`, async () => {
        await fc.assert(
          fc.asyncProperty(cfgArb, scheduleArb, async (d, sched) => {
            const cfg = configOf(d), w = randomMlaWeights(cfg, new Rng(sched.seed));
            const C = cfg.kv_lora_rank, dr = cfg.qk_rope_head_dim, H = cfg.n_heads, qk = cfg.qk_nope_head_dim + dr;
            const layer = await layerOf(build, cfg, w, format), f32 = await layerOf(build, cfg, w, "f32");
            const { outs, xs } = run(layer, cfg, sched);
            run(f32, cfg, sched);
            const B = sched.B, T = layer.cache.length(0);
            // same float32 latents, encoded by TypeScript
            const ts = new LatentCache(cfg, { format });
            const exact = f32.cache.snapshot(B, T);
            for (let b = 0; b < B; b++) {
              ts.append(b, exact.kv_cache.data.subarray(b * T * C, (b + 1) * T * C), exact.pe_cache.data.subarray(b * T * dr, (b + 1) * T * dr));
              expect(layer.cache.latent.readRecords(b)).toEqual(ts.readRecords(b));
            }
            const bpt = tokenLayout(format, C, dr).bytesPerToken;
            expect(layer.cache.bytesPerToken()).toBe(bpt);
            expect(layer.cache.bytesInUse()).toBe(B * T * bpt);
            expect(layer.cache.bytesInUse()).toBe(ts.bytesInUse());
            // the pool in linear memory saves and restores like any LatentCache
            const restored = loadCache(saveCache(layer.cache.latent), { config: cfg, format });
            for (let b = 0; b < B; b++) expect(restored.readRecords(b)).toEqual(ts.readRecords(b));
            // the pool grew with use: it holds every block in use, and never more than cacheBlocks (default every row full)
            expect(layer.cache.bytesReserved()).toBeGreaterThanOrEqual(layer.cache.latent.blocksInUse() * BLOCK_TOKENS * bpt);
            expect(layer.cache.bytesReserved()).toBeLessThanOrEqual(cfg.max_batch_size * Math.ceil(cfg.max_seq_len / BLOCK_TOKENS) * BLOCK_TOKENS * bpt);
            // the last call's output == float64 math over the layer's dequantised cache
            const last = calls(sched).at(-1)!, s = last.seqlen, N = B * s;
            const snap = layer.cache.snapshot(B, T);
            expect(snap).toEqual(ts.snapshot(B, T));
            const table = ropeTable(ropeFrequencies(cfg), Array.from({ length: s }, (_, t) => last.startPos + t));
            const q = mlaQuery(cfg, w, xs.at(-1)!, N, s, table), qAbs = absorbQuery(cfg, w, q, N);
            const oLat = new Float64Array(N * H * C);
            for (let b = 0; b < B; b++) {
              const keys = new Float64Array(T * (C + dr)), qLat = new Float64Array(s * H * (C + dr));
              for (let t = 0; t < T; t++) {
                keys.set(snap.kv_cache.data.subarray((b * T + t) * C, (b * T + t + 1) * C), t * (C + dr));
                keys.set(snap.pe_cache.data.subarray((b * T + t) * dr, (b * T + t + 1) * dr), t * (C + dr) + C);
              }
              for (let r = 0; r < s * H; r++) {
                qLat.set(qAbs.subarray((b * s * H + r) * C, (b * s * H + r + 1) * C), r * (C + dr));
                qLat.set(q.subarray((b * s * H + r) * qk + cfg.qk_nope_head_dim, (b * s * H + r + 1) * qk), r * (C + dr) + C);
              }
              oLat.set(attendRow({ q: qLat, k: keys, v: snap.kv_cache.data.subarray(b * T * C, (b + 1) * T * C), s, startPos: last.startPos, hq: H, hkv: 1, dqk: C + dr, dv: C, scale: mlaSoftmaxScale(cfg) }), b * s * H * C);
            }
            const want = linear(absorbOutput(cfg, w, oLat, N), N, w.wo, cfg.dim, H * cfg.v_head_dim);
            expectClose(outs.at(-1)!, want, `${format} output`);
          }),
          { numRuns: 15 },
        );
      });
    }

    it("errors are typed and change nothing: pool exhausted, past capacity, a value f16 cannot hold in a later chunk of a rollback call", async () => {
      const cfg = makeConfig({ dim: 12, n_heads: 2, q_lora_rank: 0, kv_lora_rank: 16, qk_nope_head_dim: 4, qk_rope_head_dim: 4, v_head_dim: 4, max_seq_len: 200, original_seq_len: 200, max_batch_size: 2 });
      const w = randomMlaWeights(cfg, new Rng(7));
      const rng = new Rng(8);
      const state = (l: PagedLayer) => ({ len: [l.cache.length(0), l.cache.length(1)], bytes: l.cache.bytesInUse(), recs: [l.cache.latent.readRecords(0), l.cache.latent.readRecords(1)] });
      // pool of 2 blocks: 64 + 64 tokens, then a third block is refused
      const small = await layerOf(build, cfg, w, "fp8_e4m3", { cacheBlocks: 2 });
      small.forward(rng.normalArray(2 * 60 * 12), { batch: 2, seqlen: 60, startPos: 0 });
      const before = state(small);
      expect(() => small.forward(rng.normalArray(2 * 5 * 12), { batch: 2, seqlen: 5, startPos: 60 })).toThrow(CacheError);
      try {
        small.forward(rng.normalArray(2 * 5 * 12), { batch: 2, seqlen: 5, startPos: 60 });
      } catch (e) {
        expect((e as MlaError).field).toBe("block pool");
      }
      expect(state(small)).toEqual(before);
      expect(() => small.forward(rng.normalArray(12 * 141), { batch: 1, seqlen: 141, startPos: 60 })).toThrow(PositionError);
      expect(state(small)).toEqual(before);
      // f16: a k_pe beyond 65520 in the second chunk (maxChunkTokens 1) of a call that rolls back 3 tokens
      const f16 = await layerOf(build, cfg, w, "f16", { maxChunkTokens: 1 });
      const x0 = rng.normalArray(2 * 10 * 12);
      f16.forward(x0, { batch: 2, seqlen: 10, startPos: 0 });
      const f16Before = state(f16);
      const x = rng.normalArray(2 * 3 * 12);
      for (let i = 12; i < 24; i++) x[i] *= 1e7; // row 0, token 1: k_pe ~ 1e7
      let err: unknown;
      try {
        f16.forward(x, { batch: 2, seqlen: 3, startPos: 7 });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CacheError);
      expect((err as MlaError).field).toMatch(/^writes\[0\]\.(kpe|c)\[0, \d+\]$/); // token 1 of the call = token 0 of its chunk
      expect(state(f16)).toEqual(f16Before);
      // and the layer still works, exactly as a fresh one given the same successful calls
      const x1 = x.map((v) => (Math.abs(v) > 1e5 ? v * 1e-7 : v));
      const y = f16.forward(x1, { batch: 2, seqlen: 3, startPos: 7 });
      const fresh = await layerOf(build, cfg, w, "f16", { maxChunkTokens: 1 });
      fresh.forward(x0, { batch: 2, seqlen: 10, startPos: 0 });
      expect(y).toEqual(fresh.forward(x1, { batch: 2, seqlen: 3, startPos: 7 }));
      expect(state(f16)).toEqual(state(fresh));
      // bad options
      await expect(layerOf(build, cfg, w, "fp4" as StorageFormat)).rejects.toThrow(CacheError);
      await expect(createWasmBackend({ build, cacheFormat: "q4" as StorageFormat })).rejects.toThrow(CacheError);
      await expect(layerOf(build, cfg, w, "int8", { cacheBlocks: 0 })).rejects.toThrow(CacheError);
      // a cache format is the absorbed path's: with the naive path it is a ConfigError, not ignored
      const backend = await createWasmBackend({ build });
      await expect(backend.createMla(cfg, w, { path: "naive", cacheFormat: "int8" })).rejects.toThrow(ConfigError);
      await expect(backend.createMla(cfg, w, { path: "naive", cacheBlocks: 4 })).rejects.toThrow(ConfigError);
    });
  });
}
