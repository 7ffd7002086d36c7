// The oracle with its absorbed latents in a LatentCache (ReferenceMla options.cache) through the
// conformance kit: with an f32 cache it is the oracle up to float32 rounding of the cache; in
// every format, splitting calls, batching, rolling back and rejecting bad input behave exactly as
// on a fresh layer (the cache encodes each token on its own, so these properties hold to float64
// reordering even for lossy formats).
import { describe, expect, it } from "vitest";
import type { Backend } from "../../src/backend.js";
import { STORAGE_FORMATS, type StorageFormat } from "../../src/cache/layout.js";
import { checkBackend } from "../../src/conformance/check-backend.js";
import { toleranceFor } from "../../src/numerics.js";
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
    const r = await checkBackend(backend("f32", "float32"), { numRuns: 15, seed: 20261128, properties: ["oracle/absorbed", "rollback==fresh/absorbed", "bad-input-rejected/absorbed"] });
    expect(r.pass, r.report).toBe(true);
  }, 60_000);
  for (const format of STORAGE_FORMATS.filter((f) => f !== "f32")) {
    it(`${format} cache: prefill == decodes, batch rows independent, rollback == fresh, bad input rejected`, async () => {
      const r = await checkBackend(backend(format, "float64"), {
        numRuns: 8,
        seed: 20261128,
        tolerance: toleranceFor("float64"),
        compareCaches: false,
        properties: ["prefill==decodes/absorbed", "batch-rows-independent/absorbed", "rollback==fresh/absorbed", "bad-input-rejected/absorbed"],
      });
      expect(r.pass, r.report).toBe(true);
    }, 60_000);
  }
});
