// createWasmBackend({ cacheFormat }) through the conformance kit. Absorbed layers keep their
// latent cache in a paged pool of that format (naive layers are the default ones).
//  - f32: every property at the float32 tolerance, as the default backend (test/conformance/
//    wasm-backend.test.ts): the pool holds the exact float32 latents.
//  - lossy formats: the properties that compare the layer with itself hold at the float32
//    tolerance: prefill == decodes, batch rows independent, a rolled-back layer equals a fresh
//    one, bad input and bad weights are rejected with typed errors and change nothing. (Each
//    token is encoded on its own; prefill (GEMM) and decode (GEMV) latents may differ in the last
//    float32 bit, which a format's rounding boundary could turn into one quantum: measured, it
//    did not at 40 runs per format.) Against the oracle the error is the format's own (bounded
//    in src/cache/bounds.ts, tabulated by cacheAccuracyTable, e.g. 1.4e-2 for fp8 at these
//    sizes): paged-layer.test.ts checks the layer against float64 math over its own dequantised
//    cache instead.
import { describe, expect, it } from "vitest";
import { checkBackend } from "../../src/conformance/index.js";
import { STORAGE_FORMATS } from "../../src/cache/layout.js";
import { F32_ORACLE_TOL } from "../../src/numerics.js";
import { createWasmBackend } from "../../src/wasm/node.js";

describe("wasm backend with a paged cache format through checkBackend", () => {
  for (const build of ["auto", "simd128"] as const) {
    it(`${build} build, f32 pool: every property (float32 tolerance)`, async () => {
      const r = await checkBackend(await createWasmBackend({ build, cacheFormat: "f32" }), { numRuns: 30, seed: 5051 });
      expect(r.tolerance).toEqual({ atol: F32_ORACLE_TOL, rtol: F32_ORACLE_TOL });
      expect(r.pass, r.report).toBe(true);
      expect(r.properties.length).toBe(13);
    }, 60_000);
    for (const format of STORAGE_FORMATS.filter((f) => f !== "f32")) {
      it(`${build} build, ${format} pool: prefill == decodes, rows independent, rollback == fresh, bad input and weights rejected`, async () => {
        const r = await checkBackend(await createWasmBackend({ build, cacheFormat: format }), {
          numRuns: 20,
          seed: 5052,
          compareCaches: false,
          properties: ["prefill==decodes/absorbed", "batch-rows-independent/absorbed", "rollback==fresh/absorbed", "bad-input-rejected/absorbed", "bad-weights-rejected/absorbed"],
        });
        expect(r.tolerance).toEqual({ atol: F32_ORACLE_TOL, rtol: F32_ORACLE_TOL });
        expect(r.pass, r.report).toBe(true);
        expect(r.properties.length).toBe(5);
      }, 60_000);
    }
  }
});
