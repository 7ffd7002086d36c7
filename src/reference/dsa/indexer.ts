// DeepSeek-V3.2's lightning indexer, float64, as inference/model.py class Indexer computes it
// (DeepSeek-V3.2-Exp 87e509a, after the 2025-11-17 "fix indexer rope"), one short function per
// step of vectors/deepseek-v3.2-dsa/README.md "Semantics" 2. The bf16/FP8 steps are quant.ts's
// and hadamard.ts's; everything here is exact float64 arithmetic.
//
// Work is counted (src/work-terms.ts) under "indexer" (the three projections' madds and weight
// reads) and "indexScores" (the scores' madds). LayerNorm, RoPE, the Hadamard rotation, act_quant and the
// elementwise scalings are O(width) or O(width log width) per row and are not counted, as RMSNorm
// and RoPE are not elsewhere.
//
// Shapes: N = B*s rows (row r is token r % s of batch row floor(r / s)), D dim, Q q_lora_rank,
// HI index_n_heads, DI index_head_dim (128), dr qk_rope_head_dim, T cached keys.

import type { DsaConfig } from "../../config.js";
import { deriveDsa } from "../../derived.js";
import type { IndexerWeights } from "../../io/dsa-weights.js";
import { type Counter, NO_COUNT } from "../counter.js";
import { linear } from "../linear.js";
import { applyRope } from "../rope.js";
import { checkNormInput, layerNorm } from "./layernorm.js";

type RopeTable = { cos: Float64Array; sin: Float64Array };

/** One RoPE application on x[off .. off+dr) with the angles of table row `row`. */
export type IndexerRope = (x: Float64Array, off: number, dr: number, table: RopeTable, row: number) => void;

/**
 * The indexer's RoPE: NON-interleaved pairs (i, i + dr/2) of the first dr dims, with the same
 * cos/sin table as MLA (model.py apply_rotary_emb(x, freqs_cis, interleaved=False); MLA's own
 * q_pe/k_pe stay interleaved). The code before 2025-11-17 interleaved here.
 */
export const indexerRope: IndexerRope = (x, off, dr, table, row) => applyRope(x, off, dr, table, row, "half");

/** q = wq_b(qr): qr [N, Q] -> [N, HI, DI]; RoPE on each head's FIRST dr dims (q = cat(rope(q_pe), q_nope)). */
export function indexerQuery(cfg: DsaConfig, w: IndexerWeights, qr: ArrayLike<number>, N: number, s: number, table: RopeTable, rope: IndexerRope = indexerRope, count: Counter = NO_COUNT): Float64Array {
  const HI = cfg.index_n_heads, DI = cfg.index_head_dim, dr = cfg.qk_rope_head_dim;
  const q = linear(qr, N, w.wq_b, HI * DI, cfg.q_lora_rank, count, "indexer"); // [N, HI*DI]
  for (let r = 0; r < N; r++) for (let h = 0; h < HI; h++) rope(q, (r * HI + h) * DI, dr, table, r % s);
  return q;
}

/** k = k_norm(wk(x)): x [N, D] -> [N, DI] (LayerNorm with bias), RoPE on its first dr dims. One key per token for all index heads. */
export function indexerKey(cfg: DsaConfig, w: IndexerWeights, x: ArrayLike<number>, N: number, s: number, table: RopeTable, rope: IndexerRope = indexerRope, count: Counter = NO_COUNT): Float64Array {
  const DI = cfg.index_head_dim, dr = cfg.qk_rope_head_dim;
  const wk = linear(x, N, w.wk, DI, cfg.dim, count, "indexer"); // [N, DI]
  checkNormInput("indexer: wk(x)", wk, N, DI);
  const k = layerNorm(wk, N, DI, w.k_norm, w.k_norm_bias); // [N, DI]
  for (let r = 0; r < N; r++) rope(k, r * DI, dr, table, r % s);
  return k;
}

/**
 * The per-head weights fp8_index takes as q_s: w = weights_proj(x) * HI^-0.5, then w * q_scale *
 * DI^-0.5 per head. x [N, D], qScale [N, HI] (act_quant's scale of each query head) -> [N, HI].
 * weights_proj is float32 in model.py, applied to x.float() (no bf16 step): plain float64 here.
 */
export function indexerWeights(cfg: DsaConfig, w: IndexerWeights, x: ArrayLike<number>, N: number, qScale: ArrayLike<number>, count: Counter = NO_COUNT): Float64Array {
  const { HI, weightsScale, indexSoftmaxScale } = deriveDsa(cfg);
  const wts = linear(x, N, w.weights_proj, HI, cfg.dim, count, "indexer"); // [N, HI]
  for (let i = 0; i < N * HI; i++) wts[i] = wts[i] * weightsScale * qScale[i] * indexSoftmaxScale;
  return wts;
}

/** ReLU, the index score's activation on each head's q . k (kernel.py fp8_index: `T.max(logits, 0)`). */
export const relu = (v: number): number => Math.max(v, 0);

/**
 * fp8_index for one batch row: score[m, n] = ks[n] * sum_h w[m, h] * relu(q8[m, h] . k8[n]) for the
 * s query rows m and all T cached keys n (before any mask). q8 [s, HI, DI] and k8 [T, DI] are e4m3
 * values (their dot products are exact in float64), w [s, HI], ks [T] (one scale per key: DI = 128).
 * Returns [s, T]. Counts DI + 1 madds per (row, key, head): the dot product and the head weight.
 */
export function indexScores(q8: ArrayLike<number>, w: ArrayLike<number>, k8: ArrayLike<number>, ks: ArrayLike<number>, s: number, T: number, HI: number, DI: number, activation: (v: number) => number = relu, count: Counter = NO_COUNT): Float64Array {
  const out = new Float64Array(s * T);
  let madds = 0;
  for (let m = 0; m < s; m++) {
    for (let n = 0; n < T; n++) {
      let sum = 0;
      for (let h = 0; h < HI; h++) {
        const qo = (m * HI + h) * DI, ko = n * DI;
        let dot = 0;
        for (let d = 0; d < DI; d++) dot += q8[qo + d] * k8[ko + d];
        sum += w[m * HI + h] * activation(dot);
        madds += DI + 1;
      }
      out[m * T + n] = ks[n] * sum;
    }
  }
  count.add("indexScores", "madds", madds);
  return out;
}
