// The tiny whole DeepSeek2 model in float64 (src/reference/tiny-model.ts), the oracle for backends
// that run models: its pieces by hand on a case small enough to write out, its consistency
// (prefill == decodes, naive == absorbed, causality) on random configs, and its GGUF round trip.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeConfig } from "../../src/config.js";
import { Rng } from "../../src/weights.js";
import { TinyModel, type TinyModelConfig, randomTinyModel } from "../../src/reference/tiny-model.js";
import { bytesSource } from "../../src/io/safetensors.js";
import { openGguf } from "../../src/io/gguf.js";
import { loadTinyModel, tinyModelToGguf } from "../../src/io/mla-gguf.js";
import { RMSNORM_EPS } from "../../src/derived.js";

const REL = 1e-9; // float64 sums reordered (naive vs absorbed, chunked prefill): ~1e-15 relative per step, far below this
const close = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let worst = 0, scale = 0;
  for (let i = 0; i < a.length; i++) (worst = Math.max(worst, Math.abs(a[i] - b[i]))), (scale = Math.max(scale, Math.abs(b[i])));
  return worst <= REL * Math.max(1, scale);
};

const arb = fc.record({
  dim: fc.integer({ min: 1, max: 12 }),
  n_heads: fc.integer({ min: 1, max: 3 }),
  q_lora_rank: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 6 })),
  kv_lora_rank: fc.integer({ min: 1, max: 8 }),
  qk_nope_head_dim: fc.integer({ min: 1, max: 4 }),
  half: fc.integer({ min: 1, max: 3 }),
  v_head_dim: fc.integer({ min: 1, max: 4 }),
  layers: fc.integer({ min: 1, max: 3 }),
  vocab: fc.integer({ min: 1, max: 20 }),
  ffn: fc.integer({ min: 1, max: 10 }),
  yarn: fc.boolean(),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});
const cfgOf = (c: typeof arb extends fc.Arbitrary<infer T> ? T : never): TinyModelConfig => ({
  mla: makeConfig({ dim: c.dim, n_heads: c.n_heads, q_lora_rank: c.q_lora_rank, kv_lora_rank: c.kv_lora_rank, qk_nope_head_dim: c.qk_nope_head_dim, qk_rope_head_dim: 2 * c.half, v_head_dim: c.v_head_dim, max_seq_len: c.yarn ? 64 : 16, original_seq_len: 16, rope_factor: c.yarn ? 4 : 1, n_layers: c.layers, max_batch_size: 1 }),
  vocab: c.vocab,
  ffn: c.ffn,
});

describe("the tiny DeepSeek2 model (float64)", () => {
  it("by hand: with the attention's output projection at zero, logits = output . norm(e + down(silu(gate n) * up n)), n = norm(e)", () => {
    const cfg: TinyModelConfig = { mla: makeConfig({ dim: 2, n_heads: 1, q_lora_rank: 0, kv_lora_rank: 2, qk_nope_head_dim: 1, qk_rope_head_dim: 2, v_head_dim: 1, max_seq_len: 8, original_seq_len: 8, n_layers: 1, max_batch_size: 1 }), vocab: 3, ffn: 1 };
    const w = randomTinyModel(cfg, new Rng(3));
    (w.layers[0].mla.wo as Float32Array).fill(0);
    const norm = (x: number[], g: ArrayLike<number>) => {
      const r = 1 / Math.sqrt((x[0] * x[0] + x[1] * x[1]) / 2 + RMSNORM_EPS);
      return [x[0] * r * g[0], x[1] * r * g[1]];
    };
    const l = w.layers[0];
    const model = new TinyModel(cfg, w);
    const got = model.forward([2, 0], 0);
    [2, 0].forEach((t, i) => {
      const e = [w.token_embd[2 * t], w.token_embd[2 * t + 1]];
      const n = norm(e, l.ffn_norm);
      const g = l.ffn_gate[0] * n[0] + l.ffn_gate[1] * n[1], u = l.ffn_up[0] * n[0] + l.ffn_up[1] * n[1];
      const a = (g / (1 + Math.exp(-g))) * u;
      const h = norm([e[0] + l.ffn_down[0] * a, e[1] + l.ffn_down[1] * a], w.output_norm);
      for (let v = 0; v < 3; v++) expect(got[i * 3 + v]).toBeCloseTo(w.output[2 * v] * h[0] + w.output[2 * v + 1] * h[1], 12);
    });
  });

  it("a prefill then decodes == one prefill, naive == absorbed, and a position's logits ignore later tokens", () => {
    fc.assert(
      fc.property(arb, fc.array(fc.nat(), { minLength: 2, maxLength: 8 }), fc.integer({ min: 1, max: 7 }), (c, raw, cut) => {
        const cfg = cfgOf(c), w = randomTinyModel(cfg, new Rng(c.seed));
        const tokens = raw.map((t) => t % cfg.vocab), p = Math.min(cut, tokens.length - 1), V = cfg.vocab;
        const whole = new TinyModel(cfg, w).forward(tokens, 0);
        const stepped = new TinyModel(cfg, w);
        const parts = [stepped.forward(tokens.slice(0, p), 0), ...tokens.slice(p).map((t, i) => stepped.forward([t], p + i))];
        const joined = Float64Array.from(parts.flatMap((a) => Array.from(a)));
        expect(close(joined, whole)).toBe(true);
        expect(close(new TinyModel(cfg, w, "naive").forward(tokens, 0), whole)).toBe(true);
        const changed = [...tokens];
        changed[tokens.length - 1] = (changed[tokens.length - 1] + 1) % V;
        const other = new TinyModel(cfg, w).forward(changed, 0);
        expect(Array.from(other.subarray(0, (tokens.length - 1) * V))).toEqual(Array.from(whole.subarray(0, (tokens.length - 1) * V)));
      }),
      { numRuns: 25 },
    );
  });

  it("round-trips through a deepseek2 GGUF (F32: the same weights bit for bit, so the same logits)", async () => {
    await fc.assert(
      fc.asyncProperty(arb, async (c) => {
        const cfg = cfgOf(c), w = randomTinyModel(cfg, new Rng(c.seed));
        const back = await loadTinyModel(await openGguf(bytesSource(tinyModelToGguf(cfg, w))));
        expect(back.weights).toEqual(w);
        expect(back.config.vocab).toBe(cfg.vocab);
        expect(back.config.ffn).toBe(cfg.ffn);
        const tokens = [0, cfg.vocab - 1, 0];
        const want = new TinyModel(cfg, w).forward(tokens, 0);
        expect(new TinyModel(cfg, back.weights).forward(tokens, 0)).toEqual(want);
        // the config as the metadata holds it: the YaRN multiplier is a float32 (0.1 x mscale), so its logits agree to float32 precision
        expect(back.config.mla.mscale).toBeCloseTo(cfg.mla.mscale, 6);
        const fromFile = new TinyModel({ ...back.config, mla: { ...back.config.mla, max_batch_size: 1 } }, back.weights).forward(tokens, 0);
        for (let i = 0; i < want.length; i++) expect(Math.abs(fromFile[i] - want[i])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want[i])));
      }),
      { numRuns: 10 },
    );
  });

  it("refuses a token outside the vocabulary, naming it", () => {
    const c = { dim: 4, n_heads: 1, q_lora_rank: 0, kv_lora_rank: 2, qk_nope_head_dim: 1, half: 1, v_head_dim: 1, layers: 1, vocab: 5, ffn: 2, yarn: false, seed: 1 };
    const m = new TinyModel(cfgOf(c), randomTinyModel(cfgOf(c), new Rng(1)));
    expect(() => m.forward([5], 0)).toThrow(/tokens\[0\]/);
  });
});
