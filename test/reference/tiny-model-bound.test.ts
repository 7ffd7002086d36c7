// The first-order rounding bound of tiny-model-bound.ts, which judges llama.cpp's logits: its
// oracle values are the tiny model's, and an emulated backend that rounds where the numerics say
// stays inside it on random configs; the same emulated backend rounding more coarsely than claimed
// (f16 activations or an f16 cache against an f32 claim) leaves it, so the bound is not vacuous.
//
// The emulated backend rounds every stored result, every product and partial sum of its float32
// dot products (f16 too where it accumulates in f16), and the activations to the weight type's.
// No tolerance is added to the bound. It is first-order: the dropped terms are products of two
// roundings, of the order of the bound squared (< 1e-2 relative here), so they cannot decide a case.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeConfig } from "../../src/config.js";
import { Rng } from "../../src/weights.js";
import { TinyModel, type TinyModelConfig, randomTinyModel } from "../../src/reference/tiny-model.js";
import { type BackendNumerics, llamaCppNumerics, tinyModelBound } from "../../src/reference/tiny-model-bound.js";
import { ConfigError, ShapeError } from "../../src/errors.js";

const numericsArb: fc.Arbitrary<BackendNumerics> = fc.record({
  activations: fc.constantFrom("f32", "f16", "bf16", "q8_0"),
  kv: fc.constantFrom("f32", "f16"),
  probs: fc.constantFrom("f32", "f16"),
  accumulate: fc.constantFrom("f32", "f16"),
});

// Q8_0 needs every matmul's inner size (dim, q_lora_rank, dn, C, H dv, ffn) a multiple of 32.
const cfgArb = (q8: boolean) =>
  fc.record({
    dim: q8 ? fc.constant(32) : fc.integer({ min: 1, max: 12 }),
    n_heads: q8 ? fc.constant(1) : fc.integer({ min: 1, max: 3 }),
    q_lora_rank: q8 ? fc.constantFrom(0, 32) : fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 6 })),
    kv_lora_rank: q8 ? fc.constant(32) : fc.integer({ min: 1, max: 8 }),
    qk_nope_head_dim: q8 ? fc.constant(32) : fc.integer({ min: 1, max: 5 }),
    half: fc.integer({ min: 1, max: 3 }),
    v_head_dim: q8 ? fc.constant(32) : fc.integer({ min: 1, max: 4 }),
    layers: fc.integer({ min: 1, max: 2 }),
    vocab: fc.integer({ min: 2, max: 12 }),
    ffn: q8 ? fc.constant(32) : fc.integer({ min: 1, max: 8 }),
    yarn: fc.boolean(),
    seqlen: fc.integer({ min: 1, max: 6 }),
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  });
type Drawn = ReturnType<typeof cfgArb> extends fc.Arbitrary<infer T> ? T : never;
const cfgOf = (c: Drawn): TinyModelConfig => ({
  mla: makeConfig({ dim: c.dim, n_heads: c.n_heads, q_lora_rank: c.q_lora_rank, kv_lora_rank: c.kv_lora_rank, qk_nope_head_dim: c.qk_nope_head_dim, qk_rope_head_dim: 2 * c.half, v_head_dim: c.v_head_dim, max_seq_len: c.yarn ? 64 : 16, original_seq_len: 16, rope_factor: c.yarn ? 4 : 1, n_layers: c.layers, max_batch_size: 1 }),
  vocab: c.vocab,
  ffn: c.ffn,
});

/** max over outputs of |emulated log p - oracle log p| / bound. */
function worstRatio(cfg: TinyModelConfig, seed: number, seqlen: number, emulated: BackendNumerics, claimed: BackendNumerics): number {
  const w = randomTinyModel(cfg, new Rng(seed));
  const rng = new Rng(seed + 1);
  const tokens = Array.from({ length: seqlen }, () => Math.floor(rng.uniform(0, cfg.vocab - 1e-9)));
  const oracle = tinyModelBound(cfg, w, tokens, claimed);
  const em = tinyModelBound(cfg, w, tokens, emulated, { emulate: true, positions: [] });
  let worst = 0;
  for (let i = 0; i < oracle.logp.length; i++) {
    expect(oracle.bound[i]).toBeGreaterThan(0);
    worst = Math.max(worst, Math.abs(em.logp[i] - oracle.logp[i]) / oracle.bound[i]);
  }
  return worst;
}

describe("tinyModelBound: a first-order bound on a float32 backend's log-probabilities", () => {
  it("its values are the tiny model's logits (same model, float64)", () => {
    fc.assert(
      fc.property(cfgArb(false), numericsArb.filter((n) => n.activations !== "q8_0"), (c, num) => {
        const cfg = cfgOf(c), w = randomTinyModel(cfg, new Rng(c.seed));
        const tokens = Array.from({ length: c.seqlen }, (_, i) => (i * 7 + c.seed) % cfg.vocab);
        const want = new TinyModel(cfg, w).forward(tokens, 0);
        const got = tinyModelBound(cfg, w, tokens, num, { positions: [] }).logits;
        for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(want[i])));
      }),
      { numRuns: 40 },
    );
  });

  it("an emulated backend rounding as the numerics say stays inside the bound (odd sizes, f16/bf16 activations)", () => {
    fc.assert(fc.property(cfgArb(false), numericsArb.filter((n) => n.activations !== "q8_0"), (c, num) => worstRatio(cfgOf(c), c.seed, c.seqlen, num, num) <= 1), { numRuns: 60 });
  });

  it("... and with Q8_0 activations (sizes multiples of 32)", () => {
    fc.assert(fc.property(cfgArb(true), numericsArb.map((n) => ({ ...n, activations: "q8_0" as const })), (c, num) => worstRatio(cfgOf(c), c.seed, c.seqlen, num, num) <= 1), { numRuns: 12 });
  });

  it("rounding more coarsely than claimed leaves it: f16 activations against an f32 claim, an f16 cache against f32", () => {
    // The bound is worst-case over the roundings' signs; a coarsening must exceed that sum. Rounding every
    // activation (or every cached value) to f16 adds 2^-11 relative per value against the claim's 2^-24.
    const c: Drawn = { dim: 32, n_heads: 2, q_lora_rank: 0, kv_lora_rank: 16, qk_nope_head_dim: 8, half: 4, v_head_dim: 8, layers: 1, vocab: 12, ffn: 16, yarn: false, seqlen: 6, seed: 11 };
    const f32All: BackendNumerics = { activations: "f32", kv: "f32", probs: "f32", accumulate: "f32" };
    expect(worstRatio(cfgOf(c), c.seed, c.seqlen, f32All, f32All)).toBeLessThanOrEqual(1);
    expect(worstRatio(cfgOf(c), c.seed, c.seqlen, { ...f32All, activations: "f16" }, f32All)).toBeGreaterThan(1);
    expect(worstRatio(cfgOf(c), c.seed, c.seqlen, { ...f32All, kv: "f16" }, f32All)).toBeGreaterThan(1);
    const f16Cache: BackendNumerics = { ...f32All, kv: "f16" };
    expect(worstRatio(cfgOf(c), c.seed, c.seqlen, { ...f16Cache, accumulate: "f16" }, { ...f16Cache, accumulate: "f16" })).toBeLessThanOrEqual(1);
  });

  it("llamaCppNumerics: each weight type's activation format; flash attention computes on an f16 cache whatever was asked", () => {
    expect(llamaCppNumerics("Q8_0", "f16", false)).toEqual({ activations: "q8_0", kv: "f16", probs: "f16", accumulate: "f32" });
    expect(llamaCppNumerics("F16", "f32", false)).toEqual({ activations: "f16", kv: "f32", probs: "f32", accumulate: "f32" });
    expect(llamaCppNumerics("F32", "f32", true)).toEqual({ activations: "f32", kv: "f16", probs: "f32", accumulate: "f16" });
    expect(llamaCppNumerics("F32", "f32", true, true)).toEqual({ activations: "f32", kv: "f32", probs: "f32", accumulate: "f32" });
    expect(() => llamaCppNumerics("Q4_0" as never, "f16", false)).toThrow(ConfigError);
    expect(() => llamaCppNumerics("toString" as never, "f16", false)).toThrow(ConfigError);
  });

  it("refuses Q8_0 activations on a size that is not whole blocks, and token ids out of the vocabulary", () => {
    const cfg = cfgOf({ dim: 8, n_heads: 1, q_lora_rank: 0, kv_lora_rank: 4, qk_nope_head_dim: 2, half: 1, v_head_dim: 2, layers: 1, vocab: 4, ffn: 4, yarn: false, seqlen: 1, seed: 1 });
    const w = randomTinyModel(cfg, new Rng(1));
    expect(() => tinyModelBound(cfg, w, [0], llamaCppNumerics("Q8_0", "f16", false))).toThrow(ShapeError);
    expect(() => tinyModelBound(cfg, w, [4], llamaCppNumerics("F32", "f16", false))).toThrow(/tokens\[0\]/);
  });

  it("an f16 accumulation of 1024+ terms has no first-order bound: Infinity, never a negative one that would pass anything", () => {
    // gamma_n = n u / (1 - n u) with u = 2^-11: the flash-attention sum over T keys rounds 2T + 1 times.
    const cfg = cfgOf({ dim: 4, n_heads: 1, q_lora_rank: 0, kv_lora_rank: 2, qk_nope_head_dim: 2, half: 1, v_head_dim: 2, layers: 1, vocab: 3, ffn: 2, yarn: false, seqlen: 1, seed: 1 });
    const w = randomTinyModel(cfg, new Rng(3));
    const numerics: BackendNumerics = { activations: "f32", kv: "f16", probs: "f32", accumulate: "f16" };
    const tokens = Array.from({ length: 1100 }, (_, i) => i % 3);
    const { bound } = tinyModelBound(cfg, w, tokens, numerics, { positions: [1022, 1023] });
    const at = (t: number) => Array.from(bound.subarray(t * 3, t * 3 + 3));
    for (const b of at(1022)) expect(Number.isFinite(b) && b > 0).toBe(true); // 2 * 1023 + 1 roundings: n u < 1
    for (const b of at(1023)) expect(b).toBe(Infinity); // 2 * 1024 + 1: n u > 1
  });
});
