// MLA on the WASM core: the same AttentionLayer as the reference (src/reference/mla.ts), naive
// and absorbed, float32. Weights are uploaded and packed once; the cache and a scratch workspace
// live in the layer's own linear memory and grow only when a call needs more (a decode step of
// the configured batch allocates nothing). A call validates everything and reserves all memory
// before the first kernel writes, so a call that throws changes nothing.
//
// Long calls run in chunks of tokens (causal attention makes a chunked prefill identical to one
// call): the workspace stays bounded (absorbed prefill needs s*H*C floats per row otherwise).

import type { MlaConfig } from "../config.js";
import { MlaError } from "../errors.js";
import { type AttentionLayer, type ForwardOptions, checkForwardArgs } from "../layer.js";
import { RMSNORM_EPS, mlaSoftmaxScale, ropeFrequencies } from "../derived.js";
import { type MlaWeights, checkMlaWeights, mlaWeightShapes } from "../weights.js";
import type { F32Buf, PackedWeight, RopeTableBuf, WasmKernels } from "./kernels.js";
import { type Allocated, checkFloat32Range, queryStep, replaceWorkspace } from "./layer-common.js";
import { WasmRowStore } from "./row-store.js";

export type WasmMlaPath = "naive" | "absorbed";

export interface WasmMlaOptions {
  path?: WasmMlaPath;
  /** Tokens per cache row allocated on first use (default 16; grows x2 up to max_seq_len). */
  initialCapacity?: number;
  /** Most tokens per batch row processed at once (default: what fits a 64 MiB workspace). */
  maxChunkTokens?: number;
}

/** Workspace budget in floats (64 MiB) that decides the chunk length of long calls. */
const WORKSPACE_FLOATS = 16 * 1024 * 1024;

interface Workspace extends Allocated {
  N: number; // rows B*s it was sized for
  s: number;
  x: F32Buf; qa: F32Buf | null; q: F32Buf; kv: F32Buf; o: F32Buf; y: F32Buf;
  c: F32Buf | null; kpe: F32Buf | null; dec: F32Buf | null; // naive
  qabs: F32Buf | null; olat: F32Buf | null; // absorbed
  attn: F32Buf; table: RopeTableBuf;
}

export class WasmMla implements AttentionLayer {
  readonly backend = "wasm";
  readonly kind: string;
  readonly dim: number;
  readonly path: WasmMlaPath;
  readonly cache: WasmRowStore;
  readonly softmaxScale: number;
  readonly freqs: Float64Array;
  private k: WasmKernels | null;
  private readonly w: {
    wq: PackedWeight | null; wq_a: PackedWeight | null; q_norm: F32Buf | null; wq_b: PackedWeight | null;
    wkv_a: PackedWeight; kv_norm: F32Buf; wkv_b: PackedWeight | null; wuk: F32Buf | null; wuv: F32Buf | null; wo: PackedWeight;
  };
  private ws: Workspace | null = null;
  private readonly maxChunkTokens: number | undefined;
  private readonly floatsPerTokenRow: number;

  constructor(readonly cfg: MlaConfig, weights: MlaWeights, kernels: WasmKernels, options: WasmMlaOptions = {}) {
    checkMlaWeights(cfg, weights);
    for (const [name, shape] of Object.entries(mlaWeightShapes(cfg))) checkFloat32Range(`weights.${name}`, (weights as unknown as Record<string, ArrayLike<number>>)[name], shape as number[]);
    this.path = options.path ?? "absorbed";
    if (this.path !== "naive" && this.path !== "absorbed") throw new MlaError("options.path", this.path, '"naive" or "absorbed"');
    const cap0 = options.initialCapacity ?? 16;
    if (!Number.isInteger(cap0) || cap0 < 1) throw new MlaError("options.initialCapacity", cap0, "a positive integer");
    if (options.maxChunkTokens !== undefined && (!Number.isInteger(options.maxChunkTokens) || options.maxChunkTokens < 1)) {
      throw new MlaError("options.maxChunkTokens", options.maxChunkTokens, "a positive integer");
    }
    this.k = kernels;
    this.kind = `mla-${this.path}`;
    this.dim = cfg.dim;
    this.freqs = ropeFrequencies(cfg);
    this.softmaxScale = mlaSoftmaxScale(cfg);
    const H = cfg.n_heads, D = cfg.dim, Q = cfg.q_lora_rank, C = cfg.kv_lora_rank, dn = cfg.qk_nope_head_dim, dr = cfg.qk_rope_head_dim, dv = cfg.v_head_dim, qk = dn + dr;
    const k = kernels;
    this.w = {
      wq: Q === 0 ? k.packNK(weights.wq!, H * qk, D) : null,
      wq_a: Q > 0 ? k.packNK(weights.wq_a!, Q, D) : null,
      q_norm: Q > 0 ? k.alloc(Q, weights.q_norm!) : null,
      wq_b: Q > 0 ? k.packNK(weights.wq_b!, H * qk, Q) : null,
      wkv_a: k.packNK(weights.wkv_a, C + dr, D),
      kv_norm: k.alloc(C, weights.kv_norm),
      wkv_b: this.path === "naive" ? k.packNK(weights.wkv_b, H * (dn + dv), C) : null,
      wuk: this.path === "absorbed" ? k.packWUK(weights.wkv_b, H, C, dn, dv) : null,
      wuv: this.path === "absorbed" ? k.packWUV(weights.wkv_b, H, C, dn, dv) : null,
      wo: k.packNK(weights.wo, D, H * dv),
    };
    const streams = this.path === "naive"
      ? [{ name: "k_cache", tail: [H, qk] }, { name: "v_cache", tail: [H, dv] }]
      : [{ name: "kv_cache", tail: [C] }, { name: "pe_cache", tail: [dr] }];
    this.cache = new WasmRowStore(k.arena, streams, cfg.max_batch_size, cfg.max_seq_len, Math.min(cap0, cfg.max_seq_len));
    this.floatsPerTokenRow = this.floatsPerToken();
    this.maxChunkTokens = options.maxChunkTokens;
    this.ensureWorkspace(cfg.max_batch_size, 1); // decode steps of any batch need nothing more
    k.rowPointers(0, new Array<number>(cfg.max_batch_size).fill(0)); // the kernels' row-pointer tables
  }

  /** The kernels in use (for benchmarks: kernels.build, kernels.arena.grows). */
  get kernels(): WasmKernels {
    if (!this.k) throw new MlaError("layer", "disposed", "a layer that has not been disposed");
    return this.k;
  }

  private floatsPerToken(): number {
    const c = this.cfg, H = c.n_heads, C = c.kv_lora_rank, dr = c.qk_rope_head_dim, dn = c.qk_nope_head_dim, dv = c.v_head_dim, qk = dn + dr;
    let n = 2 * c.dim + c.q_lora_rank + H * qk + (C + dr) + H * dv + 2;
    n += this.path === "naive" ? C + dr + H * (dn + dv) : 2 * H * C + 2 * H;
    return n;
  }

  /** Size the workspace for N = B*s rows (s tokens per row); reallocates only to grow. */
  private ensureWorkspace(B: number, s: number): Workspace {
    const N = B * s;
    const cur = this.ws;
    if (cur && cur.N >= N && cur.s >= s) return cur;
    const k = this.kernels, c = this.cfg;
    const H = c.n_heads, C = c.kv_lora_rank, dr = c.qk_rope_head_dim, dn = c.qk_nope_head_dim, dv = c.v_head_dim, qk = dn + dr;
    const n = Math.max(N, cur?.N ?? 0), ss = Math.max(s, cur?.s ?? 0);
    const naive = this.path === "naive";
    const next = replaceWorkspace(k, cur, (alloc, table) => ({
      N: n, s: ss,
      x: alloc(n * c.dim), qa: c.q_lora_rank > 0 ? alloc(n * c.q_lora_rank) : null, q: alloc(n * H * qk), kv: alloc(n * (C + dr)), o: alloc(n * H * dv), y: alloc(n * c.dim),
      c: naive ? alloc(n * C) : null, kpe: naive ? alloc(n * dr) : null, dec: naive ? alloc(n * H * (dn + dv)) : null,
      qabs: naive ? null : alloc(n * H * C), olat: naive ? null : alloc(ss * H * C),
      attn: alloc(k.attnScratchFloats(naive ? Math.max(ss, H) : ss * H)), table: table(ss, dr),
    }));
    this.ws = next;
    return next;
  }

  forward(x: ArrayLike<number>, opts: ForwardOptions): Float32Array {
    if (!this.k) throw new MlaError("layer", "disposed", "a layer that has not been disposed");
    const cfg = this.cfg;
    checkForwardArgs(x, opts, { dim: cfg.dim, maxBatch: cfg.max_batch_size, maxSeqLen: cfg.max_seq_len, cachedLength: (b) => this.cache.length(b) });
    const { batch: B, seqlen: s, startPos } = opts;
    checkFloat32Range("x", x, [B, s, cfg.dim]);
    const T = startPos + s;
    // tokens per chunk: the workspace of B rows stays within WORKSPACE_FLOATS (or the caller's cap)
    const chunk = Math.min(s, this.maxChunkTokens ?? Math.max(1, Math.floor(WORKSPACE_FLOATS / (B * this.floatsPerTokenRow))));
    // Everything that can fail happens here, before any write.
    this.cache.reserve(B, T);
    const ws = this.ensureWorkspace(B, chunk);
    const out = new Float32Array(B * s * cfg.dim);
    for (let t0 = 0; t0 < s; t0 += chunk) this.step(x, B, s, t0, Math.min(chunk, s - t0), startPos, ws, out);
    this.cache.commit(B, T);
    return out;
  }

  /** Tokens t0 .. t0+sc-1 of every row (absolute positions startPos+t0 ..). */
  private step(xIn: ArrayLike<number>, B: number, s: number, t0: number, sc: number, startPos: number, ws: Workspace, out: Float32Array): void {
    const k = this.k!, c = this.cfg, w = this.w;
    const D = c.dim, H = c.n_heads, C = c.kv_lora_rank, dn = c.qk_nope_head_dim, dr = c.qk_rope_head_dim, dv = c.v_head_dim, qk = dn + dr;
    const N = B * sc, p0 = startPos + t0;
    queryStep(k, c, w, ws, this.freqs, xIn, B, s, t0, sc, p0); // x chunk in, (1) query, (4) rope on q_pe
    const kvRows: number[] = [], peRows: number[] = [];
    if (this.path === "absorbed") {
      // (2)(3)(4) latent + roped k_pe straight into the cache rows at p0
      for (let b = 0; b < B; b++) {
        kvRows.push(this.cache.ptr(0, b, p0));
        peRows.push(this.cache.ptr(1, b, p0));
      }
      k.compress({ N, s: sc, C, dr, x: ws.x, wkva: w.wkv_a, kvNorm: w.kv_norm, layout: c.rope_layout, table: ws.table, scratch: ws.kv, kvRows, peRows, eps: RMSNORM_EPS });
      // (8) q_abs, then the fused attention per row (W_UV applied inside)
      k.absorbQ(N, H, C, dn, qk, ws.q, w.wuk!, ws.qabs!);
      for (let b = 0; b < B; b++) {
        k.attnAbsorbedFused({ s: sc, H, C, dr, dn, dv, startPos: p0, qabs: ws.qabs!, qabsOff: b * sc * H * C, q: ws.q, qOff: b * sc * H * qk, kvRow: this.cache.ptr(0, b), peRow: this.cache.ptr(1, b), scale: this.softmaxScale, wuv: w.wuv!, olat: ws.olat!, o: ws.o, oOff: b * sc * H * dv, scratch: ws.attn });
      }
    } else {
      // latent and k_pe to scratch, (7) decompress the new tokens into the K/V rows at p0
      for (let b = 0; b < B; b++) {
        kvRows.push(ws.c!.at(b * sc * C));
        peRows.push(ws.kpe!.at(b * sc * dr));
      }
      k.compress({ N, s: sc, C, dr, x: ws.x, wkva: w.wkv_a, kvNorm: w.kv_norm, layout: c.rope_layout, table: ws.table, scratch: ws.kv, kvRows, peRows, eps: RMSNORM_EPS });
      const kRows: number[] = [], vRows: number[] = [];
      for (let b = 0; b < B; b++) {
        kRows.push(this.cache.ptr(0, b, p0));
        vRows.push(this.cache.ptr(1, b, p0));
      }
      k.decompress({ N, s: sc, H, C, dn, dr, dv, c: ws.c!, wkvb: w.wkv_b!, kpe: ws.kpe!, scratch: ws.dec!, kRows, vRows });
      for (let b = 0; b < B; b++) {
        k.attnCausal(sc, H, qk, dv, p0, ws.q, this.cache.ptr(0, b), this.cache.ptr(1, b), this.softmaxScale, ws.o, ws.attn, b * sc * H * qk, b * sc * H * dv);
      }
    }
    // (9) output projection, rows back to [B, s, D]
    k.linear(N, ws.o, w.wo, ws.y);
    const f = k.arena.f32, yb = ws.y.ptr >>> 2;
    for (let b = 0; b < B; b++) out.set(f.subarray(yb + b * sc * D, yb + (b + 1) * sc * D), (b * s + t0) * D);
  }

  dispose(): void {
    // The instance and its memory go with the last reference; nothing else to release.
    this.k = null;
    this.ws = null;
  }
}



/** Build a layer on a kernels instance (its linear memory becomes the layer's). */
export function createWasmMla(cfg: MlaConfig, weights: MlaWeights, kernels: WasmKernels, options: WasmMlaOptions = {}): WasmMla {
  return new WasmMla(cfg, weights, kernels, options);
}
