// The WASM MLA layer == the float64 oracle, for every path (naive, absorbed, recompute) and both builds, over random configs,
// weights, inputs and call schedules (batch, startPos > 0, rollback, chunked long calls, > 64
// keys), outputs and cache snapshots; plus the official vectors at the float32 tolerance.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ReferenceMla } from "../../src/reference/mla.js";
import { makeConfig } from "../../src/config.js";
import { Rng, randomMlaWeights } from "../../src/weights.js";
import { toleranceFor, firstMismatch, vectorTolerance, F32_VECTOR_ATOL } from "../../src/numerics.js";
import { parseVectorCase } from "../../src/io/mla-vectors.js";
import { verifyCase } from "../../src/verify.js";
import { WasmMla } from "../../src/wasm/mla-layer.js";
import { wasmBackendFromCore } from "../../src/wasm/backend.js";
import { BUILDS, core, kernels } from "./helpers.js";
import { concreteCalls, scheduleArb, wasmConfigArb } from "./arb.js";

const { atol, rtol } = toleranceFor("float32");

function mismatch(got: ArrayLike<number>, ref: ArrayLike<number>): string | null {
  const i = firstMismatch(got, ref, atol, rtol);
  return i < 0 ? null : `element ${i} of ${ref.length}: wasm ${got[i]}, reference ${ref[i]}`;
}

describe.each(BUILDS)("%s build", (build) => {
  it.each(["naive", "absorbed", "recompute"] as const)("%s path == reference: outputs and caches over random configs and schedules", async (path) => {
    await core(build);
    await fc.assert(
      fc.asyncProperty(wasmConfigArb, scheduleArb, fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }), fc.integer({ min: 1, max: 8 }), async (cfg, specs, seed, maxChunkTokens, initialCapacity) => {
        const rng = new Rng(seed);
        const w = randomMlaWeights(cfg, rng);
        const ref = new ReferenceMla(cfg, w, { path });
        const k = await kernels(build);
        const layer = new WasmMla(cfg, w, k, { path, maxChunkTokens, initialCapacity: path === "naive" ? initialCapacity : undefined });
        let end = 0;
        let maxB = 0;
        for (const call of concreteCalls(cfg, specs)) {
          const x = rng.normalArray(call.batch * call.seqlen * cfg.dim);
          const want = ref.forward(x, call);
          const got = layer.forward(x, call);
          expect(got).toBeInstanceOf(Float32Array);
          expect(mismatch(got, want), `call ${JSON.stringify(call)}`).toBeNull();
          for (let b = 0; b < cfg.max_batch_size; b++) expect(layer.cache.length(b)).toBe(ref.cache.length(b));
          end = call.startPos + call.seqlen;
          maxB = Math.max(maxB, call.batch);
        }
        if (maxB > 0) {
          const a = layer.cache.snapshot(maxB, end), r = ref.cache.snapshot(maxB, end);
          expect(Object.keys(a).sort()).toEqual(Object.keys(r).sort());
          for (const name of Object.keys(r)) {
            expect(a[name].shape).toEqual(r[name].shape);
            expect(mismatch(a[name].data, r[name].data), name).toBeNull();
          }
        }
        expect(layer.cache.bytesPerToken()).toBe(ref.cache.bytesPerToken() / 2); // float32 vs float64
        layer.dispose();
      }),
      { numRuns: 100 },
    );
  });

  // Inner lengths reach C+dr = 576 here, past F32_ORACLE_TOL's n <= 64; the rounding model of
  // F32_VECTOR_ATOL (4 chained sums, 3 sqrt(n) u max|y|) gives 4*3*24*6e-8*4 = 6.9e-5 < 1e-4.
  it.each(["naive", "absorbed", "recompute"] as const)("%s path at DeepSeek's head geometry (C 512, dn 128, dr 64, dv 128: the full-tile SIMD paths) == reference", async (path) => {
    const cfg = makeConfig({ dim: 48, n_heads: 5, q_lora_rank: 24, kv_lora_rank: 512, qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: 128, max_seq_len: 16384, original_seq_len: 4096, max_batch_size: 2 });
    const rng = new Rng(77);
    const w = randomMlaWeights(cfg, rng);
    const ref = new ReferenceMla(cfg, w, { path });
    const layer = new WasmMla(cfg, w, await kernels(build), { path });
    for (const call of [{ batch: 2, seqlen: 70, startPos: 0 }, { batch: 2, seqlen: 1, startPos: 70 }, { batch: 1, seqlen: 3, startPos: 71 }]) {
      const x = rng.normalArray(call.batch * call.seqlen * cfg.dim);
      expect(mismatch(layer.forward(x, call), ref.forward(x, call)), JSON.stringify(call)).toBeNull();
    }
  });

  it("official vectors pass at F32_VECTOR_ATOL (the tolerance `verify --backend wasm` applies)", async () => {
    expect(vectorTolerance("float32")).toBe(F32_VECTOR_ATOL);
    const backend = wasmBackendFromCore(await core(build));
    expect(backend.build).toBe(build);
    const dir = "vectors/deepseek-v3-mla";
    for (const f of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
      const c = parseVectorCase(JSON.parse(readFileSync(join(dir, f), "utf8")), f);
      const r = await verifyCase(backend, c, F32_VECTOR_ATOL);
      expect(r.pass, `${f}: ${JSON.stringify(r.maxAbsErr)}`).toBe(true);
    }
  });
});
