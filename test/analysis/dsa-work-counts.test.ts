// DeepSeek-V3.2 sparse attention in the cost model is checked like the dense paths: for random V3.2
// configs (odd dims, one head, one index head, index_topk below and above the context) and call
// histories (prefill, decode, startPos > 0, rollbacks, batch 2), the work the oracle
// (src/reference/dsa) counts while it runs equals dsaWork's closed form for every term and field.
// The pricing of that work (cost.ts) is then checked against the byte sizes the spec states.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type DsaConfig, makeConfig, preset } from "../../src/config.js";
import { ConfigError } from "../../src/errors.js";
import { randomDsaWeights } from "../../src/io/dsa-weights.js";
import { decodeShape, layerCost, pathWork, prefillShape } from "../../src/analysis/cost.js";
import { indexKeyBytesPerTokenPerLayer } from "../../src/analysis/kv-cache.js";
import { type CallShape, type Work, dsaWork, mlaWork, pathsOf, sparsePairs } from "../../src/analysis/work.js";
import { WORK_TERMS, WorkCounter } from "../../src/reference/counter.js";
import { ReferenceDsa } from "../../src/reference/dsa/layer.js";
import { Rng } from "../../src/weights.js";
import { thrown } from "../reference/error-helpers.js";

const dsaArb = fc.record({
  D: fc.integer({ min: 1, max: 19 }),
  H: fc.integer({ min: 1, max: 3 }),
  Q: fc.integer({ min: 1, max: 11 }),
  C: fc.constantFrom(128, 256),
  dn: fc.integer({ min: 1, max: 3 }).map((v) => 2 * v),
  dr: fc.integer({ min: 1, max: 3 }).map((v) => 2 * v),
  dv: fc.integer({ min: 1, max: 5 }),
  HI: fc.integer({ min: 1, max: 3 }),
  // the histories below reach 13 cached tokens: k from 1 (always below) to 16 (always above)
  topk: fc.integer({ min: 1, max: 16 }),
  fmt: fc.constantFrom(null, "ue8m0" as const),
});
type DsaArb = typeof dsaArb extends fc.Arbitrary<infer T> ? T : never;

function dsaConfig(a: DsaArb): DsaConfig {
  return makeConfig({
    dim: a.D, n_heads: a.H, q_lora_rank: a.Q, kv_lora_rank: a.C, qk_nope_head_dim: a.dn, qk_rope_head_dim: a.dr, v_head_dim: a.dv,
    max_seq_len: 16, original_seq_len: 16, max_batch_size: 2,
    index_n_heads: a.HI, index_head_dim: 128, index_topk: a.topk, scale_fmt: a.fmt,
  }) as DsaConfig;
}

/** Prefix calls fill the cache uncounted; then one counted call of `seqlen` at startPos (a rollback when below the cached length). */
const historyArb = fc.record({
  prefix: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 3 }),
  seqlen: fc.integer({ min: 1, max: 4 }),
  rollback: fc.nat({ max: 2 }),
  batch: fc.integer({ min: 1, max: 2 }),
});
type History = typeof historyArb extends fc.Arbitrary<infer T> ? T : never;

function countLastCall(cfg: DsaConfig, h: History, seed: number): { counted: Work; shape: CallShape } {
  const rng = new Rng(seed);
  const counter = new WorkCounter();
  const layer = new ReferenceDsa(cfg, randomDsaWeights(cfg, rng), { counter });
  const B = h.batch;
  let pos = 0;
  for (const s of h.prefix) {
    layer.forward(rng.normalArray(B * s * cfg.dim), { batch: B, seqlen: s, startPos: pos });
    pos += s;
  }
  const startPos = Math.max(0, pos - h.rollback);
  counter.reset();
  layer.forward(rng.normalArray(B * h.seqlen * cfg.dim), { batch: B, seqlen: h.seqlen, startPos });
  return { counted: structuredClone(counter.terms), shape: { batch: B, seqlen: h.seqlen, startPos } };
}

function expectSameWork(counted: Work, formula: Work): void {
  for (const term of WORK_TERMS) expect({ term, ...counted[term] }).toEqual({ term, ...formula[term] });
}

describe("DSA: reference counts == closed forms, every term and field", () => {
  it("random V3.2 configs and histories (prefill, decode, startPos > 0, rollback, batch 2)", () => {
    fc.assert(
      fc.property(dsaArb, historyArb, fc.integer({ min: 1, max: 2 ** 30 }), (a, h, seed) => {
        const cfg = dsaConfig(a);
        const { counted, shape } = countLastCall(cfg, h, seed);
        expectSameWork(counted, dsaWork(cfg, shape));
        expectSameWork(counted, pathWork(cfg, "dsa", shape)); // the cost model's entry point
      }),
      { numRuns: 60 },
    );
  });

  it("enumerated edges: one head and one index head, k = 1, k = the context, k above it; decode and prefill", () => {
    const base: DsaArb = { D: 1, H: 1, Q: 1, C: 128, dn: 2, dr: 2, dv: 1, HI: 1, topk: 1, fmt: null };
    const histories: History[] = [
      { prefix: [], seqlen: 4, rollback: 0, batch: 1 }, // prefill from 0
      { prefix: [3], seqlen: 1, rollback: 0, batch: 2 }, // decode at startPos 3
      { prefix: [3, 2], seqlen: 3, rollback: 2, batch: 2 }, // a chunk after a rollback
    ];
    for (const topk of [1, 4, 5, 16])
      for (const h of histories) {
        const cfg = dsaConfig({ ...base, topk });
        const { counted, shape } = countLastCall(cfg, h, 7);
        expectSameWork(counted, dsaWork(cfg, shape));
      }
  });
});

describe("the DSA counts can fail", () => {
  const cfg = dsaConfig({ D: 5, H: 2, Q: 3, C: 128, dn: 2, dr: 2, dv: 3, HI: 2, topk: 2, fmt: "ue8m0" });
  const h: History = { prefix: [3], seqlen: 1, rollback: 0, batch: 1 };

  it("attention over all keys instead of the top k is caught (k 2 below a context of 4)", () => {
    const { counted, shape } = countLastCall(cfg, h, 3);
    expect(() => expectSameWork(counted, dsaWork({ ...cfg, index_topk: 16 }, shape))).toThrow();
  });

  it("DSA priced as dense absorbed MLA is caught", () => {
    const { counted, shape } = countLastCall(cfg, h, 3);
    expect(() => expectSameWork(counted, mlaWork(cfg, "absorbed", shape))).toThrow();
  });
});

describe("sparsePairs: sum over the visible counts v = startPos+1 .. startPos+seqlen of min(k, v)", () => {
  it("equals the sum term by term for every small case", () => {
    for (let s = 1; s <= 9; s++)
      for (let p = 0; p <= 9; p++)
        for (let k = 1; k <= 20; k++) {
          let sum = 0;
          for (let v = p + 1; v <= p + s; v++) sum += Math.min(k, v);
          expect({ s, p, k, pairs: sparsePairs(s, p, k) }).toEqual({ s, p, k, pairs: sum });
        }
  });
});

describe("DSA in the cost model", () => {
  const v32 = preset("deepseek-v3.2") as DsaConfig;

  it("the preset is config_671B_v3.2.json's indexer: 64 heads of 128, top 2048, ue8m0 scales", () => {
    expect([v32.index_n_heads, v32.index_head_dim, v32.index_topk, v32.scale_fmt]).toEqual([64, 128, 2048, "ue8m0"]);
  });

  it("an index key is 132 B per token per layer at index_head_dim 128 (128 e4m3 bytes + one float32 scale)", () => {
    expect(indexKeyBytesPerTokenPerLayer(v32)).toBe(128 + 4);
  });

  it("a decode step's cache bytes: the latent of min(2048, L) selected tokens + the new one, and L index keys + the new one", () => {
    // bf16 latent: (512 + 64) x 2 B = 1152 B per token; index key 132 B per token
    for (const L of [1, 2047, 2048, 2049, 100_000]) {
      const c = layerCost(v32, "dsa", decodeShape(L, 1), { format: "bf16" });
      expect({ L, bytes: c.cacheBytes }).toEqual({ L, bytes: 1152 * (Math.min(2048, L) + 1) + 132 * (L + 1) });
    }
  });

  it("the indexer's scoring is 2 x 64 x (128 + 1) FLOPs per cached key, its reads 132 B per cached key", () => {
    const c = layerCost(v32, "dsa", decodeShape(100_000, 1), { format: "bf16" });
    expect(c.terms.indexScores).toEqual({ flops: 2 * 100_000 * 64 * 129, bytes: 100_000 * 132, exps: 0, ranked: 0 });
    expect(c.terms.topk.ranked).toBe(100_000);
  });

  it("a prefill decompresses every cached latent and attends min(k, t + 1) keys per token", () => {
    const L = 3000, c = layerCost(v32, "dsa", prefillShape(L, 1), { format: "bf16" });
    const pairs = (2048 * 2049) / 2 + 2048 * (L - 2048);
    expect(c.terms.scores.flops).toBe(2 * pairs * 128 * 192);
    expect(c.terms.decompression.flops).toBe(2 * L * 128 * 256 * 512);
  });

  it("only a V3.2 config has the dsa path; pricing another one is a ConfigError naming index_topk", () => {
    expect(pathsOf(v32)).toContain("dsa");
    expect(pathsOf(preset("deepseek-v3"))).not.toContain("dsa");
    const err = thrown(() => layerCost(preset("deepseek-v3"), "dsa", decodeShape(10, 1), { format: "bf16" }));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).field).toBe("config.index_topk");
  });
});
