// Issue 13 item 6, the oracle: float64 overflows too (x around 1e154 squares past 1.8e308 in
// RMSNorm; 1e200 made every output NaN with no error). A call whose result is not finite throws
// NonFiniteError naming the stage (query, latent, attention, output) and leaves the cache as it
// was, on every path, with float64 rows or a LatentCache of any format.
import { describe, expect, it } from "vitest";
import { makeConfig } from "../../src/config.js";
import { NonFiniteError } from "../../src/errors.js";
import { ReferenceMla } from "../../src/reference/mla.js";
import { ReferenceMha, mhaWeightShapes } from "../../src/reference/baselines.js";
import { ReferenceSeedLowRank, seedWeightShapes } from "../../src/reference/seed-lowrank.js";
import type { AttentionLayer } from "../../src/layer.js";
import { Rng, randomMlaWeights, randomWeights } from "../../src/weights.js";
import { thrown } from "./error-helpers.js";

const base = { dim: 16, n_heads: 2, kv_lora_rank: 8, qk_nope_head_dim: 4, qk_rope_head_dim: 4, v_head_dim: 4, max_seq_len: 64, original_seq_len: 64, max_batch_size: 2 };

function state(layer: AttentionLayer) {
  return { lengths: [layer.cache.length(0), layer.cache.length(1)], bytes: layer.cache.bytesInUse(), snap: layer.cache.snapshot(2, 64) };
}

function hurt(layer: AttentionLayer, D: number, mag: number, rng: Rng): unknown {
  const x = Float64Array.from(rng.normalArray(2 * 5 * D));
  for (let i = 0; i < D; i++) x[(5 + 2) * D + i] = (i % 2 ? -1 : 1) * mag; // row 1, token 2
  return thrown(() => layer.forward(x, { batch: 2, seqlen: 5, startPos: 7 }));
}

describe("reference: overflow is a NonFiniteError and commits nothing", () => {
  for (const Q of [0, 6]) {
    const cfg = makeConfig({ ...base, q_lora_rank: Q });
    const w = randomMlaWeights(cfg, new Rng(1));
    const layers: [string, () => AttentionLayer][] = [
      ["naive", () => new ReferenceMla(cfg, w, { path: "naive" })],
      ["absorbed", () => new ReferenceMla(cfg, w, { path: "absorbed" })],
      ["recompute", () => new ReferenceMla(cfg, w, { path: "recompute" })],
      ...(["f32", "bf16", "int8"] as const).map((format): [string, () => AttentionLayer] => [`absorbed + cache ${format}`, () => new ReferenceMla(cfg, w, { path: "absorbed", cache: { format } })]),
    ];
    for (const [name, make] of layers) {
      it(`Q=${Q} ${name}: x ~ 1e154 .. 1e300 in a rollback call`, () => {
        for (const mag of [1e154, 1e200, 1e300]) {
          const rng = new Rng(4);
          const layer = make();
          const x0 = rng.normalArray(2 * 10 * cfg.dim);
          layer.forward(x0, { batch: 2, seqlen: 10, startPos: 0 });
          const before = state(layer);
          const err = hurt(layer, cfg.dim, mag, rng);
          expect(err, `magnitude ${mag}`).toBeInstanceOf(NonFiniteError);
          expect((err as NonFiniteError).field).toMatch(/^(query|latent|attention|output)\b.*\[1, 2\b/);
          expect(state(layer)).toEqual(before);
          const fresh = make();
          fresh.forward(x0, { batch: 2, seqlen: 10, startPos: 0 });
          const xt = rng.normalArray(2 * cfg.dim);
          expect(layer.forward(xt, { batch: 2, seqlen: 1, startPos: 10 })).toEqual(fresh.forward(xt, { batch: 2, seqlen: 1, startPos: 10 }));
        }
      });
    }
  }

  it("names the stage where float64 overflowed", () => {
    const cfg0 = makeConfig({ ...base, q_lora_rank: 0 }), cfgQ = makeConfig({ ...base, q_lora_rank: 6 });
    const stage = (layer: AttentionLayer, mag: number) => {
      const rng = new Rng(2);
      layer.forward(rng.normalArray(2 * 10 * layer.dim), { batch: 2, seqlen: 10, startPos: 0 });
      const before = state(layer);
      const err = hurt(layer, layer.dim, mag, rng) as NonFiniteError;
      expect(err).toBeInstanceOf(NonFiniteError);
      expect(state(layer)).toEqual(before);
      return err.field.split(/[: ]/)[0];
    };
    for (const path of ["naive", "absorbed", "recompute"] as const) {
      expect(stage(new ReferenceMla(cfgQ, randomMlaWeights(cfgQ, new Rng(1)), { path }), 1e160)).toBe("query");
      expect(stage(new ReferenceMla(cfg0, randomMlaWeights(cfg0, new Rng(1)), { path }), 1e160)).toBe("latent");
      const wq = randomMlaWeights(cfg0, new Rng(1));
      wq.wq = Float64Array.from(wq.wq!, (v) => v * 1e290);
      expect(stage(new ReferenceMla(cfg0, wq, { path }), 1e10)).toBe("attention");
      const wo = randomMlaWeights(cfg0, new Rng(1));
      wo.wo = Float64Array.from(wo.wo, (v) => Math.sign(v) * 1.7e308);
      const layer = new ReferenceMla(cfg0, wo, { path });
      const err = thrown(() => layer.forward(new Rng(3).normalArray(cfg0.dim), { batch: 1, seqlen: 1, startPos: 0 }));
      expect(err).toBeInstanceOf(NonFiniteError);
      expect((err as NonFiniteError).field).toMatch(/^output/);
      expect(layer.cache.length(0)).toBe(0);
    }
  });

  it("the baselines (MHA, seed low-rank) too", () => {
    const mha = { dim: 16, n_heads: 2, n_kv_heads: 1, head_dim: 4, v_head_dim: 4, rope_dim: 2, rope_theta: 10000, max_seq_len: 64, max_batch_size: 2, rope_layout: "interleaved" as const };
    const seed = { ...mha, rank: 2 };
    const layers: [string, () => AttentionLayer][] = [
      ["mha", () => new ReferenceMha(mha, randomWeights(mhaWeightShapes(mha), new Rng(1), []) as never)],
      ["seed", () => new ReferenceSeedLowRank(seed, randomWeights(seedWeightShapes(seed), new Rng(1), []) as never)],
    ];
    for (const [name, make] of layers) {
      const rng = new Rng(4);
      const layer = make();
      layer.forward(rng.normalArray(2 * 10 * 16), { batch: 2, seqlen: 10, startPos: 0 });
      const before = state(layer);
      const err = hurt(layer, 16, 1e300, rng);
      expect(err, name).toBeInstanceOf(NonFiniteError);
      expect(state(layer), name).toEqual(before);
    }
  });
});
