// MLA on the WASM core: the same AttentionLayer as the reference (src/reference/mla.ts), naive,
// absorbed and recompute side by side, float32. Weights are uploaded and packed once. The naive
// path keeps the decompressed per-head K/V (k_cache/v_cache, ./row-store.ts); the absorbed and
// recompute paths keep only the latent (kv_cache/pe_cache) in a paged pool in any storage format
// (./paged-cache.ts, default f32), encoded by the WASM codecs and read in place by the paged
// attention kernels (absorbed: in the latent space; recompute: wkv_b applied again to every cached
// token, block by block inside the kernel). Cache and
// workspace live in the layer's own linear memory and grow only when a call needs more (a decode
// step of the configured batch allocates nothing).
//
// A call copies its input once (beginForward; one forward at a time per layer), then reserves all
// memory (workspace, cache room) before memory grows and before the first kernel writes: an arena
// call (Arena.begin) that a failure rolls back, so a failed call leaves the memory budget as it
// was. Long calls run in chunks of tokens (causal attention makes a chunked prefill identical to
// one call), so the workspace stays bounded. Each chunk's new latents are checked (finite, no
// RMSNorm overflow, within the format) before they are stored, and its output before it is
// returned; any failure after a store (a later chunk, an overflow in attention or the output
// projection) restores the rows from the call's checkpoint (block tables, refcounts, records, or
// the naive rows it overwrote), so a call that throws changes nothing observable.

import type { MlaConfig } from "../config.js";
import { type MlaSizes, deriveMla } from "../derived.js";
import { ConfigError, memoryError } from "../errors.js";
import { type AttentionLayer, type ForwardCall, type ForwardOptions, ForwardGate, type StageValues, beginForward, checkOutput, checkStage, disposedError } from "../layer.js";
import { BLOCK_TOKENS, type StorageFormat, checkStorageFormat } from "../cache/layout.js";
import { type MlaWeights, mlaWeightShapes } from "../weights.js";
import { type MlaProjection, type MlaWeightsInput, type WeightFormat, checkMlaWeightsInput, checkWeightFormat, convertWeight, inputWeightFormat, isQuantisedWeight } from "../weight-formats.js";
import type { F32Buf, HeadWeights, PackedWeight, RopeTableBuf, WasmKernels } from "./kernels.js";
import { type Allocated, type LinearFn, checkFloat32Range, checkMaxChunkTokens, checkNormInput, chunkTokens, latentQueries, queryStep, replaceWorkspace, runAllOrNothing } from "./layer-steps.js";
import { WasmPagedCache } from "./paged-cache.js";
import { WasmRowStore } from "./row-store.js";
import type { ThreadPool } from "./threads/pool.js";
import { ThreadError } from "./threads/errors.js";

export type WasmMlaPath = "naive" | "absorbed" | "recompute";

export interface WasmMlaOptions {
  path?: WasmMlaPath;
  /** absorbed and recompute paths: storage format of the latent cache (default "f32"). Not an option of the naive path. */
  cacheFormat?: StorageFormat;
  /** absorbed and recompute paths: most 64-token blocks the pool may hold (default max_batch_size x ceil(max_seq_len / 64)); its memory grows with use. */
  cacheBlocks?: number;
  /** naive path: tokens per K/V row allocated on first use (default 16; grows x2 up to max_seq_len). */
  initialCapacity?: number;
  /** Most tokens per batch row processed at once (default: what fits a 64 MiB workspace). */
  maxChunkTokens?: number;
  /**
   * absorbed and naive paths: a thread pool whose kernels are this layer's (`pool.kernels`, one
   * shared memory). The query and output projections split their output panels, q-absorption and
   * W_UV their heads (the same bits as one thread); absorbed attention splits a decode token's
   * keys (split-KV, then the core's combine) and a prefill chunk's tokens (ranges of equal causal
   * work); naive decode attention splits its heads. The backend's `threads` option builds it; the
   * layer does not end it.
   */
  threadPool?: ThreadPool;
  /**
   * absorbed and naive paths: the format the projections are kept in (default: the format of the
   * quantised weights given, else "f32"). Quantised weights of this format are packed as they
   * are (an FP8 checkpoint's codes and block scales); float weights are converted on load by
   * src/weight-formats.ts's rule. The norms stay float32.
   */
  weightFormat?: WeightFormat;
}

interface Workspace extends Allocated {
  N: number; // rows B*s it was sized for
  s: number;
  blocks: number; // block-table entries (absorbed)
  x: F32Buf; qa: F32Buf | null; q: F32Buf; kv: F32Buf; c: F32Buf; kpe: F32Buf; o: F32Buf; y: F32Buf;
  dec: F32Buf | null; // naive
  qabs: F32Buf | null; olat: F32Buf | null; row: F32Buf | null; blockTable: F32Buf | null; // absorbed
  qlat: F32Buf | null; lse: F32Buf | null; // absorbed on threads: [q_abs | q_pe] per head, and the split's lse
  attn: F32Buf; table: RopeTableBuf;
}

interface PackedMlaWeights {
  wq: PackedWeight | null; wq_a: PackedWeight | null; q_norm: F32Buf | null; wq_b: PackedWeight | null;
  wkv_a: PackedWeight; kv_norm: F32Buf;
  wkv_b: PackedWeight | null; // naive: decompression
  wuk: F32Buf | HeadWeights | null; wuv: F32Buf | HeadWeights | null; // absorbed: W_UK, W_UV per head
  wkvbHeads: F32Buf | null; // recompute: wkv_b's [dn+dv, C] block of each head
  wo: PackedWeight;
}

/** Tokens of a prefill chunk the threaded absorbed path attends at a time (bounds its [q_abs | q_pe] copy to PREFILL_ROWS x H x (C + dr) floats). */
const PREFILL_ROWS = 16;

export class WasmMla implements AttentionLayer {
  readonly backend = "wasm";
  readonly kind: string;
  readonly dim: number;
  readonly path: WasmMlaPath;
  /** Latent cache format (absorbed and recompute paths), null on the naive path. */
  readonly format: StorageFormat | null;
  readonly cache: WasmRowStore | WasmPagedCache;
  readonly softmaxScale: number;
  readonly freqs: Float64Array;
  private readonly sizes: MlaSizes;
  private readonly eps: number;
  private k: WasmKernels | null;
  private readonly w: PackedMlaWeights;
  private ws: Workspace | null = null;
  private readonly maxChunkTokens: number | undefined;
  private readonly gate = new ForwardGate();
  /** The current call has stored latents (its checkpoint must be restored if it fails). */
  private stored = false;
  private readonly pool: ThreadPool | null;
  /** The projections on the pool's threads (panel split, same bits), or undefined: one thread. */
  private readonly lin: LinearFn | undefined;

  /** The format the projections are kept in. */
  readonly weightFormat: WeightFormat;
  /** Bytes the layer's packed weights take in its memory (projections with their scales, norms). */
  readonly weightBytes: number;

  constructor(readonly cfg: MlaConfig, weights: MlaWeights | MlaWeightsInput, kernels: WasmKernels, options: WasmMlaOptions = {}) {
    checkMlaWeightsInput(cfg, weights);
    for (const [name, shape] of Object.entries(mlaWeightShapes(cfg))) {
      const v = (weights as Record<string, unknown>)[name];
      if (!isQuantisedWeight(v)) checkFloat32Range(`weights.${name}`, v as ArrayLike<number>, shape as number[]);
    }
    this.weightFormat = options.weightFormat === undefined ? inputWeightFormat(weights) : checkWeightFormat(options.weightFormat, "options.weightFormat");
    this.path = options.path ?? "absorbed";
    if (this.weightFormat !== "f32" && this.path === "recompute") throw new ConfigError("options.weightFormat", this.weightFormat, '"f32" with path "recompute" (compressed weights run on the absorbed and naive paths)');
    if (this.path !== "naive" && this.path !== "absorbed" && this.path !== "recompute") throw new ConfigError("options.path", this.path, '"naive", "absorbed" or "recompute"');
    const naive = this.path === "naive";
    if (naive && options.cacheFormat !== undefined) throw new ConfigError("options.cacheFormat", options.cacheFormat, 'no cacheFormat with path "naive" (its cache is the decompressed float32 K/V; cache formats store the absorbed path\'s latent)');
    if (naive && options.cacheBlocks !== undefined) throw new ConfigError("options.cacheBlocks", options.cacheBlocks, 'no cacheBlocks with path "naive" (only the latent paths page their cache)');
    if (!naive && options.initialCapacity !== undefined) throw new ConfigError("options.initialCapacity", options.initialCapacity, `no initialCapacity with path "${this.path}" (its paged cache grows by 64-token blocks; cacheBlocks caps it)`);
    const cap0 = options.initialCapacity ?? 16;
    if (!Number.isInteger(cap0) || cap0 < 1) throw new ConfigError("options.initialCapacity", cap0, "a positive integer");
    this.maxChunkTokens = checkMaxChunkTokens(options.maxChunkTokens);
    this.format = naive ? null : checkStorageFormat(options.cacheFormat ?? "f32", "options.cacheFormat");
    if (options.threadPool && this.path === "recompute") throw new ConfigError("options.threadPool", "given", 'no thread pool with path "recompute" (the absorbed and naive paths split their work over threads)');
    if (options.threadPool && options.threadPool.kernels !== kernels) throw new ConfigError("options.threadPool", "another memory", "the pool whose kernels the layer is built on (pool.kernels)");
    this.pool = options.threadPool ?? null;
    this.lin = this.pool ? (M, x, wt, y) => void this.pool!.linearSplit(M, x, wt, y) : undefined;
    this.k = kernels;
    this.kind = `mla-${this.path}`;
    this.dim = cfg.dim;
    const d = deriveMla(cfg);
    this.sizes = d.sizes;
    this.freqs = d.freqs;
    this.softmaxScale = d.softmaxScale;
    this.eps = d.normEps;
    const { H, D, Q, C, dn, dr, dv, qk } = d.sizes;
    const k = kernels, wf = this.weightFormat;
    // each projection in the layer's format: float32 values, or the quantised tensor (as given when its format is wf)
    const inFormat = (name: MlaProjection, N: number, K: number) => convertWeight((weights as MlaWeightsInput)[name]!, wf, [N, K]);
    const pack = (name: MlaProjection, N: number, K: number): PackedWeight => {
      const v = inFormat(name, N, K);
      return isQuantisedWeight(v) ? k.packQuantised({ w: v, N, K, r0: 0, c0: 0, kn: false }) : k.packNK(v, N, K);
    };
    const wkvb = inFormat("wkv_b", H * (dn + dv), C);
    const heads = (kn: boolean): F32Buf | HeadWeights => {
      if (!isQuantisedWeight(wkvb)) return kn ? k.packWUK(wkvb, H, C, dn, dv) : k.packWUV(wkvb, H, C, dn, dv);
      // W_UK[h] = rows h*(dn+dv) .. +dn as B [dn, C]; W_UV[h] = the next dv rows as W [dv, C]
      return k.packQuantisedHeads(Array.from({ length: H }, (_, h) => (kn ? { w: wkvb, N: C, K: dn, r0: h * (dn + dv), c0: 0, kn: true } : { w: wkvb, N: dv, K: C, r0: h * (dn + dv) + dn, c0: 0, kn: false })));
    };
    this.w = {
      wq: Q === 0 ? pack("wq", H * qk, D) : null,
      wq_a: Q > 0 ? pack("wq_a", Q, D) : null,
      q_norm: Q > 0 ? k.alloc(Q, weights.q_norm!) : null,
      wq_b: Q > 0 ? pack("wq_b", H * qk, Q) : null,
      wkv_a: pack("wkv_a", C + dr, D),
      kv_norm: k.alloc(C, weights.kv_norm),
      wkv_b: naive ? (isQuantisedWeight(wkvb) ? k.packQuantised({ w: wkvb, N: H * (dn + dv), K: C, r0: 0, c0: 0, kn: false }) : k.packNK(wkvb, H * (dn + dv), C)) : null,
      wuk: this.path === "absorbed" ? heads(true) : null,
      wuv: this.path === "absorbed" ? heads(false) : null,
      wkvbHeads: this.path === "recompute" ? k.packPerHeadNK(wkvb as ArrayLike<number>, H, dn + dv, C) : null,
      wo: pack("wo", D, H * dv),
    };
    const bufBytes = (b: F32Buf | null | undefined) => 4 * (b?.length ?? 0);
    this.weightBytes = Object.values(this.w).reduce((sum: number, v: PackedWeight | F32Buf | HeadWeights | null) => {
      if (!v) return sum;
      if ("ptr" in v) return sum + bufBytes(v);
      return sum + bufBytes(v.buf) + bufBytes(v.scales);
    }, 0);
    try {
      this.cache = naive
        ? new WasmRowStore(k.arena, [{ name: "k_cache", tail: [H, qk] }, { name: "v_cache", tail: [H, dv] }], cfg.max_batch_size, cfg.max_seq_len, Math.min(cap0, cfg.max_seq_len))
        : new WasmPagedCache(k.arena, cfg, this.format!, options.cacheBlocks);
      this.ensureWorkspace(cfg.max_batch_size, 1, 1); // decode steps of any batch need nothing more (until the context outgrows the block table)
      // the splits' partials and scratch, so no call allocates them
      if (this.pool && !naive) this.pool.reserveDecodeSplit(this.pool.threads, PREFILL_ROWS * d.sizes.H, d.sizes.C, d.sizes.dr);
      if (this.pool && naive) this.pool.reserveHeadSplit(d.sizes.H);
      k.rowPointers(0, new Array<number>(cfg.max_batch_size).fill(0)); // the kernels' row-pointer tables
    } catch (e) {
      throw memoryError(e, "max_batch_size", cfg.max_batch_size); // per-row tables the runtime cannot allocate
    }
  }

  /** The kernels in use (for benchmarks: kernels.build, kernels.arena.grows). */
  get kernels(): WasmKernels {
    if (!this.k) throw disposedError();
    return this.k;
  }

  /** Full name of the attention kernel with its ISA, e.g. "attn_absorbed_paged_fp8_e4m3_relaxed". */
  get attentionKernelName(): string {
    if (this.path === "naive") return this.kernels.name("attn_causal_4x8");
    return this.kernels.name(`attn_${this.path}_paged_${this.format}`);
  }

  private get paged(): WasmPagedCache {
    return this.cache as WasmPagedCache;
  }
  private get rows(): WasmRowStore {
    return this.cache as WasmRowStore;
  }

  /** Workspace floats per token of a batch row (decides the chunk length). */
  private floatsPerToken(): number {
    const { H, D, Q, C, dn, dr, dv, qk } = this.sizes;
    const n = 2 * D + Q + H * qk + 2 * (C + dr) + H * dv + 2;
    return n + (this.path === "naive" ? H * (dn + dv) : this.path === "absorbed" ? 2 * H * C + 2 * H : 3 * H);
  }

  /** Size the workspace for N = B*s rows (s tokens per row) and T cached tokens; reallocates only to grow. */
  private ensureWorkspace(B: number, s: number, T: number): Workspace {
    const N = B * s, blocks = Math.ceil(T / BLOCK_TOKENS);
    const cur = this.ws;
    if (cur && cur.N >= N && cur.s >= s && cur.blocks >= blocks) return cur;
    const k = this.kernels, { H, D, Q, C, dn, dr, dv, qk } = this.sizes;
    const n = Math.max(N, cur?.N ?? 0), ss = Math.max(s, cur?.s ?? 0), nb = Math.max(blocks, cur?.blocks ?? 0);
    const naive = this.path === "naive", absorbed = this.path === "absorbed";
    const attnFloats = naive ? k.attnScratchFloats(Math.max(ss, H)) : absorbed ? k.attnPagedScratchFloats(ss * H, C, dr) : k.attnRecomputeScratchFloats(ss, H, C, dr, dn, dv);
    const next = replaceWorkspace(k, cur, (alloc, table) => ({
      N: n, s: ss, blocks: nb,
      x: alloc(n * D), qa: Q > 0 ? alloc(n * Q) : null, q: alloc(n * H * qk), kv: alloc(n * (C + dr)), c: alloc(n * C), kpe: alloc(n * dr), o: alloc(n * H * dv), y: alloc(n * D),
      dec: naive ? alloc(n * H * (dn + dv)) : null,
      qabs: absorbed ? alloc(n * H * C) : null, olat: absorbed ? alloc(ss * H * C) : null, row: naive ? null : alloc(C + dr), blockTable: naive ? null : alloc(nb),
      qlat: this.pool && absorbed ? alloc(Math.min(ss, PREFILL_ROWS) * H * (C + dr)) : null, lse: this.pool && absorbed ? alloc(Math.min(ss, PREFILL_ROWS) * H) : null,
      attn: alloc(attnFloats), table: table(ss, dr),
    }));
    this.ws = next;
    k.arena.onRollback(() => (this.ws = cur)); // inside a call: a failure keeps the old workspace (its free waits for commit)
    return next;
  }

  forward(x: ArrayLike<number>, opts: ForwardOptions): Float32Array {
    return this.gate.run(() => this.run(beginForward(() => this.k !== null, x, opts, this.cfg, this.cache, "float32")));
  }

  /** One validated call, all or nothing: see the file comment. */
  private run({ x, batch: B, seqlen: s, startPos }: ForwardCall<Float32Array>): Float32Array {
    // a pool that lost a thread (died, hung past its step timeout, terminated) cannot be repaired in place
    const lost = this.pool?.unusable;
    if (lost) throw new ThreadError("layer", lost, "a layer whose thread pool works: dispose this layer and create it again (backend.createMla); its cache is as the last successful call left it");
    const T = startPos + s, chunk = chunkTokens(s, B, this.floatsPerToken(), this.maxChunkTokens);
    let ws!: Workspace;
    return runAllOrNothing(this.kernels.arena, B, s, this.cfg.dim, chunk, () => {
      ws = this.ensureWorkspace(B, chunk, T);
      if (this.path === "naive") {
        this.rows.reserve(B, T);
        const saved = this.rows.save(B, startPos, T); // what a rollback overwrites
        return () => this.rows.restore(saved);
      }
      const places = Array.from({ length: B }, (_, b) => ({ seq: b, startPos, n: s }));
      this.paged.reserve(places);
      const cp = this.paged.latent.checkpoint(places);
      this.stored = false;
      return () => this.stored && this.paged.latent.restore(cp); // nothing to undo before the first store
    }, (t0, sc, out) => this.step(x, B, s, t0, sc, startPos, ws, out), () => this.path === "naive" && this.rows.commit(B, T));
  }

  /** Tokens t0 .. t0+sc-1 of every row (absolute positions startPos+t0 ..). */
  private step(xIn: Float32Array, B: number, s: number, t0: number, sc: number, startPos: number, ws: Workspace, out: Float32Array): void {
    const k = this.k!, c = this.cfg, w = this.w;
    const { H, D, C, dn, dr, dv, qk } = this.sizes;
    const N = B * sc, p0 = startPos + t0;
    const lin = this.lin;
    queryStep(k, c, w, ws, this.freqs, xIn, B, s, t0, sc, p0, lin); // x chunk in, (1) query, (4) rope on q_pe
    // (2)(3)(4) latent c = kv_norm(c_kv) and roped k_pe of the new tokens to scratch [N, C] / [N, dr]
    const kvRows: number[] = [], peRows: number[] = [];
    for (let b = 0; b < B; b++) {
      kvRows.push(ws.c.at(b * sc * C));
      peRows.push(ws.kpe.at(b * sc * dr));
    }
    k.compress({ N, s: sc, C, dr, x: ws.x, wkva: w.wkv_a, kvNorm: w.kv_norm, layout: c.rope_layout, table: ws.table, scratch: ws.kv, kvRows, peRows, eps: this.eps });
    // the new latents are checked before anything stores them: kv_norm's input (still in the scratch), c, k_pe
    checkNormInput("latent", "c_kv", ws.kv.view(), N, C, C + dr, sc, t0);
    checkStage("latent", "c", ws.c.view(), N, sc, t0, [C], "float32");
    checkStage("latent", "k_pe", ws.kpe.view(), N, sc, t0, [dr], "float32");
    if (this.path !== "naive") {
      // store: values the format cannot hold are refused first; the cache places the tokens
      // (blocks, rollback, copy on write) and the WASM codecs encode them in place
      const cache = this.paged.latent, fmt = this.format!, pool = this.paged.pool;
      const cv = ws.c.view(), pv = ws.kpe.view();
      for (let b = 0; b < B; b++) cache.checkValues(b, cv.subarray(b * sc * C, (b + 1) * sc * C), pv.subarray(b * sc * dr, (b + 1) * sc * dr));
      cache.placeBatch(Array.from({ length: B }, (_, b) => ({ seq: b, startPos: p0, n: sc })), (b, t, m, at) => {
        k.encodeSplit(fmt, m, C, dr, ws.c, (b * sc + t) * C, C, ws.kpe, (b * sc + t) * dr, dr, pool, at, ws.row!);
      });
      this.stored = true;
      if (this.path === "absorbed") {
        // (8) q_abs, then attention over the latent cache per row (W_UV applied inside)
        if (this.pool) this.pool.absorbQSplit(N, H, C, dn, qk, ws.q, w.wuk!, ws.qabs!);
        else k.absorbQ(N, H, C, dn, qk, ws.q, w.wuk!, ws.qabs!);
        for (let b = 0; b < B; b++) {
          if (this.pool) {
            this.attendOnThreads(b, sc, p0, ws, fmt, pool, cache.blockTable(b));
            continue;
          }
          k.attnAbsorbedPaged({ format: fmt, s: sc, H, C, dr, dn, dv, startPos: p0, qabs: ws.qabs!, qabsOff: b * sc * H * C, q: ws.q, qOff: b * sc * H * qk, pool, blocks: cache.blockTable(b), table: ws.blockTable!, scale: this.softmaxScale, wuv: w.wuv!, olat: ws.olat!, o: ws.o, oOff: b * sc * H * dv, scratch: ws.attn });
        }
      } else {
        // (7) inside attention: every cached latent decompressed again per block and head, then attended as the naive path
        for (let b = 0; b < B; b++) {
          k.attnRecomputePaged({ format: fmt, s: sc, H, C, dr, dn, dv, startPos: p0, q: ws.q, qOff: b * sc * H * qk, pool, blocks: cache.blockTable(b), table: ws.blockTable!, scale: this.softmaxScale, wkvb: w.wkvbHeads!, o: ws.o, oOff: b * sc * H * dv, scratch: ws.attn });
        }
      }
    } else {
      // (7) decompress the new tokens into the K/V rows at p0, then causal attention per row
      const kRows: number[] = [], vRows: number[] = [];
      for (let b = 0; b < B; b++) {
        kRows.push(this.rows.ptr(0, b, p0));
        vRows.push(this.rows.ptr(1, b, p0));
      }
      k.decompress({ N, s: sc, H, C, dn, dr, dv, c: ws.c, wkvb: w.wkv_b!, kpe: ws.kpe, scratch: ws.dec!, kRows, vRows });
      checkStage("decompression", "kv", ws.dec!.view(), N, sc, t0, [H, dn + dv], "float32"); // the K/V just written (uncommitted)
      for (let b = 0; b < B; b++) {
        // a decode token's heads each read their own K/V columns: split over the threads by heads
        if (this.pool && sc === 1) this.pool.attnDecodeNaiveSplit(H, qk, dv, p0, ws.q, this.rows.ptr(0, b), this.rows.ptr(1, b), this.softmaxScale, ws.o, b * H * qk, b * H * dv);
        else k.attnCausal(sc, H, qk, dv, p0, ws.q, this.rows.ptr(0, b), this.rows.ptr(1, b), this.softmaxScale, ws.o, ws.attn, b * sc * H * qk, b * sc * H * dv);
      }
    }
    // (9) output projection, rows back to [B, s, D]; a non-finite output says which stage overflowed
    if (lin) lin(N, ws.o, w.wo, ws.y);
    else k.linear(N, ws.o, w.wo, ws.y);
    const y = ws.y.view().subarray(0, N * D);
    const stages: StageValues[] = [{ stage: "query", name: "q", data: ws.q.view(), tail: [H, qk] }];
    if (ws.qabs) stages.push({ stage: "query", name: "q_abs", data: ws.qabs.view(), tail: [H, C] });
    stages.push({ stage: "attention", name: "o", data: ws.o.view(), tail: [H, dv] });
    checkOutput(y, [D], stages, N, sc, t0, "float32");
    for (let b = 0; b < B; b++) out.set(y.subarray(b * sc * D, (b + 1) * sc * D), (b * s + t0) * D);
  }

  /**
   * Batch row b's sc new tokens on the pool's threads, in pieces of at most PREFILL_ROWS tokens:
   * [q_abs | q_pe] per (token, head), attention over the cached latents (one token: split-KV, each
   * thread a 64-aligned key range with all heads, merged by the core's combine; several: the
   * tokens split into ranges of equal causal work), then W_UV split by heads. What
   * attnAbsorbedPaged computes on one thread.
   */
  private attendOnThreads(b: number, sc: number, p0: number, ws: Workspace, fmt: StorageFormat, pool: { ptr: number; bytes: number }, blocks: Int32Array): void {
    const k = this.k!, tp = this.pool!, { H, C, dn, dr, dv } = this.sizes;
    for (let u0 = 0; u0 < sc; u0 += PREFILL_ROWS) {
      const n = Math.min(PREFILL_ROWS, sc - u0), row = (b * sc + u0) * H;
      latentQueries(k, n * H, C, dn, dr, ws.qabs!, row, ws.q, row, ws.qlat!);
      const a = { format: fmt, sq: n, H, C, dr, len: p0 + u0 + n, causal: true, q: ws.qlat!, pool, blocks, table: ws.blockTable!, scale: this.softmaxScale, o: ws.olat!, lse: ws.lse! };
      if (n === 1) tp.attnMlaDecodeSplit(a);
      else tp.attnMlaRowSplit(a);
      tp.projectUVSplit(n, H, C, dv, ws.olat!, this.w.wuv!, ws.o, 0, row * dv);
    }
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
