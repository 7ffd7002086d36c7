// MLA's absorbed path on the WASM core with its latent cache in a storage format (f32, bf16, f16,
// int8, fp8_e4m3): the cache is a LatentCache-compatible paged pool in linear memory
// (./paged-cache.ts), new tokens are encoded by the WASM codecs (bit-identical to the TypeScript
// ones), and attention reads the records in place (assembly/attention_absorbed_paged.ts: one
// kernel per format, dequantising one 64-token block at a time). The rest of the step is the
// default layer's (./mla-layer.ts): same kernels, same order, so with format f32 the output is
// bit-identical to the contiguous float32 layer's.
//
// A call validates arguments and block room for the whole call first; values (finite, within the
// format's range, as LatentCache.writeBatch) are checked per chunk before the chunk is stored, and
// a failure in a later chunk restores the rows (rolled-back tokens included), so a call that
// throws changes nothing observable (lengths, contents, accounting).

import { type MlaConfig, qkHeadDim } from "../config.js";
import { MlaError } from "../errors.js";
import { type AttentionLayer, type ForwardOptions, checkForwardArgs } from "../layer.js";
import { FORMAT_CODE, type StorageFormat, checkStorageFormat } from "../cache/layout.js";
import { RMSNORM_EPS, mlaSoftmaxScale, ropeFrequencies } from "../derived.js";
import { type MlaWeights, checkMlaWeights, mlaWeightShapes } from "../weights.js";
import type { F32Buf, PackedWeight, RopeTableBuf, WasmKernels } from "./kernels.js";
import { WasmPagedCache } from "./paged-cache.js";
import { type Allocated, checkFloat32Range, queryStep, replaceWorkspace } from "./layer-common.js";

/** The paged kernels' exports (assembly/attention_absorbed_paged.ts). */
export interface PagedExports {
  attn_paged_scratch_floats(R: number, C: number, dr: number): number;
  codec_encode_split(fmt: number, kv: number, ldkv: number, pe: number, ldpe: number, n: number, C: number, dr: number, dst: number, row: number): void;
  attn_absorbed_paged_f32: PagedKernel;
  attn_absorbed_paged_bf16: PagedKernel;
  attn_absorbed_paged_f16: PagedKernel;
  attn_absorbed_paged_int8: PagedKernel;
  attn_absorbed_paged_fp8_e4m3: PagedKernel;
}
export type PagedKernel = (s: number, H: number, C: number, dr: number, dn: number, dv: number, startPos: number, qabs: number, q: number, pool: number, table: number, scale: number, wuv: number, olat: number, o: number, scratch: number) => void;

/** Raw export name of the paged absorbed kernel of a format (kernels.name() adds the ISA). */
export function pagedKernelName(format: StorageFormat): `attn_absorbed_paged_${StorageFormat}` {
  return `attn_absorbed_paged_${format}`;
}

export function pagedExports(k: WasmKernels): PagedExports {
  const ex = k.exports as unknown as PagedExports;
  if (typeof ex.attn_absorbed_paged_f32 !== "function") throw new MlaError("wasm module", "no attn_absorbed_paged_* exports", "a core built from assembly/index.ts with the paged kernels (run `npm run build`)");
  return ex;
}

export interface WasmPagedMlaOptions {
  /** Storage format of the latent cache. */
  cacheFormat: StorageFormat;
  /** Pool size in 64-token blocks (default max_batch_size x ceil(max_seq_len / 64)). */
  cacheBlocks?: number;
  /** Most tokens per batch row processed at once (default: what fits a 64 MiB workspace). */
  maxChunkTokens?: number;
}

const WORKSPACE_FLOATS = 16 * 1024 * 1024;

interface Workspace extends Allocated {
  N: number; s: number;
  x: F32Buf; qa: F32Buf | null; q: F32Buf; kv: F32Buf; c: F32Buf; kpe: F32Buf; qabs: F32Buf; olat: F32Buf; o: F32Buf; y: F32Buf; row: F32Buf;
  attn: F32Buf; table: RopeTableBuf;
}

export class WasmPagedMla implements AttentionLayer {
  readonly backend = "wasm";
  readonly kind = "mla-absorbed";
  readonly path = "absorbed" as const;
  readonly dim: number;
  readonly cache: WasmPagedCache;
  readonly format: StorageFormat;
  readonly softmaxScale: number;
  readonly freqs: Float64Array;
  private k: WasmKernels | null;
  private readonly px: PagedExports;
  private readonly attnKernel: PagedKernel;
  private readonly w: { wq: PackedWeight | null; wq_a: PackedWeight | null; q_norm: F32Buf | null; wq_b: PackedWeight | null; wkv_a: PackedWeight; kv_norm: F32Buf; wuk: F32Buf; wuv: F32Buf; wo: PackedWeight };
  private ws: Workspace | null = null;
  private readonly maxChunkTokens: number | undefined;

  constructor(readonly cfg: MlaConfig, weights: MlaWeights, kernels: WasmKernels, options: WasmPagedMlaOptions) {
    checkMlaWeights(cfg, weights);
    for (const [name, shape] of Object.entries(mlaWeightShapes(cfg))) checkFloat32Range(`weights.${name}`, (weights as unknown as Record<string, ArrayLike<number>>)[name], shape as number[]);
    this.format = checkStorageFormat(options.cacheFormat, "options.cacheFormat");
    if (options.maxChunkTokens !== undefined && (!Number.isInteger(options.maxChunkTokens) || options.maxChunkTokens < 1)) {
      throw new MlaError("options.maxChunkTokens", options.maxChunkTokens, "a positive integer");
    }
    this.maxChunkTokens = options.maxChunkTokens;
    this.px = pagedExports(kernels);
    this.attnKernel = this.px[pagedKernelName(this.format)];
    this.k = kernels;
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
      wuk: k.packWUK(weights.wkv_b, H, C, dn, dv),
      wuv: k.packWUV(weights.wkv_b, H, C, dn, dv),
      wo: k.packNK(weights.wo, D, H * dv),
    };
    this.cache = new WasmPagedCache(k.arena, cfg, this.format, options.cacheBlocks);
    this.ensureWorkspace(cfg.max_batch_size, 1);
    k.rowPointers(0, new Array<number>(cfg.max_batch_size).fill(0));
  }

  get kernels(): WasmKernels {
    if (!this.k) throw new MlaError("layer", "disposed", "a layer that has not been disposed");
    return this.k;
  }

  /** Full kernel name with ISA, e.g. "attn_absorbed_paged_fp8_e4m3_relaxed". */
  get attentionKernelName(): string {
    return this.kernels.name(pagedKernelName(this.format));
  }

  private floatsPerToken(): number {
    const c = this.cfg, H = c.n_heads, C = c.kv_lora_rank, dr = c.qk_rope_head_dim, dv = c.v_head_dim, qk = qkHeadDim(c);
    return 2 * c.dim + c.q_lora_rank + H * qk + 2 * (C + dr) + H * dv + 2 * H * C + 2 * H;
  }

  private ensureWorkspace(B: number, s: number): Workspace {
    const N = B * s, cur = this.ws;
    if (cur && cur.N >= N && cur.s >= s) return cur;
    const k = this.kernels, c = this.cfg;
    const H = c.n_heads, C = c.kv_lora_rank, dr = c.qk_rope_head_dim, dv = c.v_head_dim, qk = qkHeadDim(c);
    const n = Math.max(N, cur?.N ?? 0), ss = Math.max(s, cur?.s ?? 0);
    const next = replaceWorkspace(k, cur, (alloc, table) => ({
      N: n, s: ss,
      x: alloc(n * c.dim), qa: c.q_lora_rank > 0 ? alloc(n * c.q_lora_rank) : null, q: alloc(n * H * qk), kv: alloc(n * (C + dr)), c: alloc(n * C), kpe: alloc(n * dr),
      qabs: alloc(n * H * C), olat: alloc(ss * H * C), o: alloc(n * H * dv), y: alloc(n * c.dim), row: alloc(C + dr),
      attn: alloc(this.px.attn_paged_scratch_floats(ss * H, C, dr)), table: table(ss, dr),
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
    const chunk = Math.min(s, this.maxChunkTokens ?? Math.max(1, Math.floor(WORKSPACE_FLOATS / (B * this.floatsPerToken()))));
    // Everything that can fail before values exist: block room for the whole call, workspace.
    this.cache.latent.checkPlacement(Array.from({ length: B }, (_, b) => ({ seq: b, startPos, n: s })));
    const ws = this.ensureWorkspace(B, chunk);
    // A later chunk may still fail its value check: keep what a rollback write would overwrite.
    const saved = chunk < s ? Array.from({ length: B }, (_, b) => (startPos < this.cache.length(b) ? this.cache.latent.readRecords(b, startPos) : null)) : null;
    const out = new Float32Array(B * s * cfg.dim);
    for (let t0 = 0; t0 < s; t0 += chunk) {
      try {
        this.step(x, B, s, t0, Math.min(chunk, s - t0), startPos, ws, out);
      } catch (e) {
        if (t0 > 0 && saved) this.restore(B, startPos, saved);
        throw e;
      }
    }
    return out;
  }

  private restore(B: number, startPos: number, saved: (Uint8Array | null)[]): void {
    const cache = this.cache.latent;
    for (let b = 0; b < B; b++) {
      cache.truncate(b, startPos);
      if (saved[b]) cache.appendRecords(b, saved[b]!, this.format);
    }
  }

  private step(xIn: ArrayLike<number>, B: number, s: number, t0: number, sc: number, startPos: number, ws: Workspace, out: Float32Array): void {
    const k = this.k!, c = this.cfg, w = this.w;
    const D = c.dim, H = c.n_heads, C = c.kv_lora_rank, dn = c.qk_nope_head_dim, dr = c.qk_rope_head_dim, dv = c.v_head_dim, qk = dn + dr;
    const N = B * sc, p0 = startPos + t0;
    queryStep(k, c, w, ws, this.freqs, xIn, B, s, t0, sc, p0); // x chunk in, (1) query, (4) rope on q_pe
    // latent and roped k_pe of the new tokens to float32 scratch [N, C] / [N, dr]
    const kvRows: number[] = [], peRows: number[] = [];
    for (let b = 0; b < B; b++) {
      kvRows.push(ws.c.at(b * sc * C));
      peRows.push(ws.kpe.at(b * sc * dr));
    }
    k.compress({ N, s: sc, C, dr, x: ws.x, wkva: w.wkv_a, kvNorm: w.kv_norm, layout: c.rope_layout, table: ws.table, scratch: ws.kv, kvRows, peRows, eps: RMSNORM_EPS });
    // values the format cannot hold are refused (as LatentCache.writeBatch) before anything is stored
    const cache = this.cache.latent;
    {
      const cv = ws.c.view(), pv = ws.kpe.view();
      for (let b = 0; b < B; b++) cache.checkValues(b, cv.subarray(b * sc * C, (b + 1) * sc * C), pv.subarray(b * sc * dr, (b + 1) * sc * dr));
    }
    // store: the cache places the tokens (blocks, rollback, copy on write), the WASM codecs encode them in place
    const fmt = FORMAT_CODE[this.format], pool = this.cache.poolPtr;
    cache.placeBatch(Array.from({ length: B }, (_, b) => ({ seq: b, startPos: p0, n: sc })), (b, t, m, at) => {
      this.px.codec_encode_split(fmt, ws.c.at((b * sc + t) * C), C, ws.kpe.at((b * sc + t) * dr), dr, m, C, dr, pool + at, ws.row.ptr);
    });
    k.absorbQ(N, H, C, dn, qk, ws.q, w.wuk, ws.qabs);
    for (let b = 0; b < B; b++) {
      const table = this.cache.blockTablePtr(b);
      this.attnKernel(sc, H, C, dr, dn, dv, p0, ws.qabs.at(b * sc * H * C), ws.q.at(b * sc * H * qk), pool, table, this.softmaxScale, w.wuv.ptr, ws.olat.ptr, ws.o.at(b * sc * H * dv), ws.attn.ptr);
    }
    k.linear(N, ws.o, w.wo, ws.y);
    const f = k.arena.f32, yb = ws.y.ptr >>> 2;
    for (let b = 0; b < B; b++) out.set(f.subarray(yb + b * sc * D, yb + (b + 1) * sc * D), (b * s + t0) * D);
  }

  dispose(): void {
    this.k = null;
    this.ws = null;
  }
}

