// Accuracy against memory: for each storage format, the absorbed MLA output computed over a cache
// in that format (CachedMla) against the float64 oracle (ReferenceMla, absorbed path), with the
// error bound derived in bounds.ts next to the bytes each token costs. Browser-safe (no fs): the
// caller passes parsed vector cases (src/io/mla-vectors.ts) or random cases.

import { type MlaConfig, qkHeadDim } from "../config.js";
import type { VectorCase } from "../io/mla-vectors.js";
import { calDiff, maxAbsDiff } from "../numerics.js";
import { absorbQuery, mlaCompress, mlaQuery, ReferenceMla } from "../reference/mla.js";
import { mlaSoftmaxScale, ropeFrequencies, ropeTable } from "../derived.js";
import { type MlaWeights, Rng, randomMlaWeights } from "../weights.js";
import { elementErrorBounds, latentOutputBound, outputBound } from "./bounds.js";
import { CachedMla } from "./cached-mla.js";
import { pagedAttend } from "./paged-attention.js";
import { attendRow } from "../reference/attention.js";
import { BLOCK_TOKENS, STORAGE_FORMATS, type StorageFormat, tokenLayout } from "./layout.js";

export interface AccuracyCase {
  name: string;
  config: MlaConfig;
  weights: MlaWeights;
  batch: number;
  /** Calls in order; x is [batch, seqlen, dim]. */
  calls: { x: ArrayLike<number>; startPos: number; seqlen: number }[];
}

export interface AccuracyRow {
  case: string;
  format: StorageFormat;
  /** Bytes per cached token at this case's C and dr. */
  bytesPerToken: number;
  /** Bytes per token at DeepSeek-V3's C = 512, dr = 64 (the production figure). */
  bytesPerTokenV3: number;
  /** max |y - y_oracle| over every output of every call. */
  maxAbsError: number;
  /** FlashMLA's cal_diff over all outputs (numerics.ts). */
  calDiff: number;
  /** Largest derived bound on |y - y_oracle| over the outputs. */
  maxBound: number;
  /** max over outputs of |y - y_oracle| / bound: <= 1 when the derivation holds. */
  worstRatio: number;
  /** The same at the attention output o_lat [N, H, C] (before W_uv and wo, where the bound is tightest). */
  latentWorstRatio: number;
}

export function accuracyCaseFromVectors(vc: VectorCase): AccuracyCase {
  return { name: vc.name, config: vc.config, weights: vc.weights, batch: vc.batch, calls: vc.calls.map((c) => ({ x: c.input.data, startPos: c.startPos, seqlen: c.seqlen })) };
}

/** A seeded random case: weights and inputs by the official vectors' recipe, calls of the given lengths. */
export function randomAccuracyCase(config: MlaConfig, seed: number, schedule: number[], batch = 1): AccuracyCase {
  const rng = new Rng(seed);
  const weights = randomMlaWeights(config, rng);
  let pos = 0;
  const calls = schedule.map((s) => {
    const call = { x: rng.normalArray(batch * s * config.dim), startPos: pos, seqlen: s };
    pos += s;
    return call;
  });
  return { name: `random-${seed}`, config, weights, batch, calls };
}

/** The oracle's absorbed queries and exact cache rows per call (for the bounds). */
function exactPath(k: AccuracyCase): { qLat: Float64Array[]; keys: Float64Array[][] } {
  const cfg = k.config, w = k.weights;
  const H = cfg.n_heads, C = cfg.kv_lora_rank, dn = cfg.qk_nope_head_dim, dr = cfg.qk_rope_head_dim, qk = qkHeadDim(cfg), W = C + dr;
  const freqs = ropeFrequencies(cfg);
  const hist: Float64Array[] = Array.from({ length: k.batch }, () => new Float64Array(0));
  const qLats: Float64Array[] = [], keys: Float64Array[][] = [];
  for (const call of k.calls) {
    const { startPos: p, seqlen: s } = call;
    const N = k.batch * s;
    const table = ropeTable(freqs, Array.from({ length: s }, (_, t) => p + t));
    const q = mlaQuery(cfg, w, call.x, N, s, table);
    const { c, kpe } = mlaCompress(cfg, w, call.x, N, s, table);
    const qAbs = absorbQuery(cfg, w, q, N);
    const qLat = new Float64Array(N * H * W);
    for (let r = 0; r < N * H; r++) {
      qLat.set(qAbs.subarray(r * C, (r + 1) * C), r * W);
      qLat.set(q.subarray(r * qk + dn, (r + 1) * qk), r * W + C);
    }
    for (let b = 0; b < k.batch; b++) {
      const next = new Float64Array((p + s) * W);
      next.set(hist[b].subarray(0, p * W));
      for (let t = 0; t < s; t++) {
        next.set(c.subarray((b * s + t) * C, (b * s + t + 1) * C), (p + t) * W);
        next.set(kpe.subarray((b * s + t) * dr, (b * s + t + 1) * dr), (p + t) * W + C);
      }
      hist[b] = next;
    }
    qLats.push(qLat);
    keys.push(hist.slice());
  }
  return { qLat: qLats, keys };
}

/** One row per format for one case. */
export function cacheAccuracy(k: AccuracyCase, formats: readonly StorageFormat[] = STORAGE_FORMATS): AccuracyRow[] {
  const cfg = k.config;
  const H = cfg.n_heads, C = cfg.kv_lora_rank, dr = cfg.qk_rope_head_dim, W = C + dr;
  const opts = (c: AccuracyCase["calls"][number]) => ({ batch: k.batch, seqlen: c.seqlen, startPos: c.startPos });
  const oracle = new ReferenceMla(cfg, k.weights, { path: "absorbed" });
  const yRef = k.calls.map((c) => oracle.forward(c.x, opts(c)));
  const exact = exactPath(k);
  const scale = mlaSoftmaxScale(cfg);
  const maxT = Math.max(...k.calls.map((c) => c.startPos + c.seqlen));
  return formats.map((format) => {
    const layer = new CachedMla(cfg, k.weights, { format, maxBlocks: cfg.max_batch_size * Math.ceil(maxT / BLOCK_TOKENS) });
    let maxErr = 0, maxBound = 0, worst = 0, latentWorst = 0;
    const all: number[] = [], allRef: number[] = [];
    k.calls.forEach((call, ci) => {
      const y = layer.forward(call.x, opts(call));
      const { startPos: p, seqlen: s } = call;
      const oLatB = new Float64Array(k.batch * s * H * C);
      for (let b = 0; b < k.batch; b++) {
        const keys = exact.keys[ci][b];
        const kb = new Float64Array(keys.length);
        for (let t = 0; t < p + s; t++) elementErrorBounds(format, C, dr, keys.subarray(t * W, (t + 1) * W), kb.subarray(t * W, (t + 1) * W));
        const q = exact.qLat[ci].subarray(b * s * H * W, (b + 1) * s * H * W);
        const lb = latentOutputBound({ q, keys, keyBounds: kb, s, startPos: p, H, C, dr, scale });
        oLatB.set(lb, b * s * H * C);
        // o_lat over the format's cache (paged) against o_lat over the exact keys (the oracle's attendRow)
        const got = pagedAttend(layer.cache, b, { q, s, startPos: p, heads: H, scale });
        const vals = new Float64Array((p + s) * C);
        for (let t = 0; t < p + s; t++) vals.set(keys.subarray(t * W, t * W + C), t * C);
        const want = attendRow({ q, k: keys, v: vals, s, startPos: p, hq: H, hkv: 1, dqk: W, dv: C, scale });
        for (let i = 0; i < want.length; i++) latentWorst = Math.max(latentWorst, Math.abs(got[i] - want[i]) / (lb[i] + 1e-12 * (1 + Math.abs(want[i]))));
      }
      const yB = outputBound(oLatB, k.batch * s, H, C, cfg.qk_nope_head_dim, cfg.v_head_dim, cfg.dim, k.weights.wkv_b, k.weights.wo);
      const ref = yRef[ci];
      maxErr = Math.max(maxErr, maxAbsDiff(y, ref));
      for (let i = 0; i < y.length; i++) {
        // + float64 reordering noise of two evaluations of the same sums (numerics.ts F64_REORDER_TOL reasoning, 1e-12 here: sizes <= 2^10)
        const bound = yB[i] + 1e-12 * (1 + Math.abs(ref[i]));
        maxBound = Math.max(maxBound, bound);
        worst = Math.max(worst, Math.abs(y[i] - ref[i]) / bound);
        all.push(y[i]);
        allRef.push(ref[i]);
      }
    });
    return { case: k.name, format, bytesPerToken: layer.cache.bytesPerToken(), bytesPerTokenV3: tokenLayout(format, 512, 64).bytesPerToken, maxAbsError: maxErr, calDiff: calDiff(all, allRef), maxBound, worstRatio: worst, latentWorstRatio: latentWorst };
  });
}

/** The whole table: every case x every format. */
export function cacheAccuracyTable(cases: readonly AccuracyCase[], formats: readonly StorageFormat[] = STORAGE_FORMATS): AccuracyRow[] {
  return cases.flatMap((k) => cacheAccuracy(k, formats));
}

/** Markdown rendering of the table. */
export function formatAccuracyTable(rows: readonly AccuracyRow[]): string {
  const e = (x: number) => x.toExponential(2);
  const lines = ["| case | format | bytes/token | bytes/token (V3) | max abs error | cal_diff | max bound | error/bound | o_lat error/bound |", "|---|---|---|---|---|---|---|---|---|"];
  for (const r of rows) lines.push(`| ${r.case} | ${r.format} | ${r.bytesPerToken} | ${r.bytesPerTokenV3} | ${e(r.maxAbsError)} | ${e(r.calDiff)} | ${e(r.maxBound)} | ${r.worstRatio.toFixed(3)} | ${r.latentWorstRatio.toFixed(3)} |`);
  return lines.join("\n");
}
