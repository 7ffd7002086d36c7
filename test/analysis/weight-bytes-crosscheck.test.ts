// The cost model's weight bytes per format (src/analysis/cost.ts weightBytesPerElement) against what
// a WASM layer actually holds (WasmMla.weightBytes, counted from its packed buffers), for configs
// whose sizes the checkpoints' 128 x 128 blocks and the 8-column panels divide: there no padding
// exists, so the two must agree exactly once the layer's two float32 RMSNorm weight vectors
// (q_lora_rank + kv_lora_rank floats, not projections) are set aside. A decode step reads every
// projection once, so the step's weight bytes are the layer's.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeConfig } from "../../src/config.js";
import { decodeShape, layerCost, weightBytesPerElement } from "../../src/analysis/cost.js";
import { analyze } from "../../src/analysis/analyze.js";
import { WEIGHT_FORMATS, convertMlaWeights } from "../../src/weight-formats.js";
import { Rng, randomMlaWeights } from "../../src/weights.js";
import { WasmMla } from "../../src/wasm/mla-layer.js";
import { kernels } from "../wasm/helpers.js";

const aligned = fc.record({
  D: fc.constantFrom(128, 256),
  H: fc.integer({ min: 1, max: 3 }),
  Q: fc.constantFrom(0, 128),
  C: fc.constantFrom(128, 256),
  dv: fc.constantFrom(128, 256),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});

describe("cost model weight bytes == the WASM layer's packed weights", () => {
  it("every weight format, aligned configs (exact)", async () => {
    await fc.assert(
      fc.asyncProperty(aligned, async ({ D, H, Q, C, dv, seed }) => {
        const cfg = makeConfig({ dim: D, n_heads: H, q_lora_rank: Q, kv_lora_rank: C, qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: dv, max_seq_len: 64, max_batch_size: 1 });
        const w = randomMlaWeights(cfg, new Rng(seed));
        for (const weightFormat of WEIGHT_FORMATS) {
          const layer = new WasmMla(cfg, weightFormat === "f32" ? w : convertMlaWeights(cfg, w, weightFormat), await kernels("simd128"), { path: "absorbed", weightFormat });
          try {
            const model = layerCost(cfg, "absorbed", decodeShape(16, 1), { format: "f32", weightFormat }).weightBytes;
            expect(layer.weightBytes - 4 * (Q + C), weightFormat).toBe(model);
          } finally {
            layer.dispose();
          }
        }
      }),
      { numRuns: 6 },
    );
  });

  it("DeepSeek-V3's layer: float32 / fp8 weight bytes = 4 / (1 + 4/128), and analyze reports the format", () => {
    const a = analyze(makeConfig({}), "v3", { context: 1024, batch: 1, format: "f32", machine: { gflops: 30, gbps: 20, source: "test" }, weightFormat: "fp8" });
    const b = analyze(makeConfig({}), "v3", { context: 1024, batch: 1, format: "f32", machine: { gflops: 30, gbps: 20, source: "test" } });
    expect(a.weightFormat).toBe("fp8");
    expect(b.weightFormat).toBe("f32");
    expect(b.decode.absorbed.weightBytes / a.decode.absorbed.weightBytes).toBeCloseTo(4 / (1 + 4 / 128), 12);
    expect(weightBytesPerElement("bf16")).toBe(2);
    expect(() => analyze(makeConfig({}), "v3", { context: 1024, batch: 1, format: "f32", machine: { gflops: 30, gbps: 20, source: "test" }, weightFormat: "fp16" as never })).toThrow(/weightFormat/);
  });
});
