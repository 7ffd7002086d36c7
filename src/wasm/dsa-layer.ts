// DeepSeek-V3.2's attention layer (MLA + DeepSeek Sparse Attention) on the WASM core, float32:
// the same AttentionLayer as the reference (src/reference/dsa/layer.ts) and the same steps, each
// where it is cheapest.
//
//   WASM kernels   the projections (wq_a, q_norm, wq_b, wkv_a + kv_norm + RoPE, the indexer's
//                  wq_b / wk / weights_proj, W_UK, W_UV, wo), the indexer's RoPE, the index
//                  scores straight from the paged cache (dsa_index_scores_paged), top-k
//                  (dsa_topk) and sparse attention over the selected keys (attn_mla_decode with
//                  its KEYS_SELECTED fetch), for one token or many: a prefill is the same pieces
//                  with one selection per token.
//   TypeScript     the steps whose result is a bf16 or FP8 value, with the oracle's own
//                  bit-exact functions: LayerNorm of the key, rotate_activation (bf16 in,
//                  Hadamard, bf16 out), act_quant of the indexer's queries, the head weights.
//                  They are O(HI * DI) per token, beside the O(T * HI * DI) scores.
//   The cache      a LatentCache in linear memory in format fp8_e4m3_v32 with the index keys
//                  (its TS codecs quantise the latent and the keys as model.py simulates them);
//                  its records have fp8_e4m3's layout, so the attention kernel reads them with
//                  that format's decoder, blocks blockBytes apart (the keys follow the records).
//
// Calls are all or nothing as WasmMla's: memory reserved first (an arena call), the cache
// checkpointed before the first store and restored when anything later throws. Long calls run in
// chunks of tokens (the scores of a chunk are [chunk, T]); forwardTrace runs in one chunk so the
// scores it returns cover every key.
//
// Shapes: B batch, s new tokens, N = B*sc rows of a chunk, T = startPos + s keys, K = min(index_topk, T),
// H heads, C kv_lora_rank, dn/dr/dv head dims, qk = dn + dr, HI/DI indexer heads/dim.

import { type DsaConfig, type MlaConfig, isDsaConfig } from "../config.js";
import { ConfigError, memoryError } from "../errors.js";
import { type AttentionLayer, type ForwardCall, type ForwardOptions, ForwardGate, type StageValues, beginForward, checkOutput, checkStage, disposedError, overflowError } from "../layer.js";
import { BLOCK_TOKENS } from "../cache/layout.js";
import { type MlaSizes, LAYERNORM_EPS, deriveDsa, deriveMla, dsaTopkK } from "../derived.js";
import { type DsaWeights, checkDsaWeights, indexerWeightShapes } from "../io/dsa-weights.js";
import { mlaWeightShapes } from "../weights.js";
import { type DsaTrace, simulateKvFp8 } from "../reference/dsa/layer.js";
import { rotateActivation } from "../reference/dsa/hadamard.js";
import { checkNormInput as checkIndexerNormInput, layerNorm } from "../reference/dsa/layernorm.js";
import { actQuant, bf16Array, dequantize } from "../reference/dsa/quant.js";
import type { ByteRange, F32Buf, PackedWeight, RopeTableBuf, WasmKernels } from "./kernels.js";
import { type Allocated, checkFloat32Range, checkMaxChunkTokens, checkNormInput, chunkTokens, latentQueries, queryStep, replaceWorkspace, runAllOrNothing } from "./layer-steps.js";
import { WasmPagedCache } from "./paged-cache.js";

/**
 * The latent record of a V3.2 layer's cache. Both hold the FP8-simulated latent (act_quant, the
 * dequantised values attention reads) and the indexer's keys:
 *   "fp8_e4m3_v32"  656 B + 132 B of keys per token: e4m3 codes, the 128-block scales, k_pe in
 *                   bf16 (a bf16 model's pe_cache; FlashMLA's record layout). The default.
 *   "f32"           2304 B + 132 B: the dequantised latent and k_pe in float32, exactly what
 *                   the official float32 run caches (the vectors' kv_cache and pe_cache).
 */
export type WasmDsaCacheFormat = "fp8_e4m3_v32" | "f32";
export const WASM_DSA_CACHE_FORMATS: readonly WasmDsaCacheFormat[] = ["fp8_e4m3_v32", "f32"];

export interface WasmDsaOptions {
  /** The latent record (default "fp8_e4m3_v32"; "f32" reproduces the official float32 run's caches). */
  cacheFormat?: WasmDsaCacheFormat;
  /** Most 64-token blocks the pool may hold (default max_batch_size x ceil(max_seq_len / 64)); its memory grows with use. */
  cacheBlocks?: number;
  /** Most tokens per batch row processed at once (default: what fits a 64 MiB workspace). */
  maxChunkTokens?: number;
}


interface Workspace extends Allocated {
  N: number; s: number; T: number; K: number;
  x: F32Buf; qa: F32Buf; q: F32Buf; kv: F32Buf; c: F32Buf; kpe: F32Buf;
  iq: F32Buf; ik: F32Buf; iw: F32Buf; q8: F32Buf; scores: F32Buf;
  qabs: F32Buf; qlat: F32Buf; olat: F32Buf; lse: F32Buf; o: F32Buf; y: F32Buf;
  attn: F32Buf; iscratch: F32Buf; blockTable: F32Buf; sel: F32Buf; heap: F32Buf; table: RopeTableBuf;
}

interface PackedDsaWeights {
  wq: null; wq_a: PackedWeight; q_norm: F32Buf; wq_b: PackedWeight;
  wkv_a: PackedWeight; kv_norm: F32Buf; wuk: F32Buf; wuv: F32Buf; wo: PackedWeight;
  iwq_b: PackedWeight; iwk: PackedWeight; iwproj: PackedWeight;
}

/** What one chunk leaves for a trace (float32 values as numbers), rows [N, ...]. */
interface ChunkTrace {
  c: Float32Array; kpe: Float32Array;
  qRot: { input: Float64Array; rotated: Float64Array }; kRot: { input: Float64Array; rotated: Float64Array };
  q8: ReturnType<typeof actQuant>; weights: Float64Array; scores: Float32Array[]; topk: Int32Array;
}

const asByteRange = (b: F32Buf): ByteRange => ({ ptr: b.ptr, bytes: 4 * b.length });

/** The visible scores of token t of batch row b: finite, or the stage's overflow error naming the key. */
function checkScores(sc: Float32Array, off: number, visible: number, b: number, t: number): void {
  for (let j = 0; j < visible; j++) {
    const v = sc[off + j];
    if (v - v !== 0) throw overflowError("indexer", "index_score", [b, t, j], v, "float32");
  }
}

export class WasmDsa implements AttentionLayer {
  readonly backend = "wasm";
  readonly kind = "mla-dsa";
  readonly dim: number;
  readonly cfg: DsaConfig;
  /** The latent (cacheFormat) and the indexer's keys, paged in linear memory. */
  readonly cache: WasmPagedCache;
  readonly format: WasmDsaCacheFormat;
  readonly softmaxScale: number;
  readonly freqs: Float64Array;
  private readonly sizes: MlaSizes;
  private readonly eps: number;
  private k: WasmKernels | null;
  private readonly w: PackedDsaWeights;
  /** LayerNorm's weight and bias (the key's norm runs in TypeScript). */
  private readonly kNorm: { w: Float64Array; b: Float64Array };
  private ws: Workspace | null = null;
  private readonly maxChunkTokens: number | undefined;
  private readonly gate = new ForwardGate();
  private stored = false;

  constructor(cfg: MlaConfig, weights: DsaWeights, kernels: WasmKernels, options: WasmDsaOptions = {}) {
    if (!isDsaConfig(cfg)) throw new ConfigError("config.index_topk", undefined, "a DeepSeek-V3.2 config (index_n_heads, index_head_dim, index_topk, scale_fmt; e.g. preset deepseek-v3.2)");
    checkDsaWeights(cfg, weights);
    for (const [name, shape] of Object.entries(mlaWeightShapes(cfg))) checkFloat32Range(`weights.${name}`, (weights as unknown as Record<string, ArrayLike<number>>)[name], shape as number[]);
    for (const [name, shape] of Object.entries(indexerWeightShapes(cfg))) checkFloat32Range(`weights.indexer.${name}`, (weights.indexer as unknown as Record<string, ArrayLike<number>>)[name], shape);
    this.maxChunkTokens = checkMaxChunkTokens(options.maxChunkTokens);
    const format = options.cacheFormat ?? "fp8_e4m3_v32";
    if (!(WASM_DSA_CACHE_FORMATS as readonly string[]).includes(format)) throw new ConfigError("options.cacheFormat", format, `one of ${WASM_DSA_CACHE_FORMATS.map((f) => `"${f}"`).join(", ")} (a V3.2 layer's latent record)`);
    this.format = format;
    this.cfg = cfg;
    this.dim = cfg.dim;
    this.k = kernels;
    const d = deriveMla(cfg);
    this.sizes = d.sizes;
    this.freqs = d.freqs;
    this.softmaxScale = d.softmaxScale;
    this.eps = d.normEps;
    const { H, D, Q, C, dn, dr, dv, qk } = d.sizes, HI = cfg.index_n_heads, DI = cfg.index_head_dim, k = kernels;
    const iw = weights.indexer;
    this.w = {
      wq: null, wq_a: k.packNK(weights.wq_a!, Q, D), q_norm: k.alloc(Q, weights.q_norm!), wq_b: k.packNK(weights.wq_b!, H * qk, Q),
      wkv_a: k.packNK(weights.wkv_a, C + dr, D), kv_norm: k.alloc(C, weights.kv_norm),
      wuk: k.packWUK(weights.wkv_b, H, C, dn, dv), wuv: k.packWUV(weights.wkv_b, H, C, dn, dv), wo: k.packNK(weights.wo, D, H * dv),
      iwq_b: k.packNK(iw.wq_b, HI * DI, Q), iwk: k.packNK(iw.wk, DI, D), iwproj: k.packNK(iw.weights_proj, HI, D),
    };
    this.kNorm = { w: Float64Array.from(iw.k_norm, Math.fround), b: Float64Array.from(iw.k_norm_bias, Math.fround) };
    try {
      this.cache = new WasmPagedCache(k.arena, cfg, format, options.cacheBlocks, true);
      this.ensureWorkspace(cfg.max_batch_size, 1, 1);
    } catch (e) {
      throw memoryError(e, "max_batch_size", cfg.max_batch_size);
    }
  }

  get kernels(): WasmKernels {
    if (!this.k) throw disposedError();
    return this.k;
  }

  /** The sparse attention kernel with its ISA and record format (fp8_e4m3_v32 records are read with fp8_e4m3's decoder). */
  get attentionKernelName(): string {
    return this.kernels.name(`attn_mla_decode_sparse_${this.format}`);
  }

  private floatsPerToken(T: number): number {
    const { H, D, Q, C, dr, dv, qk } = this.sizes, HI = this.cfg.index_n_heads, DI = this.cfg.index_head_dim;
    const K = dsaTopkK(this.cfg, T);
    return 2 * D + Q + H * qk + 2 * (C + dr) + 2 * HI * DI + DI + HI + T + 2 * H * C + H * (C + dr) + H + H * dv + K + 8;
  }

  private ensureWorkspace(B: number, s: number, T: number): Workspace {
    const N = B * s, K = dsaTopkK(this.cfg, T), cur = this.ws;
    if (cur && cur.N >= N && cur.s >= s && cur.T >= T && cur.K >= K) return cur;
    const k = this.kernels, { H, D, Q, C, dr, dv, qk } = this.sizes, HI = this.cfg.index_n_heads, DI = this.cfg.index_head_dim;
    const n = Math.max(N, cur?.N ?? 0), ss = Math.max(s, cur?.s ?? 0), TT = Math.max(T, cur?.T ?? 0), KK = Math.max(K, cur?.K ?? 0);
    const next = replaceWorkspace(k, cur, (alloc, table) => ({
      N: n, s: ss, T: TT, K: KK,
      x: alloc(n * D), qa: alloc(n * Q), q: alloc(n * H * qk), kv: alloc(n * (C + dr)), c: alloc(n * C), kpe: alloc(n * dr),
      iq: alloc(n * HI * DI), ik: alloc(n * DI), iw: alloc(n * HI), q8: alloc(n * HI * DI), scores: alloc(ss * TT),
      qabs: alloc(n * H * C), qlat: alloc(n * H * (C + dr)), olat: alloc(n * H * C), lse: alloc(n * H), o: alloc(n * H * dv), y: alloc(n * D),
      attn: alloc(k.attnPagedScratchFloats(ss * H, C, dr)), iscratch: alloc(k.indexScratchFloats(HI, DI)),
      blockTable: alloc(Math.ceil(TT / BLOCK_TOKENS)), sel: alloc(n * KK), heap: alloc(KK), table: table(ss, dr),
    }));
    this.ws = next;
    k.arena.onRollback(() => (this.ws = cur));
    return next;
  }

  forward(x: ArrayLike<number>, opts: ForwardOptions): Float32Array {
    return this.gate.run(() => this.run(beginForward(() => this.k !== null, x, opts, this.cfg, this.cache, "float32"), null));
  }

  /** forward, and every intermediate of the call as the reference's forwardTrace names them (one chunk). */
  forwardTrace(x: ArrayLike<number>, opts: ForwardOptions): { output: Float32Array; trace: DsaTrace } {
    return this.gate.run(() => {
      const call = beginForward(() => this.k !== null, x, opts, this.cfg, this.cache, "float32");
      const chunks: ChunkTrace[] = [];
      const output = this.run(call, chunks);
      return { output, trace: this.assembleTrace(call, chunks[0]) };
    });
  }

  private run({ x, batch: B, seqlen: s, startPos }: ForwardCall<Float32Array>, trace: ChunkTrace[] | null): Float32Array {
    const T = startPos + s, K = dsaTopkK(this.cfg, T);
    const chunk = trace ? s : chunkTokens(s, B, this.floatsPerToken(T), this.maxChunkTokens);
    let ws!: Workspace;
    return runAllOrNothing(this.kernels.arena, B, s, this.cfg.dim, chunk, () => {
      ws = this.ensureWorkspace(B, chunk, T);
      const places = Array.from({ length: B }, (_, b) => ({ seq: b, startPos, n: s }));
      this.cache.reserve(places);
      const cp = this.cache.latent.checkpoint(places);
      this.stored = false;
      return () => this.stored && this.cache.latent.restore(cp);
    }, (t0, sc, out) => this.step(x, B, s, t0, sc, startPos, K, ws, out, trace));
  }

  /** Tokens t0 .. t0+sc-1 of every row (absolute positions startPos+t0 ..); K slots per selection. */
  private step(xIn: Float32Array, B: number, s: number, t0: number, sc: number, startPos: number, K: number, ws: Workspace, out: Float32Array, trace: ChunkTrace[] | null): void {
    const k = this.k!, cfg = this.cfg, w = this.w;
    const { H, D, C, dn, dr, dv, qk } = this.sizes, HI = cfg.index_n_heads, DI = cfg.index_head_dim, fmt = cfg.scale_fmt;
    const N = B * sc, p0 = startPos + t0, Tc = p0 + sc;

    // MLA.forward: qr = q_norm(wq_a(x)) (left in ws.qa), q = wq_b(qr) roped; the latent c and k_pe
    queryStep(k, cfg, w, ws, this.freqs, xIn, B, s, t0, sc, p0);
    const kvRows: number[] = [], peRows: number[] = [];
    for (let b = 0; b < B; b++) {
      kvRows.push(ws.c.at(b * sc * C));
      peRows.push(ws.kpe.at(b * sc * dr));
    }
    k.compress({ N, s: sc, C, dr, x: ws.x, wkva: w.wkv_a, kvNorm: w.kv_norm, layout: cfg.rope_layout, table: ws.table, scratch: ws.kv, kvRows, peRows, eps: this.eps });
    checkNormInput("latent", "c_kv", ws.kv.view(), N, C, C + dr, sc, t0);
    checkStage("latent", "c", ws.c.view(), N, sc, t0, [C], "float32");
    checkStage("latent", "k_pe", ws.kpe.view(), N, sc, t0, [dr], "float32");

    // Indexer.forward: q = wq_b(qr) and k = k_norm(wk(x)), RoPE (non-interleaved, first dr dims) on the core
    k.linear(N, ws.qa, w.iwq_b, ws.iq);
    k.linear(N, ws.x, w.iwk, ws.ik);
    checkStage("indexer", "q", ws.iq.view(), N, sc, t0, [HI, DI], "float32");
    checkIndexerNormInput("indexer: wk(x)", ws.ik.view(), N, DI);
    ws.ik.set(layerNorm(ws.ik.view().subarray(0, N * DI), N, DI, this.kNorm.w, this.kNorm.b, LAYERNORM_EPS));
    k.rope("half", N, HI, ws.iq, dr, ws.table, sc, { ldx: HI * DI, headStride: DI, xOff: 0 });
    k.rope("half", N, 1, ws.ik, dr, ws.table, sc, { ldx: DI, headStride: DI, xOff: 0 });
    // ... then bf16, the Hadamard rotation and act_quant of q (the oracle's bit-exact steps), the head weights
    const qRot = rotateActivation(ws.iq.view().subarray(0, N * HI * DI), N * HI, DI);
    const kRot = rotateActivation(ws.ik.view().subarray(0, N * DI), N, DI);
    const q8 = actQuant(qRot.rotated, N * HI, DI, fmt);
    ws.q8.set(q8.values); // e4m3 values: exact in float32
    k.linear(N, ws.x, w.iwproj, ws.iw);
    const { weightsScale, indexSoftmaxScale } = deriveDsa(cfg);
    const ws32 = Math.fround(weightsScale), is32 = Math.fround(indexSoftmaxScale);
    const iw = ws.iw.view();
    for (let i = 0; i < N * HI; i++) iw[i] = Math.fround(Math.fround(Math.fround(iw[i] * ws32) * q8.scales[i]) * is32);
    checkStage("indexer", "weights", ws.iw.view(), N, sc, t0, [HI], "float32");

    // Store both caches before anything reads them (a token scores its own key too): the cache
    // checks every value, then places and encodes the latent and the keys (all rows or none).
    // fp8_e4m3_v32 quantises the latent itself; an f32 record takes the simulation's dequantised values.
    const cv = this.format === "f32" ? Float32Array.from(simulateKvFp8(ws.c.view().subarray(0, N * C), N, C, fmt).dequantized) : ws.c.view(), pv = ws.kpe.view();
    const keys = kRot.rotated; // bf16 values: exact in float32
    this.cache.latent.writeBatch(Array.from({ length: B }, (_, b) => ({
      seq: b, startPos: p0,
      c: cv.subarray(b * sc * C, (b + 1) * sc * C), kpe: pv.subarray(b * sc * dr, (b + 1) * sc * dr), indexK: keys.subarray(b * sc * DI, (b + 1) * sc * DI),
    })));
    this.stored = true;

    // Absorbed queries [q_abs | q_pe] per head for the attention kernel
    k.absorbQ(N, H, C, dn, qk, ws.q, w.wuk, ws.qabs);
    latentQueries(k, N * H, C, dn, dr, ws.qabs, 0, ws.q, 0, ws.qlat);
    const latent = this.cache.latent, pool = this.cache.pool, blockBytes = latent.blockBytes, keysOffset = latent.blockLayout.keysOffset;
    const selR = asByteRange(ws.sel), heapR = asByteRange(ws.heap);
    const chunkTrace: ChunkTrace | null = trace ? { c: ws.c.toArray(0, N * C), kpe: pv.slice(0, N * dr), qRot, kRot, q8, weights: Float64Array.from(iw.subarray(0, N * HI)), scores: [], topk: new Int32Array(N * K) } : null;
    for (let b = 0; b < B; b++) {
      const blocks = latent.blockTable(b);
      // fp8_index over all Tc cached keys, then each token's top-k among the keys it sees
      k.indexScoresPaged({ s: sc, T: Tc, HI, DI, q8: ws.q8, qOff: b * sc * HI * DI, w: ws.iw, wOff: b * sc * HI, pool, blocks, table: ws.blockTable, blockBytes, keysOffset, out: ws.scores, scratch: ws.iscratch });
      for (let t = 0; t < sc; t++) {
        checkScores(ws.scores.view(), t * Tc, p0 + t + 1, b, t0 + t); // top-k needs NaN-free scores
        k.topk(ws.scores, t * Tc, p0 + t + 1, K, selR, 4 * (b * sc + t) * K, heapR);
      }
      if (chunkTrace) {
        chunkTrace.scores.push(ws.scores.toArray(0, sc * Tc));
        chunkTrace.topk.set(new Int32Array(k.arena.memory.buffer, ws.sel.ptr + 4 * b * sc * K, sc * K), b * sc * K);
      }
      // attention over each token's selection, in the latent space; W_UV per head after it
      k.attnMlaDecode({ format: this.format === "f32" ? "f32" : "fp8_e4m3", sq: sc, H, C, dr, len: Tc, q: ws.qlat, qOff: b * sc * H * (C + dr), pool, blocks, table: ws.blockTable, blockBytes, scale: this.softmaxScale, sel: { range: selR, at: 4 * b * sc * K, topk: K }, o: ws.olat, oOff: b * sc * H * C, lse: ws.lse, lseOff: b * sc * H, scratch: ws.attn });
    }
    k.projectUV(N, H, C, dv, ws.olat, w.wuv, ws.o);
    k.linear(N, ws.o, w.wo, ws.y);
    const y = ws.y.view().subarray(0, N * D);
    const stages: StageValues[] = [
      { stage: "query", name: "q", data: ws.q.view(), tail: [H, qk] },
      { stage: "query", name: "q_abs", data: ws.qabs.view(), tail: [H, C] },
      { stage: "attention", name: "o", data: ws.o.view(), tail: [H, dv] },
    ];
    checkOutput(y, [D], stages, N, sc, t0, "float32");
    for (let b = 0; b < B; b++) out.set(y.subarray(b * sc * D, (b + 1) * sc * D), (b * s + t0) * D);
    if (trace && chunkTrace) trace.push(chunkTrace);
  }

  /** The reference's DsaTrace from the one chunk of a traced call. */
  private assembleTrace({ batch: B, seqlen: s, startPos: p }: ForwardCall<Float32Array>, t: ChunkTrace): DsaTrace {
    const cfg = this.cfg, C = cfg.kv_lora_rank, DI = cfg.index_head_dim, N = B * s, T = p + s, fmt = cfg.scale_fmt;
    const input_bf16 = bf16Array(t.c);
    const kvq = actQuant(input_bf16, N, C, fmt);
    const k8 = actQuant(t.kRot.rotated, N, DI, fmt);
    const scores = new Float64Array(N * T);
    t.scores.forEach((rows, b) => scores.set(rows, b * s * T));
    return {
      branch: s > 1 ? "mha_prefill" : "mqa_decode",
      start_pos: p, seqlen: s, end_pos: T, topk_k: dsaTopkK(cfg, T),
      kv_quant: { input_bf16, fp8: kvq.values, codes: kvq.codes, scale: kvq.scales },
      kv: dequantize(kvq, N, C),
      k_pe: this.format === "f32" ? Float64Array.from(t.kpe) : bf16Array(t.kpe), // what pe_cache holds
      indexer: {
        q_bf16: t.qRot.input, k_bf16: t.kRot.input, q_rot: t.qRot.rotated, k_rot: t.kRot.rotated,
        q_fp8: t.q8.values, q_codes: t.q8.codes, q_scale: t.q8.scales, k_fp8: k8.values, k_codes: k8.codes, k_scale: k8.scales,
        weights: t.weights, index_score: scores, topk_indices: t.topk,
      },
    };
  }

  dispose(): void {
    this.k = null;
    this.ws = null;
  }
}

/** Build a V3.2 layer on a kernels instance (its linear memory becomes the layer's). */
export function createWasmDsa(cfg: MlaConfig, weights: DsaWeights, kernels: WasmKernels, options: WasmDsaOptions = {}): WasmDsa {
  return new WasmDsa(cfg, weights, kernels, options);
}
