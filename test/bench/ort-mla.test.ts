// The exported-model peer computes the layer: the ONNX graph bench/peers/ort-mla.ts writes, run by
// onnxruntime-web one token at a time with its present tensors fed back as past (the way an
// exported DeepSeek model decodes), gives the oracle's output at every step, on the conformance
// kit's random configs. The gate is the bench's own
// (DeepSeek's cal_diff, bench/lib/check.ts), as for every peer figure.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeConfig } from "../../src/config.js";
import { arbMlaConfig } from "../../src/conformance/arbitraries.js";
import { Rng, randomMlaWeights } from "../../src/weights.js";
import { ReferenceMla } from "../../src/reference/mla.js";
import { OrtNaiveMlaStep, naiveMlaStepModel } from "../../bench/peers/ort-mla.js";
import { checkCalDiff } from "../../bench/lib/check.js";

// The kit's configs (odd sizes, one head, q-LoRA on and off, YaRN on and off, both conventions), the layout the graph rotates.
const arb = fc.record({ cfg: arbMlaConfig({ ropeLayouts: ["interleaved"] }), steps: fc.integer({ min: 1, max: 5 }), seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }) });

describe("onnxruntime-web running the naive MLA decode step as an exported model does", () => {
  it("steps from an empty cache give the oracle's outputs, and the cache grows by one row per head", async () => {
    await fc.assert(
      fc.asyncProperty(arb, async (c) => {
        const cfg = c.cfg;
        const rng = new Rng(c.seed), w = randomMlaWeights(cfg, rng);
        const ref = new ReferenceMla(cfg, w, { path: "naive" });
        const ort = await OrtNaiveMlaStep.create(cfg, w);
        const H = cfg.n_heads, qk = cfg.qk_nope_head_dim + cfg.qk_rope_head_dim;
        let pastK: Float32Array = new Float32Array(0), pastV: Float32Array = new Float32Array(0);
        try {
          for (let t = 0; t < c.steps; t++) {
            const x = Float32Array.from(rng.normalArray(cfg.dim));
            const want = ref.forward(x, { batch: 1, seqlen: 1, startPos: t });
            const got = await ort.step(x, pastK, pastV, t);
            const chk = checkCalDiff(got.y, want, `step ${t}`);
            expect(chk.ok, chk.detail).toBe(true);
            expect(got.present_k.length).toBe(H * (t + 1) * qk);
            expect(got.present_v.length).toBe(H * (t + 1) * cfg.v_head_dim);
            [pastK, pastV] = [got.present_k, got.present_v];
          }
        } finally {
          await ort.dispose();
        }
      }),
      { numRuns: 15 },
    );
  });

  it("refuses the half rope layout it does not rotate", () => {
    const cfg = makeConfig({ dim: 4, n_heads: 1, q_lora_rank: 0, kv_lora_rank: 2, qk_nope_head_dim: 2, qk_rope_head_dim: 2, v_head_dim: 2, max_seq_len: 8, original_seq_len: 8, rope_layout: "half", max_batch_size: 1 });
    expect(() => naiveMlaStepModel(cfg, randomMlaWeights(cfg, new Rng(1)))).toThrow(/rope_layout half/);
  });
});
