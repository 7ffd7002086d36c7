// The float64 oracle of a DeepSeek-V3.2 layer CONDITIONED on another layer's discrete decisions.
//
// A float32 backend rounds to bf16 and FP8 at the same places as the oracle, and where a float32
// value lies within its rounding error of a bf16 boundary the two sides may round to
// neighbouring values; such a flip moves everything after it by more than float32 rounding, so
// outputs cannot be compared at a float32 tolerance directly. Here the oracle's steps that produce
// a quantised value (the latent's FP8 simulation, rotate_activation of the indexer's q and k, the
// head weights, the selection, pe_cache) take the backend's values from its trace, after checking
//   - each bf16 value against the oracle's unrounded one: |got - ref| <= ulp_bf16 + 2^-12 * (the
//     row's max |ref|) — a float32 value before rounding is the oracle's plus a few hundred
//     u = 2^-24 of its row's scale (kit-sized inner lengths, norms dividing by the row's rms),
//     far under 2^-12, while a real bug (a wrong RoPE pairing, a missing norm) moves values by
//     O(the row's max); near zero (a cancellation) a value may round by many of its own ulps;
//   - each visible index score against the exact float64 score of the same quantised inputs,
//     within indexScoreBound, and each selection against the exact selection by topkSetsAgree;
// and everything after them differs by float32 arithmetic only.

import type { DsaConfig } from "../config.js";
import type { DsaWeights } from "../io/dsa-weights.js";
import { indexScoreBound, topkSetsAgree } from "../dsa-numerics.js";
import { type DsaSteps, type DsaTrace, ReferenceDsa } from "../reference/dsa/layer.js";
import { topkRow } from "../reference/dsa/topk.js";

/** One call of a schedule as the backend ran it: its input, size, position, and trace. */
export interface TracedCall {
  x: ArrayLike<number>;
  batch: number;
  seqlen: number;
  startPos: number;
  trace: DsaTrace;
}

/** The first element of got [rows, row] outside the bf16 rounding of float32 error around ref (see the file comment), or -1. */
export function firstOutsideBf16Rounding(got: ArrayLike<number>, ref: ArrayLike<number>, row: number): number {
  if (got.length !== ref.length) return 0;
  for (let r0 = 0; r0 < ref.length; r0 += row) {
    let rowMax = 0;
    for (let i = r0; i < r0 + row; i++) rowMax = Math.max(rowMax, Math.abs(ref[i]));
    for (let i = r0; i < r0 + row; i++) {
      const a = got[i], b = ref[i];
      if (a === b) continue;
      const m = Math.max(Math.abs(a), Math.abs(b));
      const ulp = 2 ** (Math.max(Math.floor(Math.log2(m)), -126) - 7);
      if (!(Math.abs(a - b) <= ulp + 2 ** -12 * rowMax)) return i;
    }
  }
  return -1;
}

/** Keys each batch row has cached so far (e4m3 values [T, DI], scales [T]), from the traces. */
interface KeyHistory {
  k8: number[][];
  ks: number[][];
}

function appendKeys(cfg: DsaConfig, h: KeyHistory, c: TracedCall): void {
  const DI = cfg.index_head_dim, s = c.seqlen;
  for (let b = 0; b < c.batch; b++) {
    (h.k8[b] ??= []).push(...c.trace.indexer.k_fp8.subarray(b * s * DI, (b + 1) * s * DI));
    (h.ks[b] ??= []).push(...c.trace.indexer.k_scale.subarray(b * s, (b + 1) * s));
  }
}

/**
 * The oracle's steps for one call, taking the backend's trace `t` of it; each check that fails
 * pushes a sentence to `problems`. pe_cache takes the backend's k_pe too (a bf16 record rounds
 * it; a float32 one differs by float32 error, well inside the same check).
 */
export function conditionedSteps(cfg: DsaConfig, t: DsaTrace, keys: KeyHistory, problems: string[], where: string): Partial<DsaSteps> {
  const HI = cfg.index_n_heads, DI = cfg.index_head_dim;
  let rotations = 0, row = 0;
  const near = (name: string, got: ArrayLike<number>, ref: ArrayLike<number>, width: number) => {
    const i = firstOutsideBf16Rounding(got, ref, width);
    if (i >= 0) problems.push(`${where} ${name}[${i}]: backend ${got[i]}, oracle before rounding ${ref[i]} (beyond bf16 rounding of float32 error)`);
  };
  return {
    simulateKvFp8: (c) => {
      near("kv_quant.input_bf16", t.kv_quant.input_bf16, c, cfg.kv_lora_rank);
      return { input_bf16: t.kv_quant.input_bf16, quant: { values: t.kv_quant.fp8, codes: t.kv_quant.codes, scales: t.kv_quant.scale }, dequantized: t.kv };
    },
    rotateActivation: (x) => {
      const q = rotations++ === 0; // model.py rotates q, then k
      near(q ? "indexer.q_bf16" : "indexer.k_bf16", q ? t.indexer.q_bf16 : t.indexer.k_bf16, x, DI);
      return q ? { input: t.indexer.q_bf16, rotated: t.indexer.q_rot } : { input: t.indexer.k_bf16, rotated: t.indexer.k_rot };
    },
    indexerWeights: () => t.indexer.weights,
    peCache: (kpe) => {
      near("pe_cache", t.k_pe, kpe, cfg.qk_rope_head_dim);
      return t.k_pe;
    },
    selectTopk: (scores, off, visible, end, k) => {
      const r = row++, b = Math.floor(r / t.seqlen), m = r % t.seqlen;
      const q8 = t.indexer.q_fp8.subarray(r * HI * DI, (r + 1) * HI * DI), w = t.indexer.weights.subarray(r * HI, (r + 1) * HI);
      const bound = indexScoreBound(q8, 0, w, 0, keys.k8[b], keys.ks[b], end, HI, DI, scores, off);
      const ours = t.indexer.topk_indices.subarray(r * k, (r + 1) * k);
      for (let j = 0; j < visible; j++) {
        const d = Math.abs(t.indexer.index_score[r * end + j] - scores[off + j]);
        if (!(d <= bound[j])) {
          problems.push(`${where} index score [${b}, ${m}, ${j}]: backend ${t.indexer.index_score[r * end + j]}, float64 ${scores[off + j]} on the same inputs, beyond the float32 bound ${bound[j]}`);
          break;
        }
      }
      const agree = topkSetsAgree(scores, off, visible, k, ours, topkRow(scores, off, visible, k), bound);
      if (!agree.agree) problems.push(`${where} top-k row ${r}: ${agree.reason}`);
      return Int32Array.from(ours);
    },
  };
}

/**
 * A fresh oracle through every call of `calls`, each conditioned on the backend's trace of it
 * (checks of the last call only go to `problems`: earlier ones were checked when they were last).
 * Returns the last call's output and the oracle (for its cache snapshot).
 */
export function runConditioned(cfg: DsaConfig, w: DsaWeights, calls: readonly TracedCall[], problems: string[]): { output: Float64Array; layer: ReferenceDsa } {
  let current: Partial<DsaSteps> = {};
  const steps: Partial<DsaSteps> = {
    simulateKvFp8: (...a) => current.simulateKvFp8!(...a),
    rotateActivation: (...a) => current.rotateActivation!(...a),
    indexerWeights: (...a) => current.indexerWeights!(...a),
    peCache: (...a) => current.peCache!(...a),
    selectTopk: (...a) => current.selectTopk!(...a),
  };
  const layer = new ReferenceDsa(cfg, w, { steps });
  const keys: KeyHistory = { k8: [], ks: [] };
  let output = new Float64Array(0);
  calls.forEach((c, i) => {
    appendKeys(cfg, keys, c);
    current = conditionedSteps(cfg, c.trace, keys, i === calls.length - 1 ? problems : [], `call ${i} (startPos ${c.startPos}, seqlen ${c.seqlen})`);
    output = Float64Array.from(layer.forward(c.x, { batch: c.batch, seqlen: c.seqlen, startPos: c.startPos }));
  });
  return { output, layer };
}
