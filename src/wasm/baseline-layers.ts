// The baselines on the WASM core, float32, through the same AttentionLayer as the oracle's
// (src/reference/baselines.ts, src/reference/seed-lowrank.ts), so "standard attention" and the
// seed text's scheme are timed on the same kernels as MLA:
//   WasmMha          MHA / GQA / MQA: K and V of every kv head cached (k_cache / v_cache), attn_gqa;
//   WasmSeedLowRank  the seed's per-head low-rank scheme: k and v compressed per kv head to r
//                    values each (lk_cache / lv_cache); every step attn_seed_lowrank decompresses
//                    every cached latent block by block inside the attention.
// Both follow WasmMla's call discipline (src/wasm/mla-layer.ts): the input copied once, every
// allocation made before the first write (an arena call a failure rolls back), chunks of tokens
// for long calls, the overwritten rows saved and put back when a later stage fails.

import { type MhaConfig, type MhaWeights, type SeedLowRankConfig, type SeedLowRankWeights, mhaFrequencies, mhaKind, mhaWeightShapes, seedWeightShapes, validateMhaConfig, validateSeedConfig } from "../baseline-configs.js";
import { ConfigError, memoryError } from "../errors.js";
import { type AttentionLayer, type ForwardCall, type ForwardOptions, ForwardGate, type StageValues, beginForward, checkOutput, checkStage, disposedError } from "../layer.js";
import { checkWeights } from "../weights.js";
import type { F32Buf, PackedWeight, RopeTableBuf, WasmKernels } from "./kernels.js";
import { type Allocated, checkFloat32Range, checkMaxChunkTokens, chunkTokens, replaceWorkspace, runAllOrNothing } from "./layer-steps.js";
import { WasmRowStore } from "./row-store.js";

export interface WasmBaselineOptions {
  /** Tokens per K/V (or latent) row allocated on first use (default 16; grows x2 up to max_seq_len). */
  initialCapacity?: number;
  /** Most tokens per batch row processed at once (default: what fits a 64 MiB workspace). */
  maxChunkTokens?: number;
}

interface Workspace extends Allocated {
  N: number;
  s: number;
  x: F32Buf; q: F32Buf; k: F32Buf; v: F32Buf; lk: F32Buf | null; lv: F32Buf | null; o: F32Buf; y: F32Buf;
  attn: F32Buf; table: RopeTableBuf | null;
}

interface Packed {
  wq: PackedWeight; wk: PackedWeight; wv: PackedWeight; wo: PackedWeight;
  compK: PackedWeight | null; compV: PackedWeight | null; decompK: PackedWeight | null; decompV: PackedWeight | null;
}

/** The machinery both baselines share; `rank` null is MHA/GQA/MQA, else the seed's scheme. */
abstract class WasmBaselineLayer implements AttentionLayer {
  readonly backend = "wasm";
  abstract readonly kind: string;
  readonly dim: number;
  readonly cache: WasmRowStore;
  readonly freqs: Float64Array;
  readonly scale: number;
  private k: WasmKernels | null;
  private readonly w: Packed;
  private ws: Workspace | null = null;
  private readonly gate = new ForwardGate();
  private readonly maxChunkTokens: number | undefined;

  protected constructor(readonly cfg: MhaConfig, private readonly rank: number | null, weights: MhaWeights | SeedLowRankWeights, kernels: WasmKernels, options: WasmBaselineOptions, cacheNames: [string, string]) {
    const shapes = rank === null ? mhaWeightShapes(cfg) : seedWeightShapes({ ...cfg, rank });
    checkWeights(shapes, weights as unknown as Record<string, ArrayLike<number>>);
    for (const [name, shape] of Object.entries(shapes)) checkFloat32Range(`weights.${name}`, (weights as unknown as Record<string, ArrayLike<number>>)[name], shape as number[]);
    const cap0 = options.initialCapacity ?? 16;
    if (!Number.isInteger(cap0) || cap0 < 1) throw new ConfigError("options.initialCapacity", cap0, "a positive integer");
    this.maxChunkTokens = checkMaxChunkTokens(options.maxChunkTokens);
    this.k = kernels;
    this.dim = cfg.dim;
    this.freqs = mhaFrequencies(cfg);
    this.scale = 1 / Math.sqrt(cfg.head_dim);
    const { dim: D, n_heads: H, n_kv_heads: G, head_dim: hd, v_head_dim: dv } = cfg;
    const k = kernels, sw = weights as SeedLowRankWeights;
    this.w = {
      wq: k.packNK(weights.wq, H * hd, D), wk: k.packNK(weights.wk, G * hd, D), wv: k.packNK(weights.wv, G * dv, D), wo: k.packNK(weights.wo, D, H * dv),
      compK: rank === null ? null : k.packKN(sw.w_comp_k, rank, hd), // L = K W_comp: [hd, r], y = x B
      compV: rank === null ? null : k.packKN(sw.w_comp_v, rank, dv),
      decompK: rank === null ? null : k.packKN(sw.w_decomp_k, hd, rank), // K' = L W_decomp: [r, hd]
      decompV: rank === null ? null : k.packKN(sw.w_decomp_v, dv, rank),
    };
    const kw = rank ?? hd, vw = rank ?? dv;
    try {
      this.cache = new WasmRowStore(k.arena, [{ name: cacheNames[0], tail: [G, kw] }, { name: cacheNames[1], tail: [G, vw] }], cfg.max_batch_size, cfg.max_seq_len, Math.min(cap0, cfg.max_seq_len));
      this.ensureWorkspace(cfg.max_batch_size, 1);
    } catch (e) {
      throw memoryError(e, "max_batch_size", cfg.max_batch_size);
    }
  }

  /** The kernels in use (for benchmarks). */
  get kernels(): WasmKernels {
    if (!this.k) throw disposedError();
    return this.k;
  }

  /** Full name of the attention kernel with its ISA, e.g. "attn_gqa_relaxed". */
  get attentionKernelName(): string {
    return this.kernels.name(this.rank === null ? "attn_gqa" : "attn_seed_lowrank");
  }

  private floatsPerToken(): number {
    const { dim: D, n_heads: H, n_kv_heads: G, head_dim: hd, v_head_dim: dv } = this.cfg;
    return 2 * D + H * hd + G * (hd + dv) + (this.rank === null ? 0 : 2 * G * this.rank) + 2 * H * (hd + dv) + H;
  }

  private ensureWorkspace(B: number, s: number): Workspace {
    const N = B * s, cur = this.ws;
    if (cur && cur.N >= N && cur.s >= s) return cur;
    const k = this.kernels, { dim: D, n_heads: H, n_kv_heads: G, head_dim: hd, v_head_dim: dv, rope_dim: dr } = this.cfg, r = this.rank;
    const n = Math.max(N, cur?.N ?? 0), ss = Math.max(s, cur?.s ?? 0);
    const attnFloats = r === null ? k.attnGqaScratchFloats(ss, H, G, hd, dv) : k.attnSeedScratchFloats(ss, H, G, hd, dv);
    const next = replaceWorkspace(k, cur, (alloc, table) => ({
      N: n, s: ss,
      x: alloc(n * D), q: alloc(n * H * hd), k: alloc(n * G * hd), v: alloc(n * G * dv),
      lk: r === null ? null : alloc(n * G * r), lv: r === null ? null : alloc(n * G * r),
      o: alloc(n * H * dv), y: alloc(n * D), attn: alloc(attnFloats), table: dr > 0 ? table(ss, dr) : null,
    }));
    this.ws = next;
    k.arena.onRollback(() => (this.ws = cur));
    return next;
  }

  forward(x: ArrayLike<number>, opts: ForwardOptions): Float32Array {
    return this.gate.run(() => this.run(beginForward(() => this.k !== null, x, opts, this.cfg, this.cache, "float32")));
  }

  private run({ x, batch: B, seqlen: s, startPos }: ForwardCall<Float32Array>): Float32Array {
    const T = startPos + s, chunk = chunkTokens(s, B, this.floatsPerToken(), this.maxChunkTokens);
    let ws!: Workspace;
    return runAllOrNothing(this.kernels.arena, B, s, this.cfg.dim, chunk, () => {
      ws = this.ensureWorkspace(B, chunk);
      this.cache.reserve(B, T);
      const saved = this.cache.save(B, startPos, T);
      return () => this.cache.restore(saved);
    }, (t0, sc, out) => this.step(x, B, s, t0, sc, startPos, ws, out), () => this.cache.commit(B, T));
  }

  /** Tokens t0 .. t0+sc-1 of every row (absolute positions startPos+t0 ..). */
  private step(xIn: Float32Array, B: number, s: number, t0: number, sc: number, startPos: number, ws: Workspace, out: Float32Array): void {
    const k = this.k!, c = this.cfg, w = this.w, r = this.rank;
    const { dim: D, n_heads: H, n_kv_heads: G, head_dim: hd, v_head_dim: dv, rope_dim: dr } = c;
    const N = B * sc, p0 = startPos + t0;
    const f32 = k.arena.f32;
    for (let b = 0; b < B; b++) f32.set(xIn.subarray((b * s + t0) * D, (b * s + t0 + sc) * D), (ws.x.ptr >>> 2) + b * sc * D);
    // q, k, v projections; RoPE on the last rope_dim of every query and key head
    k.linear(N, ws.x, w.wq, ws.q);
    k.linear(N, ws.x, w.wk, ws.k);
    k.linear(N, ws.x, w.wv, ws.v);
    if (ws.table) {
      k.fillRopeTable(ws.table, this.freqs, { start: p0, count: sc });
      k.rope(c.rope_layout, N, H, ws.q, dr, ws.table, sc, { ldx: H * hd, headStride: hd, xOff: hd - dr });
      k.rope(c.rope_layout, N, G, ws.k, dr, ws.table, sc, { ldx: G * hd, headStride: hd, xOff: hd - dr });
    }
    // what the cache keeps: k/v, or the seed's latents L = k W_comp per kv head
    let kc = ws.k, vc = ws.v, kw = hd, vw = dv;
    if (r !== null) {
      k.gemm(N * G, ws.k, w.compK!, ws.lk!);
      k.gemm(N * G, ws.v, w.compV!, ws.lv!);
      kc = ws.lk!; vc = ws.lv!; kw = r; vw = r;
    }
    checkStage("latent", r === null ? "k" : "l_k", kc.view(), N, sc, t0, [G, kw], "float32");
    checkStage("latent", r === null ? "v" : "l_v", vc.view(), N, sc, t0, [G, vw], "float32");
    for (let b = 0; b < B; b++) {
      f32.copyWithin(this.cache.ptr(0, b, p0) >>> 2, (kc.ptr >>> 2) + b * sc * G * kw, (kc.ptr >>> 2) + (b + 1) * sc * G * kw);
      f32.copyWithin(this.cache.ptr(1, b, p0) >>> 2, (vc.ptr >>> 2) + b * sc * G * vw, (vc.ptr >>> 2) + (b + 1) * sc * G * vw);
    }
    for (let b = 0; b < B; b++) {
      const qOff = b * sc * H * hd, oOff = b * sc * H * dv;
      if (r === null) k.attnGqa(sc, H, G, hd, dv, p0, ws.q, this.cache.ptr(0, b), this.cache.ptr(1, b), this.scale, ws.o, ws.attn, qOff, oOff);
      else k.attnSeedLowRank({ s: sc, H, G, hd, dv, r, startPos: p0, q: ws.q, qOff, lkRow: this.cache.ptr(0, b), lvRow: this.cache.ptr(1, b), wdk: w.decompK!, wdv: w.decompV!, scale: this.scale, o: ws.o, oOff, scratch: ws.attn });
    }
    k.linear(N, ws.o, w.wo, ws.y);
    const y = ws.y.view().subarray(0, N * D);
    const stages: StageValues[] = [{ stage: "query", name: "q", data: ws.q.view(), tail: [H, hd] }, { stage: "attention", name: "o", data: ws.o.view(), tail: [H, dv] }];
    checkOutput(y, [D], stages, N, sc, t0, "float32");
    for (let b = 0; b < B; b++) out.set(y.subarray(b * sc * D, (b + 1) * sc * D), (b * s + t0) * D);
  }

  dispose(): void {
    this.k = null;
    this.ws = null;
  }
}

/** MHA (n_kv_heads = n_heads), GQA or MQA (n_kv_heads = 1) on the WASM core. */
export class WasmMha extends WasmBaselineLayer {
  readonly kind: string;
  constructor(cfg: MhaConfig, weights: MhaWeights, kernels: WasmKernels, options: WasmBaselineOptions = {}) {
    validateMhaConfig(cfg);
    super(cfg, null, weights, kernels, options, ["k_cache", "v_cache"]);
    this.kind = mhaKind(cfg);
  }
}

/** The seed text's per-head low-rank scheme on the WASM core. */
export class WasmSeedLowRank extends WasmBaselineLayer {
  readonly kind = "seed-lowrank";
  constructor(cfg: SeedLowRankConfig, weights: SeedLowRankWeights, kernels: WasmKernels, options: WasmBaselineOptions = {}) {
    validateSeedConfig(cfg);
    super(cfg, cfg.rank, weights, kernels, options, ["lk_cache", "lv_cache"]);
  }
}
