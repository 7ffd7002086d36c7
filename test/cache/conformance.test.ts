// The oracle with its absorbed latents in a LatentCache (ReferenceMla options.cache) through the
// conformance kit. With an f32 cache it is the oracle up to float32 rounding of the cache. In
// every lossy format the properties that compare the layer with itself hold bit for bit, so they
// are checked at tolerance 0 (any seed, any number of runs): the float64 steps give each token
// the same c and k_pe however the tokens are batched or split into calls (every projection is
// row by row, rope depends only on the position), the cache encodes each token on its own, and
// attention over the same records runs the same sums. (The WASM paged layer cannot promise this:
// its GEMM and GEMV may round a latent apart, test/wasm/paged-conformance.test.ts.) How far a
// lossy format moves the output from the oracle is bounded per case in test/cache/accuracy.test.ts.
import { describe, expect, it } from "vitest";
import type { Backend } from "../../src/backend.js";
import { STORAGE_FORMATS, type StorageFormat } from "../../src/cache/layout.js";
import { checkBackend } from "../../src/conformance/check-backend.js";
import { ReferenceMla } from "../../src/reference/mla.js";

function backend(format: StorageFormat, precision: "float32" | "float64"): Backend {
  return {
    name: `reference+cache-${format}`,
    precision,
    createMla: (config, weights, { path }) => (path === "absorbed" ? new ReferenceMla(config, weights, { path, cache: { format } }) : new ReferenceMla(config, weights, { path })),
  };
}

describe("the oracle over a LatentCache through checkBackend", () => {
  it("f32 cache: equals the oracle at the float32 tolerance (absorbed properties)", async () => {
    const r = await checkBackend(backend("f32", "float32"), { numRuns: 60, seed: 20261128, properties: ["oracle/absorbed", "rollback==fresh/absorbed", "bad-input-rejected/absorbed"] });
    expect(r.pass, r.report).toBe(true);
  }, 60_000);
  for (const format of STORAGE_FORMATS.filter((f) => f !== "f32")) {
    it(`${format} cache: prefill == decodes, batch rows independent, rollback == fresh (bit for bit), bad input rejected`, async () => {
      const r = await checkBackend(backend(format, "float64"), {
        numRuns: 100,
        tolerance: { atol: 0, rtol: 0 },
        properties: ["prefill==decodes/absorbed", "batch-rows-independent/absorbed", "rollback==fresh/absorbed", "bad-input-rejected/absorbed"],
      });
      expect(r.pass, r.report).toBe(true);
    }, 60_000);
  }
});
