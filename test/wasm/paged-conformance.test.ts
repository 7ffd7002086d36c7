// createWasmBackend({ cacheFormat }) through the conformance kit. Absorbed layers keep their
// latent cache in a paged pool of that format (naive layers are the default ones).
//  - f32: every property at the float32 tolerance, as the default backend (test/conformance/
//    wasm-backend.test.ts): the pool holds the exact float32 latents.
//  - lossy formats: only the properties that hold exactly whatever the rounding: bad input and bad
//    weights are rejected with typed errors and change nothing. The self-comparisons
//    (prefill == decodes, batch rows independent, rollback == fresh) do NOT hold exactly for a
//    lossy cache: the two sides compute the same latent with different kernels (GEMV for one
//    row, GEMM for several; GEMM rows in or out of a 4-row tile), which may differ in the last
//    float32 bit, and a value on a format's rounding boundary then encodes one quantum apart
//    (up to 2^-3 relative for e4m3). Passing them at the float32 tolerance would depend on the
//    seed. What holds for every schedule is each output within the format's derived bound of
//    float64 math over the layer's own dequantised cache: paged-layer.test.ts checks that, per
//    element, for every format.
import { describe, expect, it } from "vitest";
import { ALL_PROPERTY_NAMES, checkBackend } from "../../src/conformance/index.js";
import { STORAGE_FORMATS } from "../../src/cache/layout.js";
import { F32_ORACLE_TOL } from "../../src/numerics.js";
import { createWasmBackend } from "../../src/wasm/node.js";

describe("wasm backend with a paged cache format through checkBackend", () => {
  for (const build of ["auto", "simd128"] as const) {
    it(`${build} build, f32 pool: every property (float32 tolerance)`, async () => {
      const r = await checkBackend(await createWasmBackend({ build, cacheFormat: "f32" }), { numRuns: 30, seed: 5051 });
      expect(r.tolerance).toEqual({ atol: F32_ORACLE_TOL, rtol: F32_ORACLE_TOL });
      expect(r.pass, r.report).toBe(true);
      expect(r.properties.length).toBe(ALL_PROPERTY_NAMES.length); // the MLA properties and, as the backend has createDsa, the V3.2 ones
    }, 60_000);
    for (const format of STORAGE_FORMATS.filter((f) => f !== "f32")) {
      it(`${build} build, ${format} pool: bad input and bad weights rejected, nothing changed`, async () => {
        const r = await checkBackend(await createWasmBackend({ build, cacheFormat: format }), {
          numRuns: 30,
          compareCaches: false,
          properties: ["bad-input-rejected/absorbed", "bad-weights-rejected/absorbed"],
        });
        expect(r.tolerance).toEqual({ atol: F32_ORACLE_TOL, rtol: F32_ORACLE_TOL });
        expect(r.pass, r.report).toBe(true);
        expect(r.properties.length).toBe(2);
      }, 60_000);
    }
  }
});
