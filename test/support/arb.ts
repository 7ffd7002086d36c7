// fast-check arbitraries for the oracle's own tests: small random MLA configs covering odd
// sizes, one head, q_lora_rank 0, YaRN on and off, both rope layouts, and call schedules with
// startPos > 0 and at least two keys.
import fc from "fast-check";
import { type MlaConfig, makeConfig } from "../../src/config.js";
import { Rng } from "../../src/weights.js";

export const mlaConfigArb: fc.Arbitrary<MlaConfig> = fc
  .record({
    dim: fc.integer({ min: 1, max: 33 }),
    n_heads: fc.integer({ min: 1, max: 4 }),
    q_lora_rank: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 17 })),
    kv_lora_rank: fc.integer({ min: 1, max: 19 }),
    qk_nope_head_dim: fc.integer({ min: 1, max: 9 }),
    ropeHalf: fc.integer({ min: 1, max: 5 }),
    v_head_dim: fc.integer({ min: 1, max: 9 }),
    yarn: fc.boolean(),
    original_seq_len: fc.integer({ min: 16, max: 256 }), // >= the longest schedule (16 tokens)
    rope_theta: fc.double({ min: 50, max: 20000, noNaN: true }),
    rope_factor: fc.double({ min: 1, max: 40, noNaN: true }),
    beta_fast: fc.integer({ min: 4, max: 32 }),
    beta_slow: fc.integer({ min: 1, max: 3 }),
    mscale: fc.double({ min: 0.5, max: 1.5, noNaN: true }),
    rope_layout: fc.constantFrom("interleaved" as const, "half" as const),
    max_batch_size: fc.integer({ min: 1, max: 3 }),
  })
  .map((r) =>
    makeConfig({
      dim: r.dim,
      n_heads: r.n_heads,
      q_lora_rank: r.q_lora_rank,
      kv_lora_rank: r.kv_lora_rank,
      qk_nope_head_dim: r.qk_nope_head_dim,
      qk_rope_head_dim: 2 * r.ropeHalf,
      v_head_dim: r.v_head_dim,
      original_seq_len: r.original_seq_len,
      // YaRN is on iff max_seq_len > original_seq_len; keep positions small either way.
      max_seq_len: r.yarn ? r.original_seq_len * 4 : r.original_seq_len,
      rope_theta: r.rope_theta,
      rope_factor: r.rope_factor,
      beta_fast: r.beta_fast,
      beta_slow: r.beta_slow,
      mscale: r.mscale,
      rope_layout: r.rope_layout,
      max_batch_size: r.max_batch_size,
    }),
  );

/** A schedule of call lengths: the first is a prefill at 0, the rest continue; >= 2 tokens in all. */
export const scheduleArb = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }).filter((a) => a.reduce((x, y) => x + y, 0) >= 2);

/** Random inputs [B, s, D] of N(0,1), seeded. */
export function randomInput(rng: Rng, n: number): Float32Array {
  return rng.normalArray(n, 1);
}

export const seedArb = fc.integer({ min: 1, max: 2 ** 31 - 1 });
