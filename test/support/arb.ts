// fast-check arbitraries for the oracle's own tests: the conformance kit's random MLA configs
// (odd sizes, one head, q_lora_rank 0, YaRN on and off, both rope layouts) and call schedules
// with startPos > 0 and at least two keys.
import fc from "fast-check";
import type { MlaConfig } from "../../src/config.js";
import type { MhaConfig } from "../../src/reference/baselines.js";
import { arbMlaConfig } from "../../src/conformance/arbitraries.js";

/** The conformance kit's configs, a little larger than its defaults (every schedule below fits). */
export const mlaConfigArb: fc.Arbitrary<MlaConfig> = arbMlaConfig({ maxDim: 33, maxHeads: 4, maxRank: 19, maxHeadDim: 10 });

/** A schedule of call lengths: the first is a prefill at 0, the rest continue; >= 2 tokens in all. */
export const scheduleArb = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }).filter((a) => a.reduce((x, y) => x + y, 0) >= 2);

export const seedArb = fc.integer({ min: 1, max: 2 ** 31 - 1 });

/** MHA / GQA / MQA configs: kv heads and group sizes from 1, odd head widths, partial or no rope. */
export function arbMhaConfig(o: { maxKvHeads?: number; maxGroup?: number; maxVHeadDim?: number; maxSeqLen?: number } = {}): fc.Arbitrary<MhaConfig> {
  return fc
    .record({
      dim: fc.integer({ min: 1, max: 24 }),
      n_kv_heads: fc.integer({ min: 1, max: o.maxKvHeads ?? 3 }),
      group: fc.integer({ min: 1, max: o.maxGroup ?? 3 }),
      head_dim: fc.integer({ min: 1, max: 9 }),
      v_head_dim: fc.integer({ min: 1, max: o.maxVHeadDim ?? 7 }),
      ropeHalf: fc.nat({ max: 4 }),
      rope_theta: fc.double({ min: 50, max: 10000, noNaN: true }),
      rope_layout: fc.constantFrom("interleaved" as const, "half" as const),
      max_batch_size: fc.integer({ min: 1, max: 3 }),
    })
    .map(
      (r): MhaConfig => ({
        dim: r.dim,
        n_heads: r.n_kv_heads * r.group,
        n_kv_heads: r.n_kv_heads,
        head_dim: r.head_dim,
        v_head_dim: r.v_head_dim,
        rope_dim: Math.min(2 * r.ropeHalf, r.head_dim - (r.head_dim % 2)),
        rope_theta: r.rope_theta,
        rope_layout: r.rope_layout,
        max_seq_len: o.maxSeqLen ?? 32, // >= every schedule the tests draw
        max_batch_size: r.max_batch_size,
      }),
    );
}

/** 1..3 kv heads, groups of 1..3, max_seq_len 32. */
export const mhaConfigArb: fc.Arbitrary<MhaConfig> = arbMhaConfig();
