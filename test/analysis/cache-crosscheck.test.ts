// The cost model's bytes per token (src/analysis/formats.ts, written from the formats' definitions)
// against the latent cache's own layout accounting (src/cache/layout.ts), for every format.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeConfig } from "../../src/config.js";
import { CACHE_FORMATS } from "../../src/analysis/formats.js";
import { kvBytesPerTokenPerLayer } from "../../src/analysis/kv-cache.js";
import { tokenLayout } from "../../src/cache/layout.js";

const CACHE_NAME = { f32: "f32", bf16: "bf16", f16: "f16", int8: "int8", fp8: "fp8_e4m3" } as const;

describe("cost model == src/cache accounting", () => {
  it("bytes per token per layer of MLA's latent cache agree for every format, random C and d_rope", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2048 }), fc.integer({ min: 1, max: 64 }), (C, half) => {
        const cfg = makeConfig({ kv_lora_rank: C, qk_rope_head_dim: 2 * half });
        for (const f of CACHE_FORMATS) expect(kvBytesPerTokenPerLayer(cfg, "mla", f)).toBe(tokenLayout(CACHE_NAME[f], C, 2 * half).bytesPerToken);
      }),
      { numRuns: 200 },
    );
  });

  it("DeepSeek-V3 (C 512, d_rope 64): 2304 / 1152 / 1152 / 584 / 656 in both", () => {
    const cfg = makeConfig({ kv_lora_rank: 512, qk_rope_head_dim: 64 });
    expect(CACHE_FORMATS.map((f) => kvBytesPerTokenPerLayer(cfg, "mla", f))).toEqual([2304, 1152, 1152, 584, 656]);
    expect(CACHE_FORMATS.map((f) => tokenLayout(CACHE_NAME[f], 512, 64).bytesPerToken)).toEqual([2304, 1152, 1152, 584, 656]);
  });
});
