// Accuracy against memory: for each storage format of the latent cache (src/cache), the absorbed
// MLA output computed over a cache in that format (the oracle with options.cache) against the
// float64 oracle (ReferenceMla, absorbed path), with a bound derived from the format's element
// error (src/cache/bounds.ts) propagated through attention, W_uv and wo (below), next to the
// bytes each token costs. Browser-safe (no fs): the caller passes parsed vector cases
// (src/io/mla-vectors.ts) or random cases.

import { type MlaConfig } from "../config.js";
import { mlaSoftmaxScale, ropeFrequencies, callRopeTable } from "../derived.js";
import type { VectorCase } from "../io/mla-vectors.js";
import { calDiff, maxAbsDiff } from "../numerics.js";
import { attendRow } from "../reference/attention.js";
import { ReferenceMla, latentQuery, mlaQuery } from "../reference/mla.js";
import { pagedAttend } from "../reference/paged-attention.js";
import { type MlaWeights, Rng, randomMlaWeights } from "../weights.js";
import { elementErrorBounds } from "../cache/bounds.js";
import { BLOCK_TOKENS, STORAGE_FORMATS, type StorageFormat, tokenLayout } from "../cache/layout.js";

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

// ---------------------------------------------------------------------------------------------
// Propagation of the element bounds (docs/cache.md has the derivations)

export interface OutputBoundArgs {
  /** Absorbed queries of one batch row [s, H, C+dr]. */
  q: ArrayLike<number>;
  /** Exact keys [T, C+dr] (c | k_pe) of that row, T = startPos + s. */
  keys: ArrayLike<number>;
  /** elementErrorBounds of every key row [T, C+dr]. */
  keyBounds: ArrayLike<number>;
  s: number;
  startPos: number;
  H: number;
  C: number;
  dr: number;
  scale: number;
}

/**
 * Bound on |o_lat' - o_lat| [s, H, C] when every cached element moves by at most its bound.
 * Scores move by |ds_j| <= D = scale * max_j sum_d |q_d| b_jd; softmax then gives
 * p'_j / p_j in [e^-2D, e^2D], so |p'_j - p_j| <= p_j (e^2D - 1); with o = sum_j p_j c_j:
 * |do_i| <= (e^2D - 1) sum_j p_j |c_ji| + max_j b_ji.
 */
export function latentOutputBound(a: OutputBoundArgs): Float64Array {
  const { q, keys, keyBounds, s, startPos, H, C, dr, scale } = a;
  const W = C + dr;
  const out = new Float64Array(s * H * C);
  const p = new Float64Array(startPos + s);
  for (let t = 0; t < s; t++) {
    const n = startPos + t + 1;
    for (let h = 0; h < H; h++) {
      const qo = (t * H + h) * W;
      let D = 0, max = -Infinity;
      for (let j = 0; j < n; j++) {
        let dot = 0, db = 0;
        for (let d = 0; d < W; d++) {
          dot += q[qo + d] * keys[j * W + d];
          db += Math.abs(q[qo + d]) * keyBounds[j * W + d];
        }
        p[j] = dot * scale;
        max = Math.max(max, p[j]);
        D = Math.max(D, db * Math.abs(scale));
      }
      let sum = 0;
      for (let j = 0; j < n; j++) sum += p[j] = Math.exp(p[j] - max);
      const grow = Math.expm1(2 * D);
      for (let i = 0; i < C; i++) {
        let mean = 0, bmax = 0;
        for (let j = 0; j < n; j++) {
          mean += (p[j] / sum) * Math.abs(keys[j * W + i]);
          bmax = Math.max(bmax, keyBounds[j * W + i]);
        }
        out[(t * H + h) * C + i] = grow * mean * (1 + 1e-12) + bmax;
      }
    }
  }
  return out;
}

/** Propagate a bound on o_lat [N, H, C] through o = o_lat W_uv^T and y = o wo^T with |W| elementwise: [N, D]. */
export function outputBound(oLatBound: ArrayLike<number>, N: number, H: number, C: number, dn: number, dv: number, D: number, wkvB: ArrayLike<number>, wo: ArrayLike<number>): Float64Array {
  const oB = new Float64Array(N * H * dv);
  for (let r = 0; r < N; r++)
    for (let h = 0; h < H; h++)
      for (let v = 0; v < dv; v++) {
        const wRow = (h * (dn + dv) + dn + v) * C;
        let acc = 0;
        for (let i = 0; i < C; i++) acc += Math.abs(wkvB[wRow + i]) * oLatBound[(r * H + h) * C + i];
        oB[(r * H + h) * dv + v] = acc;
      }
  const y = new Float64Array(N * D);
  for (let r = 0; r < N; r++)
    for (let d = 0; d < D; d++) {
      let acc = 0;
      for (let k = 0; k < H * dv; k++) acc += Math.abs(wo[d * H * dv + k]) * oB[r * H * dv + k];
      y[r * D + d] = acc;
    }
  return y;
}

// ---------------------------------------------------------------------------------------------
// The table

/** Per call: the oracle's output, its absorbed queries [B*s, H, C+dr] and exact latent keys [T, C+dr] per batch row. */
interface ExactCall {
  y: Float64Array;
  qLat: Float64Array;
  keys: Float64Array[];
}

/** Runs the oracle over the case; the keys are its own cache (kv_cache | pe_cache, float64), the queries its step functions'. */
function exactCalls(k: AccuracyCase): ExactCall[] {
  const cfg = k.config, w = k.weights;
  const C = cfg.kv_lora_rank, dr = cfg.qk_rope_head_dim, W = C + dr;
  const oracle = new ReferenceMla(cfg, w, { path: "absorbed" });
  const freqs = ropeFrequencies(cfg);
  return k.calls.map((call) => {
    const { startPos: p, seqlen: s } = call;
    const N = k.batch * s, T = p + s;
    const y = oracle.forward(call.x, { batch: k.batch, seqlen: s, startPos: p });
    const table = callRopeTable(cfg, freqs, p, s);
    const qLat = latentQuery(cfg, w, mlaQuery(cfg, w, call.x, N, s, table), N);
    const { kv_cache: kv, pe_cache: pe } = oracle.cache.snapshot(k.batch, T); // [B, T, C], [B, T, dr]
    const keys = Array.from({ length: k.batch }, (_, b) => {
      const rows = new Float64Array(T * W);
      for (let t = 0; t < T; t++) {
        rows.set(kv.data.subarray((b * T + t) * C, (b * T + t + 1) * C), t * W);
        rows.set(pe.data.subarray((b * T + t) * dr, (b * T + t + 1) * dr), t * W + C);
      }
      return rows;
    });
    return { y, qLat, keys };
  });
}

/** One row per format for one case. */
export function cacheAccuracy(k: AccuracyCase, formats: readonly StorageFormat[] = STORAGE_FORMATS): AccuracyRow[] {
  const cfg = k.config;
  const H = cfg.n_heads, C = cfg.kv_lora_rank, dr = cfg.qk_rope_head_dim, W = C + dr;
  const exact = exactCalls(k);
  const scale = mlaSoftmaxScale(cfg);
  const maxT = Math.max(...k.calls.map((c) => c.startPos + c.seqlen));
  return formats.map((format) => {
    const layer = new ReferenceMla(cfg, k.weights, { path: "absorbed", cache: { format, maxBlocks: cfg.max_batch_size * Math.ceil(maxT / BLOCK_TOKENS) } });
    let maxErr = 0, maxBound = 0, worst = 0, latentWorst = 0;
    const all: number[] = [], allRef: number[] = [];
    k.calls.forEach((call, ci) => {
      const y = layer.forward(call.x, { batch: k.batch, seqlen: call.seqlen, startPos: call.startPos });
      const { startPos: p, seqlen: s } = call;
      const oLatB = new Float64Array(k.batch * s * H * C);
      for (let b = 0; b < k.batch; b++) {
        const keys = exact[ci].keys[b];
        const kb = new Float64Array(keys.length);
        for (let t = 0; t < p + s; t++) elementErrorBounds(format, C, dr, keys.subarray(t * W, (t + 1) * W), kb.subarray(t * W, (t + 1) * W));
        const q = exact[ci].qLat.subarray(b * s * H * W, (b + 1) * s * H * W);
        const lb = latentOutputBound({ q, keys, keyBounds: kb, s, startPos: p, H, C, dr, scale });
        oLatB.set(lb, b * s * H * C);
        // o_lat over the format's cache (paged) against o_lat over the exact keys
        const got = pagedAttend(layer.cache, b, { q, s, startPos: p, heads: H, scale });
        const vals = new Float64Array((p + s) * C);
        for (let t = 0; t < p + s; t++) vals.set(keys.subarray(t * W, t * W + C), t * C);
        const want = attendRow({ q, k: keys, v: vals, s, startPos: p, hq: H, hkv: 1, dqk: W, dv: C, scale });
        for (let i = 0; i < want.length; i++) latentWorst = Math.max(latentWorst, Math.abs(got[i] - want[i]) / (lb[i] + 1e-12 * (1 + Math.abs(want[i]))));
      }
      const yB = outputBound(oLatB, k.batch * s, H, C, cfg.qk_nope_head_dim, cfg.v_head_dim, cfg.dim, k.weights.wkv_b, k.weights.wo);
      const ref = exact[ci].y;
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
