// DeepSeek-V3.2's attention layer (MLA + DeepSeek Sparse Attention), float64, as inference/model.py
// class MLA computes it with its Indexer (DeepSeek-V3.2-Exp 87e509a): the V3 MLA steps of mla.ts,
// the FP8 KV-cache simulation of the latent, the indexer's scores, top-k under the causal mask, and
// attention over the selected keys only (a multi-token call in MHA form over the decompressed
// latents, a one-token call absorbed). vectors/deepseek-v3.2-dsa/README.md is the spec.
//
// Every step that can be got wrong is a named function in DSA_STEPS, and a layer can be built with
// some of them replaced (options.steps): the tests run the README's bug variants that way.
// forwardTrace returns every intermediate the vectors dump.
//
// Work is counted (options.counter) per term of src/work-terms.ts, where it happens: MLA's terms as
// in mla.ts, the indexer's projections and index key writes under "indexer", its scores and index
// key reads under "indexScores", the selection under "topk" (one `ranked` per visible score of a
// row), and attention over the selected keys only.
//
// Generalisation (as mlakit's MLA): the official code allows a multi-token call only at
// start_pos 0 (its masks are [s, s]); here a call of s tokens at any startPos p scores all p + s
// cached keys, token t sees keys 0..p+t (the causal mask before and after top-k), and
// topk_k = min(index_topk, p + s). At p = 0 this is the official prefill exactly.
//
// Shapes: B batch, s new tokens, N = B*s, p startPos, T = p + s keys, K = min(index_topk, T),
// H heads, C kv_lora_rank, dn/dr/dv head dims, qk = dn + dr, HI/DI indexer heads/dim.

import { type DsaConfig, type MlaConfig, type ScaleFmt, isDsaConfig, validateConfig } from "../../config.js";
import { ConfigError } from "../../errors.js";
import { type AttentionLayer, type ForwardOptions, ForwardGate, beginForward, checkFinite } from "../../layer.js";
import { type DsaWeights, checkDsaWeights } from "../../io/dsa-weights.js";
import type { MlaWeights } from "../../weights.js";
import { ACT_QUANT_BLOCK, callRopeTable, dsaTopkK, mlaSoftmaxScale, ropeFrequencies } from "../../derived.js";
import { attendRow } from "../attention.js";
import { type Counter, NO_COUNT } from "../counter.js";
import { linear } from "../linear.js";
import { absorbOutput, latentKeys, latentQuery, mlaCompress, mlaDecompress, mlaQuery, naiveKeys } from "../mla.js";
import { rmsNorm } from "../rmsnorm.js";
import { RowCache } from "../row-cache.js";
import { type IndexerRope, indexScores, indexerKey, indexerQuery, indexerRope, indexerWeights, relu } from "./indexer.js";
import { rotateActivation } from "./hadamard.js";
import { type ActQuantized, actQuant, bf16Array, dequantize } from "./quant.js";
import { topkRow } from "./topk.js";
import { checkNormInput } from "./layernorm.js";

type RopeTable = { cos: Float64Array; sin: Float64Array };

// ---------------------------------------------------------------------------------------------
// MLA's steps with V3.2's query latent

/** qr = q_norm(wq_a(x)): x [N, D] -> [N, Q], the query latent MLA's wq_b and the indexer's wq_b both read (V3.2 always compresses q). */
export function queryLatent(cfg: MlaConfig, w: MlaWeights, x: ArrayLike<number>, N: number, count: Counter = NO_COUNT): Float64Array {
  const qa = linear(x, N, w.wq_a!, cfg.q_lora_rank, cfg.dim, count, "query"); // [N, Q]
  checkNormInput("query: wq_a(x)", qa, N, cfg.q_lora_rank);
  return rmsNorm(qa, N, cfg.q_lora_rank, w.q_norm!);
}

/** (1)(4) q = wq_b(qr) [N, H, dn+dr], rope on each q_pe: mlaQuery's one-projection form (Q = 0) with wq_b as its wq over the input qr. */
export function mlaQueryFromLatent(cfg: MlaConfig, w: MlaWeights, qr: ArrayLike<number>, N: number, s: number, table: RopeTable, count: Counter = NO_COUNT): Float64Array {
  return mlaQuery({ ...cfg, dim: cfg.q_lora_rank, q_lora_rank: 0 }, { ...w, wq: w.wq_b }, qr, N, s, table, count);
}

/** The FP8 KV-cache simulation of the latent c [N, C] (model.py MLA.forward): act_quant in 128-blocks, then the float32 dequantised values MLA caches and attends over. */
export interface LatentFp8 {
  /** bf16(c): what act_quant reads [N, C]. */
  input_bf16: Float64Array;
  /** act_quant's e4m3 values, codes [N, C] and scales [N, C/128]. */
  quant: ActQuantized;
  /** fp32(e4m3 * scale) [N, C]: kv_cache and the prefill's keys and values. */
  dequantized: Float64Array;
}

/** kv_fp8, kv_scale = act_quant(kv, 128, scale_fmt); kv = fp32(kv_fp8 * kv_scale). */
export function simulateKvFp8(c: ArrayLike<number>, N: number, C: number, scaleFmt: ScaleFmt | null): LatentFp8 {
  const input_bf16 = bf16Array(c);
  const quant = actQuant(input_bf16, N, C, scaleFmt);
  return { input_bf16, quant, dequantized: dequantize(quant, N, C) };
}

// ---------------------------------------------------------------------------------------------
// The steps a test may replace

/** One query row's selection: [K] key indices (-1: none) from scores[off .. off+end), `visible` keys unmasked. */
export type SelectTopk = (scores: ArrayLike<number>, off: number, visible: number, end: number, k: number) => Int32Array;

export interface DsaSteps {
  /** The indexer's RoPE (default: non-interleaved on the first dr dims). */
  indexerRope: IndexerRope;
  /** rotate_activation (default: bf16 in, Hadamard, float32 scale, bf16 out). */
  rotateActivation: typeof rotateActivation;
  /** act_quant of the indexer's q and k (default: the kernel's rules). */
  actQuant: typeof actQuant;
  /** The latent's FP8 KV-cache simulation (default: act_quant + dequantize). */
  simulateKvFp8: typeof simulateKvFp8;
  /** The indexer's head weights (default: weights_proj * HI^-0.5 * q_scale * DI^-0.5). */
  indexerWeights: typeof indexerWeights;
  /** The activation on each head's q . k in the index score (default: ReLU). */
  scoreActivation: (v: number) => number;
  /** Selection (default: top-k among the visible keys: the causal mask is added before topk). */
  selectTopk: SelectTopk;
  /**
   * The values pe_cache keeps of the roped k_pe [N, dr] (default: as they are, the float32
   * simulation the vectors record; bf16Array: a bf16 model's pe_cache, which the fp8_e4m3_v32
   * record's bf16 rope part holds).
   */
  peCache: (kpe: Float64Array) => Float64Array;
}

/** The official selection: top-k among the visible keys (index_score + mask, then topk). */
export const selectVisibleTopk: SelectTopk = (scores, off, visible, _end, k) => topkRow(scores, off, visible, k);

export const DSA_STEPS: Readonly<DsaSteps> = Object.freeze({
  indexerRope,
  rotateActivation,
  actQuant,
  simulateKvFp8,
  indexerWeights,
  scoreActivation: relu,
  selectTopk: selectVisibleTopk,
  peCache: (kpe: Float64Array) => kpe,
});

// ---------------------------------------------------------------------------------------------
// Attention over the selected keys

/**
 * o [hq, dv] of one query token q [hq, dqk] over the keys `sel` (indices into keys [T, hkv, dqk]
 * and values [T, hkv, dv]): the softmax over the selection only, which is the official scores +
 * index_mask (-inf off the selection) without the masked terms. Counts the attention's work over
 * the selected keys (scores, softmax, weighted sum); what the gather reads is the caller's to count.
 */
export function attendSelected(q: ArrayLike<number>, keys: ArrayLike<number>, values: ArrayLike<number>, sel: readonly number[], hq: number, hkv: number, dqk: number, dv: number, scale: number, count: Counter = NO_COUNT): Float64Array {
  const n = sel.length, kw = hkv * dqk, vw = hkv * dv;
  const k = new Float64Array(n * kw), v = new Float64Array(n * vw);
  sel.forEach((j, i) => {
    for (let d = 0; d < kw; d++) k[i * kw + d] = keys[j * kw + d];
    for (let d = 0; d < vw; d++) v[i * vw + d] = values[j * vw + d];
  });
  return attendRow({ q, k, v, s: 1, startPos: n - 1, hq, hkv, dqk, dv, scale, count });
}

/** The keys of a top-k row the causal mask leaves (index_mask + mask: -1 slots and keys after the query's position drop out). */
function visibleSelection(row: Int32Array, lastVisible: number): number[] {
  const out: number[] = [];
  for (const j of row) if (j >= 0 && j <= lastVisible) out.push(j);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The layer

/** Every intermediate of one call, row-major [B, s, ...] as the vectors store them (model.py's names). */
export interface DsaTrace {
  branch: "mha_prefill" | "mqa_decode";
  start_pos: number;
  seqlen: number;
  end_pos: number;
  /** K = min(index_topk, end_pos). */
  topk_k: number;
  kv_quant: {
    /** [B, s, C] bf16(kv_norm(c_kv)), act_quant's input. */
    input_bf16: Float64Array;
    /** [B, s, C] e4m3 values and their codes. */
    fp8: Float64Array;
    codes: Uint8Array;
    /** [B, s, C/128]. */
    scale: Float64Array;
  };
  /** [B, s, C] the dequantised latent cached (kv_cache rows p..T-1). */
  kv: Float64Array;
  /** [B, s, dr] roped k_pe (pe_cache rows p..T-1, unquantised). */
  k_pe: Float64Array;
  indexer: {
    /** [B, s, HI, DI], [B, s, DI]: rotate_activation's bf16 inputs (after RoPE). */
    q_bf16: Float64Array;
    k_bf16: Float64Array;
    /** rotate_activation's outputs = act_quant's inputs, same shapes. */
    q_rot: Float64Array;
    k_rot: Float64Array;
    /** act_quant: e4m3 values and codes [B, s, HI, DI], scales [B, s, HI] (the vectors' [B, s, HI, 1]). */
    q_fp8: Float64Array;
    q_codes: Uint8Array;
    q_scale: Float64Array;
    /** [B, s, DI] and [B, s] (the vectors' [B, s, 1]): what the indexer's caches hold for rows p..T-1. */
    k_fp8: Float64Array;
    k_codes: Uint8Array;
    k_scale: Float64Array;
    /** [B, s, HI] fp8_index's q_s (the vectors' [B, s, HI, 1]). */
    weights: Float64Array;
    /** [B, s, T] fp8_index over all T cached keys, before the causal mask. */
    index_score: Float64Array;
    /** [B, s, K] selected keys in descending score order (ties: lower index first); -1 in slots beyond the visible keys. */
    topk_indices: Int32Array;
  };
}

export interface ReferenceDsaOptions {
  /** Replace some steps (deliberately broken variants in tests; DSA_STEPS are the official ones). */
  steps?: Partial<DsaSteps>;
  /** Counts the work of every call (src/reference/counter.ts); none by default. */
  counter?: Counter;
}

/** Stream names of the cache: model.py's buffers (MLA.kv_cache, MLA.pe_cache, MLA.indexer.k_cache, MLA.indexer.k_scale_cache). */
export const DSA_CACHE_STREAMS = ["kv_cache", "pe_cache", "indexer.k_cache", "indexer.k_scale_cache"] as const;

export class ReferenceDsa implements AttentionLayer {
  readonly backend = "reference";
  readonly kind = "mla-dsa";
  readonly dim: number;
  readonly cfg: DsaConfig;
  /**
   * float64 rows per token: the dequantised latent [C] (as model.py's kv_cache holds it), the
   * roped k_pe [dr], the indexer key's e4m3 values [DI] and its scale [DI/128 = 1].
   */
  readonly cache: RowCache;
  readonly freqs: Float64Array;
  readonly softmaxScale: number;
  readonly steps: Readonly<DsaSteps>;
  private readonly count: Counter;
  private disposed = false;
  private readonly gate = new ForwardGate();

  constructor(cfg: MlaConfig, readonly weights: DsaWeights, options: ReferenceDsaOptions = {}) {
    validateConfig({ ...cfg });
    if (!isDsaConfig(cfg)) throw new ConfigError("config.index_topk", undefined, "a DeepSeek-V3.2 config (index_n_heads, index_head_dim, index_topk, scale_fmt; e.g. preset deepseek-v3.2)");
    checkDsaWeights(cfg, weights);
    this.cfg = cfg;
    this.dim = cfg.dim;
    this.freqs = ropeFrequencies(cfg);
    this.softmaxScale = mlaSoftmaxScale(cfg);
    this.steps = Object.freeze({ ...DSA_STEPS, ...options.steps });
    this.count = options.counter ?? NO_COUNT;
    this.cache = new RowCache(
      [
        { name: DSA_CACHE_STREAMS[0], tail: [cfg.kv_lora_rank] },
        { name: DSA_CACHE_STREAMS[1], tail: [cfg.qk_rope_head_dim] },
        { name: DSA_CACHE_STREAMS[2], tail: [cfg.index_head_dim] },
        { name: DSA_CACHE_STREAMS[3], tail: [cfg.index_head_dim / ACT_QUANT_BLOCK] },
      ],
      cfg.max_batch_size,
      cfg.max_seq_len,
    );
  }

  forward(x: ArrayLike<number>, opts: ForwardOptions): Float64Array {
    return this.forwardTrace(x, opts).output;
  }

  /** forward, and every intermediate of the call (one call at a time: ForwardGate). */
  forwardTrace(input: ArrayLike<number>, opts: ForwardOptions): { output: Float64Array; trace: DsaTrace } {
    return this.gate.run(() => this.run(input, opts));
  }

  private run(input: ArrayLike<number>, opts: ForwardOptions): { output: Float64Array; trace: DsaTrace } {
    const cfg = this.cfg, w = this.weights, iw = w.indexer, st = this.steps, count = this.count;
    const { x, batch: B, seqlen: s, startPos: p } = beginForward(() => !this.disposed, input, opts, cfg, this.cache); // x: a checked float64 copy
    const N = B * s, T = p + s, K = dsaTopkK(cfg, T);
    const C = cfg.kv_lora_rank, dr = cfg.qk_rope_head_dim, HI = cfg.index_n_heads, DI = cfg.index_head_dim, fmt = cfg.scale_fmt;
    const table = callRopeTable(cfg, this.freqs, p, s);

    // MLA.forward: query, latent, FP8 KV-cache simulation
    const qr = queryLatent(cfg, w, x, N, count); // [N, Q]
    const q = mlaQueryFromLatent(cfg, w, qr, N, s, table, count); // [N, H, dn+dr]
    const { c, kpe: kpeRoped } = mlaCompress(cfg, w, x, N, s, table, count); // [N, C], [N, dr]
    const kpe = st.peCache(kpeRoped);
    const kv = st.simulateKvFp8(c, N, C, fmt); // dequantized [N, C]

    // Indexer.forward: q and k, RoPE, bf16 Hadamard, act_quant, head weights
    const qRot = st.rotateActivation(indexerQuery(cfg, iw, qr, N, s, table, st.indexerRope, count), N * HI, DI); // [N, HI, DI]
    const kRot = st.rotateActivation(indexerKey(cfg, iw, x, N, s, table, st.indexerRope, count), N, DI); // [N, DI]
    const q8 = st.actQuant(qRot.rotated, N * HI, DI, fmt); // values [N, HI, DI], scales [N, HI]
    const k8 = st.actQuant(kRot.rotated, N, DI, fmt); // values [N, DI], scales [N]
    const weights = st.indexerWeights(cfg, iw, x, N, q8.scales, count); // [N, HI]

    // Finite inputs can still overflow float64 in the projections: refuse before anything is written.
    for (const [name, data, tail] of [["q", q, [cfg.n_heads, cfg.qk_nope_head_dim + dr]], ["kv", kv.dequantized, [C]], ["k_pe", kpe, [dr]], ["indexer.q_rot", qRot.rotated, [HI, DI]], ["indexer.k_rot", kRot.rotated, [DI]], ["indexer.weights", weights, [HI]]] as const) {
      checkFinite(name, data, [B, s, ...tail]);
    }

    // Both caches take the new tokens before anything reads them (the indexer scores a token's own key too).
    this.store(B, s, p, [kv.dequantized, kpe, k8.values, k8.scales]);

    const scores = new Float64Array(N * T); // [B, s, T]
    const topk = new Int32Array(N * K); // [B, s, K]
    const o = new Float64Array(N * cfg.n_heads * cfg.v_head_dim); // [B, s, H, dv]
    const qLat = s === 1 ? latentQuery(cfg, w, q, N, count) : null; // [N, H, C+dr] (decode: absorbed)
    const oLat = new Float64Array(N * cfg.n_heads * C);
    const dense = qLat ? null : this.decompressAll(B, T); // prefill: every row's cached latents through wkv_b at once (the weight is read once per call)
    for (let b = 0; b < B; b++) {
      const sc = indexScores(q8.values.subarray(b * s * HI * DI, (b + 1) * s * HI * DI), weights.subarray(b * s * HI, (b + 1) * s * HI), this.cache.read(2, b, T, count, "indexScores"), this.cache.read(3, b, T, count, "indexScores"), s, T, HI, DI, st.scoreActivation, count); // [s, T]
      scores.set(sc, b * s * T);
      const sel: number[][] = [];
      for (let t = 0; t < s; t++) {
        const row = st.selectTopk(sc, t * T, p + t + 1, T, K); // the causal mask: token t sees keys 0..p+t
        count.add("topk", "ranked", p + t + 1);
        topk.set(row, (b * s + t) * K);
        sel.push(visibleSelection(row, p + t)); // ... and again after top-k
      }
      if (qLat) this.decodeAbsorbed(b, qLat, sel, T, oLat);
      else if (dense) this.prefillMha(b, s, q, sel, T, o, dense);
    }
    if (qLat) o.set(absorbOutput(cfg, w, oLat, N, count));
    const output = linear(o, N, w.wo, cfg.dim, cfg.n_heads * cfg.v_head_dim, count, "output"); // wo: [B, s, D]

    const trace: DsaTrace = {
      branch: s > 1 ? "mha_prefill" : "mqa_decode",
      start_pos: p, seqlen: s, end_pos: T, topk_k: K,
      kv_quant: { input_bf16: kv.input_bf16, fp8: kv.quant.values, codes: kv.quant.codes, scale: kv.quant.scales },
      kv: kv.dequantized,
      k_pe: kpe,
      indexer: {
        q_bf16: qRot.input, k_bf16: kRot.input, q_rot: qRot.rotated, k_rot: kRot.rotated,
        q_fp8: q8.values, q_codes: q8.codes, q_scale: q8.scales, k_fp8: k8.values, k_codes: k8.codes, k_scale: k8.scales,
        weights, index_score: scores, topk_indices: topk,
      },
    };
    return { output, trace };
  }

  /** The T cached latents of rows 0..B-1 decompressed with wkv_b: keys [B, T, H, dn+dr] (with k_pe) and values [B, T, H, dv]. */
  private decompressAll(B: number, T: number): { k: Float64Array; v: Float64Array } {
    const cfg = this.cfg, C = cfg.kv_lora_rank, dr = cfg.qk_rope_head_dim, count = this.count;
    const lat = new Float64Array(B * T * C), pe = new Float64Array(B * T * dr);
    for (let b = 0; b < B; b++) {
      lat.set(this.cache.read(0, b, T, count, "decompression"), b * T * C);
      pe.set(this.cache.read(1, b, T, count, "decompression"), b * T * dr);
    }
    const { kNope, v } = mlaDecompress(cfg, this.weights, lat, B * T, count); // [B*T, H, dn], [B*T, H, dv]
    return { k: naiveKeys(cfg, kNope, pe, B * T), v };
  }

  /** MHA prefill (s > 1) of batch row b over its decompressed keys and values: each token attends over its selected keys. */
  private prefillMha(b: number, s: number, q: Float64Array, sel: number[][], T: number, o: Float64Array, dense: { k: Float64Array; v: Float64Array }): void {
    const cfg = this.cfg, H = cfg.n_heads, dn = cfg.qk_nope_head_dim, dr = cfg.qk_rope_head_dim, dv = cfg.v_head_dim, qk = dn + dr;
    const count = this.count;
    const k = dense.k.subarray(b * T * H * qk, (b + 1) * T * H * qk), v = dense.v.subarray(b * T * H * dv, (b + 1) * T * H * dv);
    for (let t = 0; t < s; t++) {
      const r = b * s + t;
      o.set(attendSelected(q.subarray(r * H * qk, (r + 1) * H * qk), k, v, sel[t], H, H, qk, dv, this.softmaxScale, count), r * H * dv);
    }
  }

  /** MQA decode (s == 1) of batch row b in the latent space: [q_abs | q_pe] against [kv_cache | pe_cache] of the selected keys -> o_lat [H, C]. */
  private decodeAbsorbed(b: number, qLat: Float64Array, sel: number[][], T: number, oLat: Float64Array): void {
    const H = this.cfg.n_heads, C = this.cfg.kv_lora_rank, dr = this.cfg.qk_rope_head_dim;
    const kv = this.cache.read(0, b, T);
    const keys = latentKeys(kv, this.cache.read(1, b, T), T, C, dr); // [T, C+dr]
    // A sparse kernel reads only the selected tokens' [c | k_pe], once for all heads (the oracle gathers them from a full copy).
    this.count.add("scores", "cacheReads", sel[0].length * (C + dr));
    oLat.set(attendSelected(qLat.subarray(b * H * (C + dr), (b + 1) * H * (C + dr)), keys, kv, sel[0], H, 1, C + dr, C, this.softmaxScale, this.count), b * H * C);
  }

  /** Rows 0..B-1 get positions p..p+s-1 of every stream (rolled back to p first): reserve (the only step that can fail), then write. */
  private store(B: number, s: number, p: number, data: Float64Array[]): void {
    const rows = this.cache;
    rows.reserve(B, p + s);
    const widths = [this.cfg.kv_lora_rank, this.cfg.qk_rope_head_dim, this.cfg.index_head_dim, this.cfg.index_head_dim / ACT_QUANT_BLOCK];
    // The latent's writes count under compression (as MLA's), the index keys' under indexer.
    const count = this.count, asIndexer: Counter = { add: (_term, field, n) => count.add("indexer", field, n) };
    const counters = [count, count, asIndexer, asIndexer];
    for (let b = 0; b < B; b++)
      for (let t = 0; t < s; t++)
        for (let si = 0; si < data.length; si++) rows.write(si, b, p + t, data[si], (b * s + t) * widths[si], counters[si]);
    rows.commit(B, p + s);
  }

  dispose(): void {
    this.disposed = true;
  }
}

export function createReferenceDsa(cfg: MlaConfig, weights: DsaWeights, options: ReferenceDsaOptions = {}): ReferenceDsa {
  return new ReferenceDsa(cfg, weights, options);
}
