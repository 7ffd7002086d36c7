// The WASM baselines (src/wasm/baseline-layers.ts: MHA / GQA / MQA and the seed text's per-head
// low-rank scheme) == the float64 oracle's (src/reference/baselines.ts, seed-lowrank.ts), both
// builds, over random configs (one head, MQA, GQA with several tokens per call — the regrouped
// query rows — MHA, odd widths, partial or no rope, ranks 1..6), random weights and inputs, and
// schedules with batches, startPos > 0, rollbacks, chunked calls and > 64 keys (the seed kernel
// decompresses one 64-token block at a time and continues each group's softmax across blocks).
// Tolerance: F32_ORACLE_TOL (src/numerics.ts), derived for inner lengths <= 64 and used by
// layer.test.ts for the same key counts (<= 120); the sizes here stay inside it (D <= 24,
// head widths <= 9, ranks <= 6). Then MLA's recompute path over lossy latent formats equals the
// oracle's absorbed path over the same LatentCache format: the same dequantised latents, the two
// paths being the same math.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ReferenceMha } from "../../src/reference/baselines.js";
import { ReferenceSeedLowRank } from "../../src/reference/seed-lowrank.js";
import { type MhaConfig, type MhaWeights, type SeedLowRankWeights, mhaWeightShapes, seedWeightShapes } from "../../src/baseline-configs.js";
import { randomMlaWeights, randomWeights } from "../../src/weights.js";
import { firstMismatch, toleranceFor } from "../../src/numerics.js";
import { ConfigError } from "../../src/errors.js";
import { WasmMha, WasmSeedLowRank } from "../../src/wasm/baseline-layers.js";
import { WasmMla } from "../../src/wasm/mla-layer.js";
import type { WasmPagedCache } from "../../src/wasm/paged-cache.js";
import { wasmBackendFromCore } from "../../src/wasm/backend.js";
import { makeConfig } from "../../src/config.js";
import { KERNEL_BUILDS, Rng, core, kernels } from "./helpers.js";
import { concreteCalls, scheduleArb, wasmConfigArb } from "./arb.js";
import { arbMhaConfig } from "../support/arb.js";

const { atol, rtol } = toleranceFor("float32");

function mismatch(got: ArrayLike<number>, ref: ArrayLike<number>): string | null {
  const i = firstMismatch(got, ref, atol, rtol);
  return i < 0 ? null : `element ${i} of ${ref.length}: wasm ${got[i]}, reference ${ref[i]}`;
}

/** MHA-family configs with room for 128 positions: every grouping (MHA, GQA, MQA), odd widths. */
const configArb: fc.Arbitrary<MhaConfig> = arbMhaConfig({ maxKvHeads: 4, maxGroup: 4, maxVHeadDim: 9, maxSeqLen: 128 });

type Pair = { ref: ReferenceMha | ReferenceSeedLowRank; wasm: WasmMha | WasmSeedLowRank };

/** Run the schedule on both, comparing every output, the lengths and finally the cache snapshots. */
function runBoth({ ref, wasm }: Pair, cfg: MhaConfig, specs: Parameters<typeof concreteCalls>[1], rng: Rng): void {
  let end = 0, maxB = 0;
  for (const call of concreteCalls(cfg, specs)) {
    const x = rng.normalArray(call.batch * call.seqlen * cfg.dim);
    const want = ref.forward(x, call);
    const got = wasm.forward(x, call);
    expect(got).toBeInstanceOf(Float32Array);
    expect(mismatch(got, want), `call ${JSON.stringify(call)}`).toBeNull();
    for (let b = 0; b < cfg.max_batch_size; b++) expect(wasm.cache.length(b)).toBe(ref.cache.length(b));
    end = call.startPos + call.seqlen;
    maxB = Math.max(maxB, call.batch);
  }
  if (maxB === 0) return;
  const a = wasm.cache.snapshot(maxB, end), r = ref.cache.snapshot(maxB, end);
  expect(Object.keys(a).sort()).toEqual(Object.keys(r).sort());
  for (const name of Object.keys(r)) {
    expect(a[name].shape, name).toEqual(r[name].shape);
    expect(mismatch(a[name].data, r[name].data), name).toBeNull();
  }
}

const optionsArb = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  maxChunkTokens: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  initialCapacity: fc.integer({ min: 1, max: 8 }),
});

describe.each(KERNEL_BUILDS)("%s build", (build) => {
  it("MHA / GQA / MQA == ReferenceMha: outputs and k_cache / v_cache over random configs and schedules", async () => {
    await core(build);
    await fc.assert(
      fc.asyncProperty(configArb, scheduleArb, optionsArb, async (cfg, specs, { seed, maxChunkTokens, initialCapacity }) => {
        const rng = new Rng(seed);
        const w = randomWeights(mhaWeightShapes(cfg), rng, []) as unknown as MhaWeights;
        const wasm = new WasmMha(cfg, w, await kernels(build), { maxChunkTokens, initialCapacity });
        expect(wasm.kind).toBe(cfg.n_kv_heads === cfg.n_heads ? "mha" : cfg.n_kv_heads === 1 ? "mqa" : "gqa");
        runBoth({ ref: new ReferenceMha(cfg, w), wasm }, cfg, specs, rng);
        wasm.dispose();
      }),
      { numRuns: 60 },
    );
  });

  it("seed low-rank scheme == ReferenceSeedLowRank: outputs and lk_cache / lv_cache, ranks 1..6", async () => {
    await core(build);
    await fc.assert(
      fc.asyncProperty(configArb, fc.integer({ min: 1, max: 6 }), scheduleArb, optionsArb, async (mha, rank, specs, { seed, maxChunkTokens, initialCapacity }) => {
        const cfg = { ...mha, rank };
        const rng = new Rng(seed);
        const w = randomWeights(seedWeightShapes(cfg), rng, []) as unknown as SeedLowRankWeights;
        const wasm = new WasmSeedLowRank(cfg, w, await kernels(build), { maxChunkTokens, initialCapacity });
        runBoth({ ref: new ReferenceSeedLowRank(cfg, w), wasm }, cfg, specs, rng);
        wasm.dispose();
      }),
      { numRuns: 60 },
    );
  });

  // Edge sizes enumerated: the kernel's three row layouts (one head apart, one token apart,
  // regrouped) and the block boundary (63, 64, 65 and 129 keys).
  it.each([
    [1, 1], [4, 4], [4, 1], [6, 2], [6, 3], [8, 2],
  ])("H %i, kv heads %i: prefills of 63/64/65 keys, decodes across the block edge, on both baselines", async (H, G) => {
    const cfg: MhaConfig = { dim: 16, n_heads: H, n_kv_heads: G, head_dim: 8, v_head_dim: 5, rope_dim: 4, rope_theta: 10000, rope_layout: "half", max_seq_len: 160, max_batch_size: 2 };
    for (const seqlen of [63, 64, 65]) {
      const rng = new Rng(1000 * H + 10 * G + seqlen);
      const specs = [{ s: seqlen, batch: 2, back: 0 }, { s: 1, batch: 2, back: 0 }, { s: 3, batch: 1, back: 0 }, { s: 60, batch: 1, back: 0 }];
      const wm = randomWeights(mhaWeightShapes(cfg), rng, []) as unknown as MhaWeights;
      runBoth({ ref: new ReferenceMha(cfg, wm), wasm: new WasmMha(cfg, wm, await kernels(build)) }, cfg, specs, rng);
      const sc = { ...cfg, rank: 3 };
      const ws = randomWeights(seedWeightShapes(sc), rng, []) as unknown as SeedLowRankWeights;
      runBoth({ ref: new ReferenceSeedLowRank(sc, ws), wasm: new WasmSeedLowRank(sc, ws, await kernels(build)) }, cfg, specs, rng);
    }
  });

  // A lossy format rounds the float32 latent; the oracle's latent is float64, so a value on a
  // rounding boundary lands one quantum apart there (paged-conformance.test.ts). The absorbed WASM
  // layer computes its latents with the very same kernels: its pool must be byte-identical, and
  // the two paths (the same math) then agree at twice the float32 tolerance (a backend against
  // itself, src/numerics.ts). paged-layer.test.ts holds the absorbed layer to float64 math over
  // its dequantised cache, per format.
  it("recompute over every lossy latent format: the absorbed layer's pool byte for byte, and its outputs", async () => {
    await core(build);
    const formatArb = fc.constantFrom("bf16" as const, "f16" as const, "int8" as const, "fp8_e4m3" as const);
    await fc.assert(
      fc.asyncProperty(wasmConfigArb, scheduleArb, formatArb, fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (cfg, specs, format, seed) => {
        const rng = new Rng(seed);
        const w = randomMlaWeights(cfg, rng);
        const make = async (path: "absorbed" | "recompute") => new WasmMla(cfg, w, await kernels(build), { path, cacheFormat: format });
        let absorbed: WasmMla, recompute: WasmMla;
        try {
          absorbed = await make("absorbed");
        } catch (e) {
          expect(e).toBeInstanceOf(ConfigError); // a format this config cannot use: refused the same way on both paths
          await expect(make("recompute")).rejects.toThrow((e as Error).message);
          return;
        }
        recompute = await make("recompute");
        for (const call of concreteCalls(cfg, specs)) {
          const x = rng.normalArray(call.batch * call.seqlen * cfg.dim);
          let want: Float32Array;
          try {
            want = absorbed.forward(x, call);
          } catch (e) {
            expect(() => recompute.forward(x, call)).toThrow((e as Error).message); // a latent the format cannot hold
            continue;
          }
          const got = recompute.forward(x, call);
          const i = firstMismatch(got, want, 2 * atol, 2 * rtol);
          expect(i < 0 ? null : `element ${i}: recompute ${got[i]}, absorbed ${want[i]}`, `${format} call ${JSON.stringify(call)}`).toBeNull();
          for (let b = 0; b < call.batch; b++) expect((recompute.cache as WasmPagedCache).latent.readRecords(b), `records of row ${b}`).toEqual((absorbed.cache as WasmPagedCache).latent.readRecords(b));
        }
      }),
      { numRuns: 30 },
    );
  });

  // The layer contract on both baselines: the oracle's typed errors for bad calls and nothing
  // changed by them; a NaN-poisoned workspace changes nothing; decode steps allocate nothing.
  it.each(["gqa", "seed"] as const)("%s: bad calls change nothing, a poisoned workspace changes nothing, decodes allocate nothing", async (kind) => {
    const cfg: MhaConfig = { dim: 11, n_heads: 6, n_kv_heads: 2, head_dim: 5, v_head_dim: 3, rope_dim: 4, rope_theta: 500, rope_layout: "interleaved", max_seq_len: 90, max_batch_size: 2 };
    const rng = new Rng(kind === "gqa" ? 21 : 22);
    const k = await kernels(build);
    const sc = { ...cfg, rank: 2 };
    const pair: Pair = kind === "gqa"
      ? (() => { const w = randomWeights(mhaWeightShapes(cfg), rng, []) as unknown as MhaWeights; return { ref: new ReferenceMha(cfg, w), wasm: new WasmMha(cfg, w, k, { initialCapacity: 2 }) }; })()
      : (() => { const w = randomWeights(seedWeightShapes(sc), rng, []) as unknown as SeedLowRankWeights; return { ref: new ReferenceSeedLowRank(sc, w), wasm: new WasmSeedLowRank(sc, w, k, { initialCapacity: 2 }) }; })();
    const { ref, wasm } = pair;
    const x0 = rng.normalArray(2 * 70 * cfg.dim);
    expect(mismatch(wasm.forward(x0, { batch: 2, seqlen: 70, startPos: 0 }), ref.forward(x0, { batch: 2, seqlen: 70, startPos: 0 }))).toBeNull();
    const before = wasm.cache.snapshot(2, 70);
    const bad: [ArrayLike<number>, unknown][] = [
      [new Float32Array(cfg.dim), { batch: 1, seqlen: 1, startPos: 71 }],
      [new Float32Array(cfg.dim - 1), { batch: 1, seqlen: 1, startPos: 70 }],
      [Float32Array.from({ length: 2 * cfg.dim }, (_, i) => (i === 3 ? NaN : 0.1)), { batch: 2, seqlen: 1, startPos: 70 }],
      [new Float32Array(3 * cfg.dim), { batch: 3, seqlen: 1, startPos: 0 }],
      [new Float32Array(21 * cfg.dim), { batch: 1, seqlen: 21, startPos: 70 }],
    ];
    for (const [x, opts] of bad) {
      let eRef: unknown, eWasm: unknown;
      try { ref.forward(x, opts as never); } catch (e) { eRef = e; }
      try { wasm.forward(x, opts as never); } catch (e) { eWasm = e; }
      expect(eRef, JSON.stringify(opts)).toBeInstanceOf(Error);
      expect((eWasm as Error)?.constructor, JSON.stringify(opts)).toBe((eRef as Error).constructor);
      expect((eWasm as Error).message).toBe((eRef as Error).message);
      const after = wasm.cache.snapshot(2, 70);
      for (const name of Object.keys(before)) expect(Array.from(after[name].data), name).toEqual(Array.from(before[name].data));
      expect([wasm.cache.length(0), wasm.cache.length(1)]).toEqual([70, 70]);
    }
    const arena = wasm.kernels.arena;
    const x1 = rng.normalArray(2 * cfg.dim);
    expect(mismatch(wasm.forward(x1, { batch: 2, seqlen: 1, startPos: 70 }), ref.forward(x1, { batch: 2, seqlen: 1, startPos: 70 }))).toBeNull();
    const inUse = arena.bytesInUse(), grows = arena.grows;
    for (let p = 71; p < 80; p++) {
      const ws = (wasm as unknown as { ws: { buffers: { fill(v: number): void }[] } }).ws;
      for (const b of ws.buffers) b.fill(NaN);
      const x = rng.normalArray(2 * cfg.dim);
      expect(mismatch(wasm.forward(x, { batch: 2, seqlen: 1, startPos: p }), ref.forward(x, { batch: 2, seqlen: 1, startPos: p })), `decode at ${p}`).toBeNull();
    }
    expect([arena.bytesInUse(), arena.grows]).toEqual([inUse, grows]);
  });

  it("the backend makes every layer kind, and its errors are typed", async () => {
    const backend = wasmBackendFromCore(await core(build));
    const cfg: MhaConfig = { dim: 8, n_heads: 4, n_kv_heads: 2, head_dim: 4, v_head_dim: 4, rope_dim: 2, rope_theta: 10000, rope_layout: "interleaved", max_seq_len: 16, max_batch_size: 1 };
    const rng = new Rng(5);
    const mha = await backend.createMha(cfg, randomWeights(mhaWeightShapes(cfg), rng, []) as unknown as MhaWeights);
    expect(mha.kind).toBe("gqa");
    expect(mha.attentionKernelName).toBe(`attn_gqa_${backend.build}`);
    const seed = await backend.createSeedLowRank({ ...cfg, rank: 2 }, randomWeights(seedWeightShapes({ ...cfg, rank: 2 }), rng, []) as unknown as SeedLowRankWeights);
    expect(seed.attentionKernelName).toBe(`attn_seed_lowrank_${backend.build}`);
    const mlaCfg = makeConfig({ dim: 8, n_heads: 2, q_lora_rank: 0, kv_lora_rank: 8, qk_nope_head_dim: 4, qk_rope_head_dim: 2, v_head_dim: 4, max_seq_len: 16 });
    const rec = await backend.createMla(mlaCfg, randomMlaWeights(mlaCfg, rng), { path: "recompute", cacheFormat: "bf16" });
    expect(rec.attentionKernelName).toBe(`attn_recompute_paged_bf16_${backend.build}`);
    await expect(backend.createMha({ ...cfg, n_kv_heads: 3 }, randomWeights(mhaWeightShapes(cfg), rng, []) as unknown as MhaWeights)).rejects.toThrow(/mha\.n_kv_heads/);
    await expect(backend.createSeedLowRank({ ...cfg, rank: 0 }, {} as SeedLowRankWeights)).rejects.toThrow(/seed\.rank/);
    await expect(backend.createMla(mlaCfg, randomMlaWeights(mlaCfg, rng), { path: "recompute", initialCapacity: 4 })).rejects.toThrow(/initialCapacity/);
  });
});
