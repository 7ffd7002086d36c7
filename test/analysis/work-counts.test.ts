// The cost model is checked, not assumed: for random configs and call shapes, the work the oracle
// counts while it runs equals the closed forms of src/analysis/work.ts, for EVERY term and EVERY
// field, on MLA's naive / absorbed / recompute paths (absorbed also over a LatentCache), MHA / GQA /
// MQA and the seed scheme. Every field is counted where the work happens: madds in the loops,
// weight elements as each weight row is read (once per call, src/reference/linear.ts
// readWeightRow), cache elements as the cache hands them out (RowCache.read / write, pagedAttend).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { MlaConfig } from "../../src/config.js";
import { pathWork } from "../../src/analysis/cost.js";
import { type CallShape, type Work, baselineConfig, mhaWork, mlaWork, seedConfig, seedWork } from "../../src/analysis/work.js";
import { type MhaConfig, ReferenceMha, mhaWeightShapes } from "../../src/reference/baselines.js";
import { WORK_TERMS, WorkCounter } from "../../src/reference/counter.js";
import { type MlaPath, ReferenceMla } from "../../src/reference/mla.js";
import { ReferenceSeedLowRank, type SeedLowRankConfig, seedWeightShapes } from "../../src/reference/seed-lowrank.js";
import type { AttentionLayer } from "../../src/layer.js";
import { Rng, randomMlaWeights, randomWeights } from "../../src/weights.js";
import { mhaConfigArb, mlaConfigArb, seedArb } from "../support/arb.js";

const RUNS = { numRuns: 60 };

/**
 * A call history: `prefix` calls fill the cache (not counted), then one counted call of `seqlen`
 * tokens at `startPos`, which may be below the cached length (a rollback) and is > 0 when any
 * prefix ran. Each prefix call continues where the last one ended.
 */
const historyArb = fc.record({
  prefix: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 3 }),
  seqlen: fc.integer({ min: 1, max: 4 }),
  rollback: fc.nat({ max: 2 }),
  batchPick: fc.nat(),
});

type History = { prefix: number[]; seqlen: number; rollback: number; batchPick: number };

/** Runs the history on `layer` and returns the counts of the last call and its shape. */
function countLastCall(layer: AttentionLayer, counter: WorkCounter, h: History, maxBatch: number, D: number, rng: Rng): { counted: Work; shape: CallShape } {
  const batch = 1 + (h.batchPick % maxBatch);
  let pos = 0;
  for (const s of h.prefix) {
    layer.forward(rng.normalArray(batch * s * D), { batch, seqlen: s, startPos: pos });
    pos += s;
  }
  const startPos = Math.max(0, pos - h.rollback);
  counter.reset();
  layer.forward(rng.normalArray(batch * h.seqlen * D), { batch, seqlen: h.seqlen, startPos });
  return { counted: structuredClone(counter.terms), shape: { batch, seqlen: h.seqlen, startPos } };
}

/** Per term and field, so a failure names exactly which count disagrees. */
function expectSameWork(counted: Work, formula: Work): void {
  for (const term of WORK_TERMS) expect({ term, ...counted[term] }).toEqual({ term, ...formula[term] });
}

/** Configs roomy enough for every history above (<= 9 prefix tokens + 4). */
const roomy = (cfg: MlaConfig): MlaConfig => ({ ...cfg, max_seq_len: Math.max(cfg.max_seq_len, 16) });

describe("MLA: reference counts == closed forms, every term and field", () => {
  for (const path of ["naive", "absorbed", "recompute"] as MlaPath[]) {
    it(`path ${path}`, () => {
      fc.assert(
        fc.property(mlaConfigArb, historyArb, seedArb, (cfg0, h, seed) => {
          const cfg = roomy(cfg0);
          const rng = new Rng(seed);
          const counter = new WorkCounter();
          const layer = new ReferenceMla(cfg, randomMlaWeights(cfg, rng), { path, counter });
          const { counted, shape } = countLastCall(layer, counter, h, cfg.max_batch_size, cfg.dim, rng);
          expectSameWork(counted, mlaWork(cfg, path, shape));
          expectSameWork(counted, pathWork(cfg, path, shape)); // the cost model's entry point gives the same
        }),
        RUNS,
      );
    });
  }
});

describe("MLA absorbed over a LatentCache: the same counts as over float64 rows", () => {
  for (const format of ["f32", "fp8_e4m3"] as const) {
    it(`cache format ${format}`, () => {
      fc.assert(
        fc.property(mlaConfigArb, historyArb, seedArb, (cfg0, h, seed) => {
          const cfg = roomy(cfg0);
          const rng = new Rng(seed);
          const counter = new WorkCounter();
          const layer = new ReferenceMla(cfg, randomMlaWeights(cfg, rng), { path: "absorbed", counter, cache: { format } });
          const { counted, shape } = countLastCall(layer, counter, h, cfg.max_batch_size, cfg.dim, rng);
          expectSameWork(counted, mlaWork(cfg, "absorbed", shape));
        }),
        { numRuns: 30 },
      );
    });
  }
});

/** The shared baseline configs. */
const mhaArb = mhaConfigArb;

describe("baselines: reference counts == closed forms", () => {
  it("MHA / GQA / MQA (random heads and groups)", () => {
    fc.assert(
      fc.property(mhaArb, historyArb, seedArb, (cfg, h, seed) => {
        const rng = new Rng(seed);
        const counter = new WorkCounter();
        const layer = new ReferenceMha(cfg, randomWeights(mhaWeightShapes(cfg), rng, []), { counter });
        const { counted, shape } = countLastCall(layer, counter, h, cfg.max_batch_size, cfg.dim, rng);
        expectSameWork(counted, mhaWork(cfg, shape));
      }),
      RUNS,
    );
  });

  it("the seed text's per-head scheme (random rank, heads, groups)", () => {
    fc.assert(
      fc.property(mhaArb, fc.integer({ min: 1, max: 6 }), historyArb, seedArb, (base, rank, h, seed) => {
        const cfg: SeedLowRankConfig = { ...base, rank };
        const rng = new Rng(seed);
        const counter = new WorkCounter();
        const layer = new ReferenceSeedLowRank(cfg, randomWeights(seedWeightShapes(cfg), rng, []), { counter });
        const { counted, shape } = countLastCall(layer, counter, h, cfg.max_batch_size, cfg.dim, rng);
        expectSameWork(counted, seedWork(cfg, shape));
      }),
      RUNS,
    );
  });

  it("the baselines the cost model derives from an MLA config (mha, gqa, mqa, seedPerHead paths)", () => {
    fc.assert(
      fc.property(mlaConfigArb, fc.integer({ min: 1, max: 5 }), historyArb, seedArb, (cfg0, rank, h, seed) => {
        const cfg = roomy(cfg0);
        const H = cfg.n_heads;
        const divisors = Array.from({ length: H }, (_, i) => i + 1).filter((g) => H % g === 0);
        const groups = divisors[seed % divisors.length];
        const cases: [string, MhaConfig | SeedLowRankConfig][] = [
          ["mha", baselineConfig(cfg, H)],
          ["gqa", baselineConfig(cfg, groups)],
          ["mqa", baselineConfig(cfg, 1)],
          ["seedPerHead", seedConfig(cfg, rank)],
        ];
        for (const [path, bc] of cases) {
          const rng = new Rng(seed);
          const counter = new WorkCounter();
          const layer =
            path === "seedPerHead"
              ? new ReferenceSeedLowRank(bc as SeedLowRankConfig, randomWeights(seedWeightShapes(bc as SeedLowRankConfig), rng, []), { counter })
              : new ReferenceMha(bc, randomWeights(mhaWeightShapes(bc), rng, []), { counter });
          const { counted, shape } = countLastCall(layer, counter, h, cfg.max_batch_size, cfg.dim, rng);
          expectSameWork(counted, pathWork(cfg, path as "mha" | "gqa" | "mqa" | "seedPerHead", shape, { groups, seedRank: rank }));
        }
      }),
      { numRuns: 30 },
    );
  });
});

describe("the counts can fail", () => {
  it("a formula off by one term is caught (absorbed priced as naive)", () => {
    const cfg = roomy(fc.sample(mlaConfigArb, { numRuns: 1, seed: 7 })[0]);
    const rng = new Rng(3);
    const counter = new WorkCounter();
    const layer = new ReferenceMla(cfg, randomMlaWeights(cfg, rng), { path: "absorbed", counter });
    const { counted, shape } = countLastCall(layer, counter, { prefix: [2], seqlen: 1, rollback: 0, batchPick: 0 }, 1, cfg.dim, rng);
    expect(() => expectSameWork(counted, mlaWork(cfg, "naive", shape))).toThrow();
  });
});
