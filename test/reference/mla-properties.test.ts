// Properties of the float64 MLA oracle on random configs and inputs.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { MlaConfig } from "../../src/config.js";
import { closeF64, F64_REORDER_TOL, firstMismatch } from "../../src/numerics.js";
import { attendRow } from "../../src/reference/attention.js";
import { linear } from "../../src/reference/linear.js";
import { type MlaPath, ReferenceMla, mlaDecompress, mlaQuery, naiveKeys } from "../../src/reference/mla.js";
import { callRopeTable, ropeTable } from "../../src/derived.js";
import { interleavedToHalf } from "../../src/reference/rope.js";
import { type MlaWeights, Rng, randomMlaWeights } from "../../src/weights.js";
import { mlaConfigArb, scheduleArb, seedArb } from "../support/arb.js";

const RUNS = { numRuns: 100 };

/** Run a schedule of calls (first at startPos 0) through a fresh layer; outputs concatenated per call. */
function runSchedule(cfg: MlaConfig, w: MlaWeights, path: MlaPath, batch: number, schedule: number[], xs: Float32Array[]) {
  const layer = new ReferenceMla(cfg, w, { path });
  let pos = 0;
  const outs = schedule.map((s, i) => {
    const y = layer.forward(xs[i], { batch, seqlen: s, startPos: pos });
    pos += s;
    return y;
  });
  return { layer, outs };
}

/** The same B*T tokens, split into per-call inputs [B, s, D] of the schedule. */
function splitTokens(all: Float32Array, batch: number, T: number, D: number, schedule: number[]): Float32Array[] {
  const out: Float32Array[] = [];
  let t0 = 0;
  for (const s of schedule) {
    const x = new Float32Array(batch * s * D);
    for (let b = 0; b < batch; b++) x.set(all.subarray((b * T + t0) * D, (b * T + t0 + s) * D), b * s * D);
    out.push(x);
    t0 += s;
  }
  return out;
}

/** Per-call outputs [B, s, D] reassembled into [B, T, D]. */
function joinTokens(outs: Float64Array[], batch: number, T: number, D: number, schedule: number[]): Float64Array {
  const y = new Float64Array(batch * T * D);
  let t0 = 0;
  schedule.forEach((s, i) => {
    for (let b = 0; b < batch; b++) y.set(outs[i].subarray(b * s * D, (b + 1) * s * D), (b * T + t0) * D);
    t0 += s;
  });
  return y;
}

const caseArb = fc.record({ cfg: mlaConfigArb, schedule: scheduleArb, seed: seedArb, batchPick: fc.nat() });

type Case = { cfg: MlaConfig; schedule: number[]; seed: number; batchPick: number };

function setup({ cfg, schedule, seed, batchPick }: Case) {
  const rng = new Rng(seed);
  const w = randomMlaWeights(cfg, rng);
  const batch = 1 + (batchPick % cfg.max_batch_size);
  const T = schedule.reduce((a, b) => a + b, 0);
  const all = rng.normalArray(batch * T * cfg.dim);
  return { rng, w, batch, T, all, xs: splitTokens(all, batch, T, cfg.dim, schedule) };
}

describe("MLA oracle properties", () => {
  it("absorbed == naive == recompute, every call, any schedule (startPos > 0, multi-token calls)", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { w, batch, xs } = setup(c);
        const naive = runSchedule(c.cfg, w, "naive", batch, c.schedule, xs).outs;
        for (const path of ["absorbed", "recompute"] as const) {
          const other = runSchedule(c.cfg, w, path, batch, c.schedule, xs).outs;
          other.forEach((y, i) => expect(closeF64(y, naive[i]), `${path} call ${i}`).toBe(true));
        }
      }),
      RUNS,
    );
  });

  it("a prefill of n tokens == a prefill of k then any continuation (single decodes included)", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { w, batch, T, all } = setup(c);
        const D = c.cfg.dim;
        const whole = runSchedule(c.cfg, w, "absorbed", batch, [T], [all]).outs[0];
        const k = c.schedule[0];
        const decodes = [k, ...Array.from({ length: T - k }, () => 1)];
        const pieces = runSchedule(c.cfg, w, "naive", batch, decodes, splitTokens(all, batch, T, D, decodes)).outs;
        expect(closeF64(joinTokens(pieces, batch, T, D, decodes), whole)).toBe(true);
      }),
      RUNS,
    );
  });

  it("half rope layout with correspondingly permuted q_pe/k_pe weight rows == interleaved", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const cfg = { ...c.cfg, rope_layout: "interleaved" as const };
        const { w, batch, xs } = setup({ ...c, cfg });
        const half = { ...cfg, rope_layout: "half" as const };
        const H = cfg.n_heads, dn = cfg.qk_nope_head_dim, dr = cfg.qk_rope_head_dim, C = cfg.kv_lora_rank, qk = dn + dr;
        const map = interleavedToHalf(dr);
        // Move row (base + j) of a [rows, n] matrix to (base + map[j]) for every rope block.
        const permuteRows = (W: ArrayLike<number>, n: number, bases: number[]) => {
          const out = Float32Array.from(W);
          for (const base of bases) for (let j = 0; j < dr; j++) out.set(Array.prototype.slice.call(W, (base + j) * n, (base + j + 1) * n), (base + map[j]) * n);
          return out;
        };
        const qBases = Array.from({ length: H }, (_, h) => h * qk + dn);
        const wHalf: MlaWeights = { ...w, wkv_a: permuteRows(w.wkv_a, cfg.dim, [C]) };
        if (cfg.q_lora_rank === 0) wHalf.wq = permuteRows(w.wq!, cfg.dim, qBases);
        else wHalf.wq_b = permuteRows(w.wq_b!, cfg.q_lora_rank, qBases);
        const a = runSchedule(cfg, w, "absorbed", batch, c.schedule, xs);
        const b = runSchedule(half, wHalf, "absorbed", batch, c.schedule, xs);
        b.outs.forEach((y, i) => expect(closeF64(y, a.outs[i])).toBe(true));
        // The caches hold the same rope key, in permuted order.
        const T = c.schedule.reduce((x, y) => x + y, 0);
        const pa = a.layer.cache.snapshot(batch, T).pe_cache.data, pb = b.layer.cache.snapshot(batch, T).pe_cache.data;
        for (let r = 0; r < batch * T; r++) for (let j = 0; j < dr; j++) expect(Math.abs(pb[r * dr + map[j]] - pa[r * dr + j])).toBeLessThanOrEqual(F64_REORDER_TOL);
      }),
      RUNS,
    );
  });

  it("MLA (absorbed) == standard multi-head attention over the K/V materialised from its latent cache", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { w, batch, T, all } = setup(c);
        const cfg = c.cfg, D = cfg.dim, H = cfg.n_heads, dn = cfg.qk_nope_head_dim, dr = cfg.qk_rope_head_dim, dv = cfg.v_head_dim, qk = dn + dr;
        const { layer, outs } = runSchedule(cfg, w, "absorbed", batch, [T], [all]);
        const snap = layer.cache.snapshot(batch, T);
        // Materialise K = [wkv_b_K c | k_pe] and V = wkv_b_V c for every cached token, then plain MHA.
        const { kNope, v } = mlaDecompress(cfg, w, snap.kv_cache.data, batch * T);
        const k = naiveKeys(cfg, kNope, snap.pe_cache.data, batch * T);
        const table = callRopeTable(cfg, layer.freqs, 0, T);
        const q = mlaQuery(cfg, w, all, batch * T, T, table);
        const o = new Float64Array(batch * T * H * dv);
        for (let b = 0; b < batch; b++) {
          o.set(
            attendRow({ q: q.subarray(b * T * H * qk, (b + 1) * T * H * qk), k: k.subarray(b * T * H * qk), v: v.subarray(b * T * H * dv), s: T, startPos: 0, hq: H, hkv: H, dqk: qk, dv, scale: layer.softmaxScale }),
            b * T * H * dv,
          );
        }
        const y = linear(o, batch * T, w.wo, D, H * dv);
        expect(firstMismatch(outs[0], y, F64_REORDER_TOL, F64_REORDER_TOL)).toBe(-1);
      }),
      RUNS,
    );
  });

  it("rolling back (startPos below the cached length) == a fresh run of the kept prefix plus the new tokens", () => {
    fc.assert(
      fc.property(caseArb, fc.nat(), (c, cut) => {
        const { w, batch, T, all } = setup(c);
        const D = c.cfg.dim;
        const keep = cut % T; // 0..T-1 tokens kept
        const layer = new ReferenceMla(c.cfg, w, { path: "absorbed" });
        layer.forward(all, { batch, seqlen: T, startPos: 0 });
        const rng = new Rng(c.seed ^ 0x5bd1e995);
        const fresh = rng.normalArray(batch * D);
        const y = layer.forward(fresh, { batch, seqlen: 1, startPos: keep });
        expect(layer.cache.length(0)).toBe(keep + 1);
        const ref = new ReferenceMla(c.cfg, w, { path: "absorbed" });
        if (keep > 0) ref.forward(splitTokens(all, batch, T, D, [keep, T - keep])[0], { batch, seqlen: keep, startPos: 0 });
        expect(closeF64(y, ref.forward(fresh, { batch, seqlen: 1, startPos: keep }))).toBe(true);
      }),
      RUNS,
    );
  });

  it("batch rows are independent: row b of a batched call == the same row alone", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const cfg = { ...c.cfg, max_batch_size: 3 };
        const { w, T, all } = setup({ ...c, cfg, batchPick: 2 }); // batch 3
        const D = cfg.dim;
        const batched = runSchedule(cfg, w, "absorbed", 3, [T], [all]).outs[0];
        for (let b = 0; b < 3; b++) {
          const alone = runSchedule(cfg, w, "absorbed", 1, [T], [all.slice(b * T * D, (b + 1) * T * D)]).outs[0];
          expect(closeF64(batched.subarray(b * T * D, (b + 1) * T * D), alone)).toBe(true);
        }
      }),
      { numRuns: 20 },
    );
  });
});
