// The WASM V3.2 layer (src/wasm/dsa-layer.ts) against the float64 oracle, both builds and both
// latent records, over random small configs, weights, inputs and call schedules (prefill, decodes
// at startPos > 0, batch 2): the conformance kit's dsa/oracle and dsa/failed-call properties
// (src/conformance/dsa.ts: the oracle conditioned on the layer's bf16/FP8 decisions, each checked;
// outputs within F32_ORACLE_TOL — inner lengths here reach C+dr = 264: the chained worst case
// 6 * 264 * 2^-24 = 9.4e-5 of O(1) scales stays under 1e-4 * (1 + |ref|) — scores within
// indexScoreBound, the quantised caches exactly), plus the official vectors and chunked calls.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { DsaConfig } from "../../src/config.js";
import { NonFiniteError } from "../../src/errors.js";
import { type DsaWeights, randomDsaWeights } from "../../src/io/dsa-weights.js";
import { firstMismatch, toleranceFor } from "../../src/numerics.js";
import { arbDsaCase, measureDsaFailedCall, measureDsaOracle } from "../../src/conformance/dsa.js";
import { WasmDsa } from "../../src/wasm/dsa-layer.js";
import { wasmBackendFromCore } from "../../src/wasm/backend.js";
import { Rng } from "../../src/weights.js";
import { BUILDS, core, kernels } from "./helpers.js";
import { readFileSync, readdirSync } from "node:fs";
import { parseDsaVectorCaseText } from "../../src/io/mla-vectors-v2.js";
import { DSA_VECTOR_TOL_F32, verifyDsaCase } from "../../src/verify.js";

const VECTORS = new URL("../../vectors/deepseek-v3.2-dsa/", import.meta.url);

const RUNS = 12;
const { atol, rtol } = toleranceFor("float32");

describe.each(BUILDS)("WasmDsa (%s build)", (build_) => {
  for (const cacheFormat of ["f32", "fp8_e4m3_v32"] as const) {
    it(`${cacheFormat} record: the kit's dsa/oracle and dsa/failed-call properties`, async () => {
      const wasm = wasmBackendFromCore(await core(build_));
      const backend = { ...wasm, createDsa: (c: DsaConfig, w: DsaWeights) => wasm.createDsa(c, w, { cacheFormat }) };
      const tol = toleranceFor("float32");
      for (const measure of [measureDsaOracle, measureDsaFailedCall]) {
        await fc.assert(
          fc.asyncProperty(arbDsaCase(), async (c) => {
            const m = await measure(backend, c, tol);
            expect(m.pass, `${m.where} ${m.problem ?? ""} (max abs err ${m.maxAbsErr})`).toBe(true);
          }),
          { numRuns: RUNS },
        );
      }
    });
  }

  it("the official V3.2 vectors (f32 record): outputs within 1e-4, top-k sets as torch's and by the float32 rule", async () => {
    for (const f of readdirSync(VECTORS).filter((n) => n.endsWith(".json")).sort()) {
      const c = parseDsaVectorCaseText(readFileSync(new URL(f, VECTORS), "utf8"), f);
      const layer = new WasmDsa(c.config, c.weights, await kernels(build_), { cacheFormat: "f32" });
      const r = verifyDsaCase(c, () => layer, DSA_VECTOR_TOL_F32, "float32");
      expect(r.pass, `${f}: ${JSON.stringify(r.maxErr)} ${r.firstMismatch ?? ""}`).toBe(true);
      expect(r.float32!.rows).toBe(r.topk.rows); // every row went through the float32 rule
      // flips at bf16 boundaries are rare events: a handful among tens of thousands of values
      expect(r.quantised.differing).toBeLessThan(r.quantised.compared / 1000);
    }
  });

  it("a chunked long call equals one call; a failed call changes nothing", async () => {
    const prop = fc.asyncProperty(arbDsaCase(), fc.integer({ min: 2, max: 12 }), fc.integer({ min: 1, max: 4 }), async (a, s, chunk) => {
        const cfg = a.config, rng = new Rng(a.seed), w = randomDsaWeights(cfg, rng);
        const k = await kernels(build_);
        const whole = new WasmDsa(cfg, w, k), pieces = new WasmDsa(cfg, w, await kernels(build_), { maxChunkTokens: chunk });
        const x = rng.normalArray(2 * s * cfg.dim);
        const y1 = whole.forward(x, { batch: 2, seqlen: s, startPos: 0 }), y2 = pieces.forward(x, { batch: 2, seqlen: s, startPos: 0 });
        const i = firstMismatch(y2, y1, atol, rtol);
        expect(i, `output[${i}]: chunked ${y2[i]}, whole ${y1[i]}`).toBe(-1);
        // a call that fails (a NaN input) leaves the cache as it was: the next call equals the other layer's
        const before = pieces.cache.snapshot(2, s);
        const bad = rng.normalArray(2 * cfg.dim);
        bad[cfg.dim + 1] = Number.NaN;
        expect(() => pieces.forward(bad, { batch: 2, seqlen: 1, startPos: s })).toThrow(NonFiniteError);
        expect(pieces.cache.length(0)).toBe(s);
        const after = pieces.cache.snapshot(2, s);
        for (const name of Object.keys(before)) expect(Array.from(after[name].data)).toEqual(Array.from(before[name].data));
        const x2 = rng.normalArray(2 * cfg.dim);
        expect(Array.from(pieces.forward(x2, { batch: 2, seqlen: 1, startPos: s }))).toEqual(Array.from(whole.forward(x2, { batch: 2, seqlen: 1, startPos: s })));
      });
    await fc.assert(prop, { numRuns: RUNS });
    // CI's counterexample: index_topk 1, a near tie; a key's score differed with the number of keys in its block
    // (the GEMM's leftover rows summed k in two phases), so the chunked call selected another key
    await fc.assert(prop, { seed: 451676476, path: "1:14:14:14:41:45:23:20:10:24" });
  });
});

