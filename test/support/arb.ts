// fast-check arbitraries for the oracle's own tests: the conformance kit's random MLA configs
// (odd sizes, one head, q_lora_rank 0, YaRN on and off, both rope layouts) and call schedules
// with startPos > 0 and at least two keys.
import fc from "fast-check";
import type { MlaConfig } from "../../src/config.js";
import { arbMlaConfig } from "../../src/conformance/arbitraries.js";

/** The conformance kit's configs, a little larger than its defaults (every schedule below fits). */
export const mlaConfigArb: fc.Arbitrary<MlaConfig> = arbMlaConfig({ maxDim: 33, maxHeads: 4, maxRank: 19, maxHeadDim: 10 });

/** A schedule of call lengths: the first is a prefill at 0, the rest continue; >= 2 tokens in all. */
export const scheduleArb = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }).filter((a) => a.reduce((x, y) => x + y, 0) >= 2);

export const seedArb = fc.integer({ min: 1, max: 2 ** 31 - 1 });
