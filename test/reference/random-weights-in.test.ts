// randomMlaWeightsIn draws a layer's weights straight into a format, band by band, for layers too
// large for a float32 copy. It must be exactly the float32 draw converted whole (same stream, same
// 128x128 blocks), for every format and for row counts that do and do not fill the last band.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeConfig } from "../../src/config.js";
import { Rng, randomMlaWeights } from "../../src/weights.js";
import { WEIGHT_FORMATS, convertMlaWeights, quantiseWeight, randomMlaWeightsIn } from "../../src/weight-formats.js";
import { ShapeError } from "../../src/errors.js";

const cfgArb = fc.record({
  dim: fc.integer({ min: 1, max: 300 }),
  n_heads: fc.integer({ min: 1, max: 3 }),
  q_lora_rank: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 200 })),
  kv_lora_rank: fc.integer({ min: 1, max: 300 }),
  qk_nope_head_dim: fc.integer({ min: 1, max: 40 }),
  half: fc.integer({ min: 1, max: 8 }),
  v_head_dim: fc.integer({ min: 1, max: 150 }),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});

describe("randomMlaWeightsIn", () => {
  it("== convertMlaWeights(randomMlaWeights) for every format (odd sizes, bands of 128 rows cut)", () => {
    fc.assert(
      fc.property(cfgArb, ({ half, seed, ...c }) => {
        const cfg = makeConfig({ ...c, qk_rope_head_dim: 2 * half });
        for (const format of WEIGHT_FORMATS) {
          const want = format === "f32" ? randomMlaWeights(cfg, new Rng(seed)) : convertMlaWeights(cfg, randomMlaWeights(cfg, new Rng(seed)), format);
          expect(randomMlaWeightsIn(cfg, format, new Rng(seed)), format).toEqual(want);
        }
      }),
      { numRuns: 8 },
    );
  });

  it("refuses an unknown format with a ShapeError naming it", () => {
    expect(() => randomMlaWeightsIn(makeConfig({ dim: 8, n_heads: 1, q_lora_rank: 0, kv_lora_rank: 4, qk_nope_head_dim: 2, qk_rope_head_dim: 2, v_head_dim: 2 }), "fp16" as never, new Rng(1))).toThrow(ShapeError);
  });
});

describe("quantiseWeight", () => {
  it("refuses a format it has no rule for (a cache format's name included) with a ShapeError naming the field", () => {
    for (const f of ["fp8_e4m3", "f16", "f32", ""]) expect(() => quantiseWeight(f as never, [1, 2], [1, 2]), f).toThrow(/format/);
  });
});
