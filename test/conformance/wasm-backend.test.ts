// The project's own WASM backend, checked THROUGH the conformance kit: every property of
// checkBackend against the float64 oracle, at the float32 tolerance src/numerics.ts derives
// (toleranceFor("float32") = F32_ORACLE_TOL), for both builds (relaxed-simd FMA and plain simd128).
import { describe, expect, test } from "vitest";
import { ALL_PROPERTY_NAMES, checkBackend } from "../../src/conformance/index.js";
import { F32_ORACLE_TOL } from "../../src/numerics.js";
import { createWasmBackend } from "../../src/wasm/node.js";

describe("wasm backend through checkBackend", () => {
  for (const build of ["auto", "simd128"] as const) {
    test(`${build} build: every conformance property holds (float32 tolerance)`, async () => {
      const backend = await createWasmBackend({ build });
      expect(backend.name).toBe("wasm");
      expect(backend.precision).toBe("float32");
      const r = await checkBackend(backend, { numRuns: 40 });
      expect(r.tolerance).toEqual({ atol: F32_ORACLE_TOL, rtol: F32_ORACLE_TOL });
      expect(r.pass, r.report).toBe(true);
      expect(r.properties.length).toBe(ALL_PROPERTY_NAMES.length); // the MLA properties and, as the backend has createDsa, the V3.2 ones
    });
  }

  test("the kit is not blind to float32 backends: the WASM layers' errors are real but far inside the bound", async () => {
    const backend = await createWasmBackend();
    const r = await checkBackend(backend, { seed: 1, numRuns: 30, properties: ["oracle/absorbed"], tolerance: { atol: 0, rtol: 0 } });
    expect(r.pass).toBe(false); // float32 rounding is visible at tolerance 0 ...
    const err = r.properties[0].counterexample!.measurement.maxAbsErr;
    expect(err).toBeGreaterThan(0);
    expect(err).toBeLessThan(F32_ORACLE_TOL / 10); // ... and tiny compared with the bound
  });
});
