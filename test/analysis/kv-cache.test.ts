// KV-cache sizes: the DeepSeek-V2 paper's Table 1, DeepSeek-V3's bytes per token and FlashMLA's FP8
// layout. Expected numbers are written from the paper / the issue, not computed by the code.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { preset } from "../../src/config.js";
import { CACHE_FORMATS, tokenBytes } from "../../src/analysis/formats.js";
import { KV_SCHEMES, defaultGroups, kvBytesPerTokenPerLayer, kvCacheFigures, kvElementsPerTokenPerLayer } from "../../src/analysis/kv-cache.js";
import { mlaConfigArb } from "../support/arb.js";

describe("DeepSeek-V2 paper, Table 1 (elements per token per layer; n_h 128, d_h 128, d_c 512, d_h^R 64)", () => {
  const v2 = preset("deepseek-v2");
  it("MHA 2 n_h d_h = 32,768", () => expect(kvElementsPerTokenPerLayer(v2, "mha")).toBe(32768));
  it("GQA 2 n_g d_h: 8 groups = 2,048, 2 groups = 512", () => {
    expect(kvElementsPerTokenPerLayer(v2, "gqa")).toBe(2048);
    expect(kvElementsPerTokenPerLayer(v2, "gqa", { groups: 2 })).toBe(512);
  });
  it("MQA 2 d_h = 256", () => expect(kvElementsPerTokenPerLayer(v2, "mqa")).toBe(256));
  it("MLA d_c + d_h^R = 576 = 4.5 d_h = GQA with 2.25 groups (2 x 2.25 x 128)", () => {
    expect(kvElementsPerTokenPerLayer(v2, "mla")).toBe(576);
    expect(kvElementsPerTokenPerLayer(v2, "mla") / 128).toBe(4.5);
    expect(kvElementsPerTokenPerLayer(v2, "mla")).toBe(2 * 2.25 * 128);
  });
  it("the naive path's decompressed cache H (dn + dr + dv) = 40,960", () => expect(kvElementsPerTokenPerLayer(v2, "mlaNaiveCache")).toBe(40960));
  it("the seed scheme: 2 h r = 2,048 at r = 8, 1,024 at r = 4, 4,096 at r = 16", () => {
    expect(kvElementsPerTokenPerLayer(v2, "seedPerHead")).toBe(2048);
    expect(kvElementsPerTokenPerLayer(v2, "seedPerHead", { seedRank: 4 })).toBe(1024);
    expect(kvElementsPerTokenPerLayer(v2, "seedPerHead", { seedRank: 16 })).toBe(4096);
  });
});

describe("bytes per token", () => {
  const v3 = preset("deepseek-v3");
  it("DeepSeek-V3, bf16, 61 layers: 70,272 bytes per token", () => {
    expect(kvCacheFigures(v3, "mla", { format: "bf16", context: 1, batch: 1 }).bytesPerToken).toBe(70272);
  });
  it("FlashMLA FP8 (C 512, dr 64): 656 bytes per token per layer = 512 e4m3 + 4 float32 scales + 64 bf16", () => {
    expect(kvBytesPerTokenPerLayer(v3, "mla", "fp8")).toBe(656);
    expect(tokenBytes("fp8", 512, 64)).toBe(512 + 16 + 128);
  });
  it("f32 2,304, f16 1,152, int8 584 (576 values + one float32 scale for the latent, one for the rope part) per token per layer", () => {
    expect(kvBytesPerTokenPerLayer(v3, "mla", "f32")).toBe(2304);
    expect(kvBytesPerTokenPerLayer(v3, "mla", "f16")).toBe(1152);
    expect(kvBytesPerTokenPerLayer(v3, "mla", "int8")).toBe(584);
  });
  it("fp8 with C not a multiple of 128 rounds the scale count up (C 200: 2 scales)", () => {
    expect(tokenBytes("fp8", 200, 8)).toBe(200 + 8 + 16);
  });
  it("V3 at 128k tokens, bf16: 70,272 x 131,072 bytes (8.58 GiB); MHA would be 56.9x that", () => {
    const f = kvCacheFigures(v3, "mla", { format: "bf16", context: 131072, batch: 1 });
    expect(f.totalBytes).toBe(70272 * 131072);
    expect(kvCacheFigures(v3, "mha", { format: "bf16", context: 131072, batch: 1 }).vsMla).toBeCloseTo(32768 / 576, 12);
  });
  it("the default GQA group count divides H and is 8 for every DeepSeek preset", () => {
    for (const name of ["deepseek-v3", "deepseek-v2", "deepseek-v2-lite", "kimi-k2"]) expect(defaultGroups(preset(name).n_heads)).toBe(8);
    expect(defaultGroups(6)).toBe(6);
    expect(defaultGroups(9)).toBe(3);
    expect(defaultGroups(7)).toBe(7);
    expect(defaultGroups(11)).toBe(1);
  });
});

describe("format arithmetic holds for random configs", () => {
  it("f32 = 2 x bf16 = 2 x f16; int8 = values + 4 per stream (K, V; latent, rope); fp8 MLA = C + 4 ceil(C/128) + 2 dr; totals scale with layers, context, batch", () => {
    fc.assert(
      fc.property(mlaConfigArb, fc.integer({ min: 1, max: 100000 }), fc.integer({ min: 1, max: 64 }), (cfg, context, batch) => {
        for (const s of KV_SCHEMES) {
          const e = kvElementsPerTokenPerLayer(cfg, s);
          expect(kvBytesPerTokenPerLayer(cfg, s, "f32")).toBe(4 * e);
          expect(kvBytesPerTokenPerLayer(cfg, s, "bf16")).toBe(2 * e);
          expect(kvBytesPerTokenPerLayer(cfg, s, "f16")).toBe(2 * e);
          expect(kvBytesPerTokenPerLayer(cfg, s, "int8")).toBe(e + 8); // every scheme here has two streams
          for (const format of CACHE_FORMATS) {
            const f = kvCacheFigures(cfg, s, { format, context, batch });
            expect(f.totalBytes).toBe(f.bytesPerTokenPerLayer * cfg.n_layers * context * batch);
          }
        }
        const C = cfg.kv_lora_rank, dr = cfg.qk_rope_head_dim;
        expect(kvBytesPerTokenPerLayer(cfg, "mla", "fp8")).toBe(C + 4 * Math.ceil(C / 128) + 2 * dr);
      }),
      { numRuns: 100 },
    );
  });
});
