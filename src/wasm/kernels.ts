// The low-level kernel API: typed wrappers that call each WASM kernel on arena buffers. The
// layer (./mla-layer.ts) is built on it; benchmarks time it. Every wrapper checks that its
// operands fit their buffers (O(1) per call) and then makes exactly one call into WASM.
//
// Kernel names carry tile and ISA as in XNNPACK: `kernels.name("gemm_4x8")` is
// "gemm_4x8_relaxed" or "gemm_4x8_simd128" (the build in use; the raw export is `exports.gemm_4x8`).
//
// Usage (Node):
//   const k = await WasmKernels.create(await loadCoreNode("auto"));   // or compileCore(bytes) in a browser
//   const w = k.packNK(W, N, K);            // W [N, K] row-major, y = x W^T; packed once
//   const x = k.alloc(M * K), y = k.alloc(M * N);
//   x.set(data); k.gemm(M, x, w, y); y.toArray();
// Buffers are float32 element ranges of the one linear memory; `view()` is valid until the next
// allocation (memory.grow detaches views), `toArray()` copies.

import { RMSNORM_EPS } from "../derived.js";
import { ConfigError, ShapeError } from "../errors.js";
import { BLOCK_TOKENS, FORMAT_CODE, type StorageFormat } from "../cache/layout.js";
import { Arena } from "./arena.js";
import type { WeightFormat } from "../weight-formats.js";
import { type PanelView, WF_CODE, groupLength, writePanels } from "./weight-panels.js";
import type { CompiledCore, WasmBuild } from "./loader.js";

/** Raw exports of build/mla-*.wasm (assembly/index.ts). Pointers are byte offsets, sizes and strides are float counts. */
export interface CoreExports {
  memory: WebAssembly.Memory;
  isa(): number;
  heap_base(): number;
  packed_size_8(N: number, K: number): number;
  pack_nk_8(w: number, ldw: number, N: number, K: number, dst: number): void;
  pack_kn_8(b: number, ldb: number, N: number, K: number, dst: number): void;
  gemm_4x8(M: number, N: number, K: number, x: number, ldx: number, wp: number, y: number, ldy: number): void;
  gemv_1x8(N: number, K: number, x: number, wp: number, y: number): void;
  linear(M: number, N: number, K: number, x: number, ldx: number, wp: number, y: number, ldy: number): void;
  linear_w(fmt: number, M: number, N: number, K: number, KG: number, x: number, ldx: number, wp: number, sp: number, y: number, ldy: number): void;
  packed_bytes_w(fmt: number, N: number, K: number): number;
  scale_floats_w(N: number, K: number, KG: number): number;
  head_stride_w(fmt: number, N: number, K: number): number;
  mla_compress_w(fmt: number, KG: number, sp: number, N: number, s: number, D: number, C: number, dr: number, x: number, ldx: number, wkva: number, kvNorm: number, eps: number, layout: number, cos: number, sin: number, scratch: number, kvRows: number, peRows: number): void;
  mla_decompress_w(fmt: number, KG: number, sp: number, N: number, s: number, H: number, C: number, dn: number, dr: number, dv: number, c: number, ldc: number, wkvb: number, kpe: number, scratch: number, kRows: number, vRows: number): void;
  mla_absorb_q_heads_w(fmt: number, KG: number, N: number, H: number, h0: number, h1: number, C: number, dn: number, qk: number, q: number, wuk: number, suk: number, sStride: number, qabs: number): void;
  mla_project_uv_heads_w(fmt: number, KG: number, s: number, H: number, h0: number, h1: number, C: number, dv: number, wuv: number, suv: number, sStride: number, olat: number, o: number): void;
  attn_absorbed_paged_latent(fmt: number, s: number, H: number, C: number, dr: number, dn: number, startPos: number, qabs: number, q: number, pool: number, poolBytes: number, table: number, scale: number, olat: number, scratch: number): void;
  rmsnorm(rows: number, n: number, x: number, ldx: number, w: number, y: number, ldy: number, eps: number): void;
  rope_interleaved(rows: number, heads: number, x: number, ldx: number, headStride: number, dr: number, cos: number, sin: number, s: number): void;
  rope_half(rows: number, heads: number, x: number, ldx: number, headStride: number, dr: number, cos: number, sin: number, s: number): void;
  mla_compress(N: number, s: number, D: number, C: number, dr: number, x: number, ldx: number, wkva: number, kvNorm: number, eps: number, layout: number, cos: number, sin: number, scratch: number, kvRows: number, peRows: number): void;
  mla_decompress(N: number, s: number, H: number, C: number, dn: number, dr: number, dv: number, c: number, ldc: number, wkvb: number, kpe: number, scratch: number, kRows: number, vRows: number): void;
  mla_absorb_q(N: number, H: number, C: number, dn: number, qk: number, q: number, wuk: number, qabs: number): void;
  mla_absorb_q_heads(N: number, H: number, h0: number, h1: number, C: number, dn: number, qk: number, q: number, wuk: number, qabs: number): void;
  mla_project_uv_heads(s: number, H: number, h0: number, h1: number, C: number, dv: number, wuv: number, olat: number, o: number): void;
  attn_decode_naive_heads(H: number, h0: number, h1: number, qk: number, dv: number, startPos: number, q: number, kRow: number, vRow: number, scale: number, o: number, scratch: number): void;
  attend_scratch_floats(R: number): number;
  attn_causal_4x8(s: number, H: number, qk: number, dv: number, startPos: number, q: number, kRow: number, vRow: number, scale: number, o: number, scratch: number): void;
  attn_decode_naive(H: number, qk: number, dv: number, startPos: number, q: number, kRow: number, vRow: number, scale: number, o: number, scratch: number): void;
  ATTN_KEY_BLOCK: WebAssembly.Global;
  attend_paged_scratch_floats(R: number, dA: number, dB: number): number;
  attn_absorbed_paged(fmt: number, s: number, H: number, C: number, dr: number, dn: number, dv: number, startPos: number, qabs: number, q: number, pool: number, poolBytes: number, table: number, scale: number, wuv: number, olat: number, o: number, scratch: number): void;
  attn_recompute_scratch_floats(s: number, H: number, C: number, dr: number, dn: number, dv: number): number;
  attn_recompute_paged(fmt: number, s: number, H: number, C: number, dr: number, dn: number, dv: number, startPos: number, q: number, pool: number, poolBytes: number, table: number, scale: number, wkvb: number, o: number, scratch: number): void;
  attn_gqa_scratch_floats(s: number, H: number, G: number, hd: number, dv: number): number;
  attn_gqa(s: number, H: number, G: number, hd: number, dv: number, startPos: number, q: number, k: number, v: number, scale: number, o: number, scratch: number): void;
  attn_seed_scratch_floats(s: number, H: number, G: number, hd: number, dv: number): number;
  attn_seed_lowrank(s: number, H: number, G: number, hd: number, dv: number, r: number, startPos: number, q: number, lk: number, lv: number, wdk: number, wdv: number, scale: number, o: number, scratch: number): void;
  codec_token_bytes(fmt: number, C: number, dr: number): number;
  codec_encode(fmt: number, src: number, n: number, C: number, dr: number, dst: number): void;
  codec_encode_split(fmt: number, kv: number, ldkv: number, pe: number, ldpe: number, n: number, C: number, dr: number, dst: number, row: number): void;
  codec_decode(fmt: number, src: number, n: number, C: number, dr: number, dst: number): void;
  codec_decode_simd(fmt: number, src: number, n: number, C: number, dr: number, dst: number): void;
  codec_dequant_tile(fmt: number, rec: number, n: number, C: number, dr: number, kv: number, ldkv: number, pe: number, ldpe: number): void;
  mla_project_uv(s: number, H: number, C: number, dv: number, wuv: number, olat: number, o: number): void;
  attn_mla_decode(fmt: number, sparse: number, causal: number, sq: number, H: number, C: number, dr: number, len: number, q: number, sel: number, topk: number, pool: number, poolBytes: number, table: number, blockBytes: number, scale: number, o: number, lse: number, scratch: number): void;
  attn_mla_decode_range(fmt: number, sparse: number, causal: number, sq: number, H: number, C: number, dr: number, len: number, jBegin: number, jEnd: number, q: number, sel: number, topk: number, pool: number, poolBytes: number, table: number, blockBytes: number, scale: number, o: number, lse: number, scratch: number): void;
  attn_mla_combine(n: number, sq: number, H: number, C: number, oPart: number, oStride: number, lsePart: number, lseStride: number, o: number, lse: number): void;
  dsa_index_scores(s: number, T: number, HI: number, DI: number, q8: number, w: number, k8: number, ldk: number, ks: number, out: number, ldo: number, scratch: number): void;
  dsa_index_scores_paged(s: number, T: number, HI: number, DI: number, q8: number, w: number, pool: number, poolBytes: number, table: number, blockBytes: number, keysOffset: number, out: number, ldo: number, scratch: number): void;
  dsa_index_scratch_floats(HI: number, DI: number): number;
  dsa_topk(scores: number, visible: number, k: number, out: number, heap: number): void;
}

/** A float32 range [ptr, ptr + 4*length) of the arena. */
export class F32Buf {
  constructor(private readonly k: WasmKernels, readonly ptr: number, readonly length: number) {}
  /** Live view (invalid after the next allocation that grows memory). */
  view(): Float32Array {
    return this.k.arena.f32.subarray(this.ptr >>> 2, (this.ptr >>> 2) + this.length);
  }
  set(data: ArrayLike<number>, offset = 0): this {
    if (offset < 0 || offset + data.length > this.length) throw new ShapeError("data.length", data.length, `<= ${this.length - offset} (buffer of ${this.length} from offset ${offset})`);
    this.k.arena.f32.set(data, (this.ptr >>> 2) + offset);
    return this;
  }
  fill(value: number): this {
    this.view().fill(value);
    return this;
  }
  /** A copy. */
  toArray(offset = 0, length = this.length - offset): Float32Array {
    return this.k.arena.f32.slice((this.ptr >>> 2) + offset, (this.ptr >>> 2) + offset + length);
  }
  /** Byte pointer of element i. */
  at(i: number): number {
    return this.ptr + 4 * i;
  }
  free(): void {
    this.k.arena.free(this.ptr);
  }
}

/** linear's checked arguments: byte pointers, the weight format's code and k-group, and the bytes of one panel (and of its scales). */
export interface LinearArgs { M: number; N: number; K: number; x: number; ldx: number; wp: number; y: number; ldy: number; fmt: number; kg: number; sp: number; panelBytes: number; panelScaleBytes: number }

/** A weight packed into 8-column panels: y = x W^T with W [N, K]; float32 unless `format` says otherwise. */
export interface PackedWeight {
  buf: F32Buf;
  N: number;
  K: number;
  /** Compressed panels (assembly/weights.ts): the format, its k-group and scales (int8, fp8). */
  format?: WeightFormat;
  kg?: number;
  scales?: F32Buf | null;
}

/** H per-head weights in one buffer (W_UK, W_UV), each [N, K] packed; a bare F32Buf is float32 heads packed_size_8 floats apart. */
export interface HeadWeights {
  buf: F32Buf;
  format: WeightFormat;
  kg: number;
  scales: F32Buf | null;
  /** Bytes between two heads' scales. */
  sStride: number;
}

function headWeights(w: F32Buf | HeadWeights): HeadWeights {
  return w instanceof F32Buf ? { buf: w, format: "f32", kg: 0, scales: null, sStride: 0 } : w;
}

/** A byte range [ptr, ptr + bytes) of linear memory (a cache pool, records). */
export interface ByteRange {
  ptr: number;
  bytes: number;
}

/** cos/sin [s, dr/2] tables for RoPE. */
export interface RopeTableBuf {
  cos: F32Buf;
  sin: F32Buf;
  /** rows the tables hold */
  rows: number;
  half: number;
}

/** A head range h0 .. h1-1 inside 0 .. H-1, not empty. */
function checkHeads(H: number, h0: number, h1: number): void {
  if (!(Number.isInteger(h0) && Number.isInteger(h1) && 0 <= h0 && h0 < h1 && h1 <= H)) throw new ShapeError("heads", [h0, h1], `a range h0 < h1 of whole heads inside 0 .. ${H}`);
}

function need(field: string, buf: F32Buf, off: number, count: number): void {
  if (!(off >= 0 && off + count <= buf.length)) throw new ShapeError(field, buf.length, `>= ${off + count} floats (offset ${off} + ${count})`);
}

/** n elements from off without copying typed arrays (weights can be hundreds of MB). */
function slice(src: ArrayLike<number>, off: number, n: number): ArrayLike<number> {
  if (ArrayBuffer.isView(src)) return (src as unknown as Float32Array).subarray(off, off + n);
  return Array.prototype.slice.call(src, off, off + n) as number[];
}

/** G key/value heads must divide the H query heads. */
function checkGroups(H: number, G: number): void {
  if (!(Number.isInteger(G) && G >= 1 && H % G === 0)) throw new ShapeError("G", G, `a divisor of H = ${H} (key/value heads)`);
}

/** Elements a strided [rows, n] matrix spans. */
function span(rows: number, n: number, ld: number): number {
  return rows === 0 ? 0 : (rows - 1) * ld + n;
}

/** Arguments of WasmKernels.attnMlaDecode (see there). */
export interface MlaDecodeKernelArgs { format: StorageFormat; sq: number; H: number; C: number; dr: number; len: number; q: F32Buf; qOff?: number; pool: ByteRange; blocks: Int32Array; table: F32Buf; blockBytes?: number; scale: number; causal?: boolean; sel?: { range: ByteRange; at: number; topk: number }; o: F32Buf; oOff?: number; lse: F32Buf; lseOff?: number; scratch: F32Buf }

export class WasmKernels {
  readonly arena: Arena;
  private rowTable: { ptr: number; cap: number } | null = null;

  private constructor(readonly instance: WebAssembly.Instance, readonly build: WasmBuild) {
    this.arena = new Arena(this.exports.memory, this.exports.heap_base());
    const isa = this.exports.isa() === 1 ? "relaxed" : "simd128";
    if (isa !== build) throw new Error(`module reports ISA ${isa} but was loaded as ${build}`);
    // The paged kernels find key block j0 at table[j0 / KB]: the attention key block must be the cache's block.
    const kb = this.exports.ATTN_KEY_BLOCK?.value;
    if (kb !== BLOCK_TOKENS) throw new ConfigError("wasm core ATTN_KEY_BLOCK", kb, `${BLOCK_TOKENS} (BLOCK_TOKENS of src/cache/layout.ts): rebuild the core with npm run build`);
  }

  /** Instantiate a compiled core: a fresh module instance with its own linear memory. */
  static async create(core: CompiledCore, imports: WebAssembly.Imports = {}): Promise<WasmKernels> {
    return new WasmKernels(await WebAssembly.instantiate(core.module, imports), core.build);
  }
  /** Synchronous instantiation (fine in Node and workers; browsers' main thread prefers create). */
  static createSync(core: CompiledCore, imports: WebAssembly.Imports = {}): WasmKernels {
    return new WasmKernels(new WebAssembly.Instance(core.module, imports), core.build);
  }

  get exports(): CoreExports {
    return this.instance.exports as unknown as CoreExports;
  }

  /** XNNPACK-style full name: tile + ISA, e.g. name("gemm_4x8") = "gemm_4x8_relaxed". */
  name(kernel: string): string {
    return `${kernel}_${this.build}`;
  }

  alloc(n: number, init?: ArrayLike<number>): F32Buf {
    const b = new F32Buf(this, this.arena.allocF32(n), n);
    if (init) b.set(init);
    return b;
  }

  // ---- weights ----------------------------------------------------------------------------

  /** Pack W [N, K] (PyTorch Linear, y = x W^T) from a JS array or an arena buffer at `off` with row stride ldw. */
  packNK(w: ArrayLike<number> | F32Buf, N: number, K: number, off = 0, ldw = K): PackedWeight {
    return this.pack(w, N, K, off, ldw, span(N, K, ldw), false);
  }
  /** Pack B [K, N] (y = x B) into the same panels (W = B^T). */
  packKN(b: ArrayLike<number> | F32Buf, N: number, K: number, off = 0, ldb = N): PackedWeight {
    return this.pack(b, N, K, off, ldb, span(K, N, ldb), true);
  }
  private pack(src: ArrayLike<number> | F32Buf, N: number, K: number, off: number, ld: number, spanLen: number, kn: boolean): PackedWeight {
    const out = this.alloc(this.exports.packed_size_8(N, K));
    let tmp: F32Buf | null = null;
    let s: F32Buf;
    if (src instanceof F32Buf) s = src;
    else {
      tmp = this.alloc(spanLen);
      tmp.set(slice(src, off, spanLen));
      s = tmp;
      off = 0;
    }
    need("packed source", s, off, spanLen);
    if (kn) this.exports.pack_kn_8(s.at(off), ld, N, K, out.ptr);
    else this.exports.pack_nk_8(s.at(off), ld, N, K, out.ptr);
    tmp?.free();
    return { buf: out, N, K };
  }

  /** Pack a view of a quantised weight into compressed panels (its codes and scales as they are). */
  packQuantised(v: PanelView): PackedWeight {
    const fmt = WF_CODE[v.w.format], KG = groupLength([v]);
    const bytes = this.exports.packed_bytes_w(fmt, v.N, v.K);
    const buf = this.alloc(Math.ceil(bytes / 4));
    const scales = v.w.format === "bf16" ? null : this.alloc(this.exports.scale_floats_w(v.N, v.K, KG));
    writePanels(v, KG, new Uint8Array(this.arena.memory.buffer, buf.ptr, bytes), scales && new Float32Array(this.arena.memory.buffer, scales.ptr, scales.length));
    return { buf, N: v.N, K: v.K, format: v.w.format, kg: KG, scales };
  }

  /** Pack per-head views (one source, the same [N, K] each) into one HeadWeights buffer: W_UK / W_UV of a quantised wkv_b. */
  packQuantisedHeads(views: readonly PanelView[]): HeadWeights {
    const v0 = views[0], format = v0.w.format, fmt = WF_CODE[format], KG = groupLength(views);
    const stride = this.exports.head_stride_w(fmt, v0.N, v0.K), perScales = format === "bf16" ? 0 : this.exports.scale_floats_w(v0.N, v0.K, KG);
    const buf = this.alloc(Math.ceil((views.length * stride) / 4));
    const scales = perScales ? this.alloc(views.length * perScales) : null;
    views.forEach((v, h) => {
      const mem = this.arena.memory.buffer;
      writePanels(v, KG, new Uint8Array(mem, buf.ptr + h * stride, this.exports.packed_bytes_w(fmt, v.N, v.K)), scales && new Float32Array(mem, scales.ptr + 4 * h * perScales, perScales));
    });
    return { buf, format, kg: KG, scales, sStride: 4 * perScales };
  }

  // ---- projections ------------------------------------------------------------------------

  /** y [M, N] = x [M, K] W^T (gemm_4x8). Strides default to dense rows; offsets in floats. */
  gemm(M: number, x: F32Buf, w: PackedWeight, y: F32Buf, o: { ldx?: number; ldy?: number; xOff?: number; yOff?: number } = {}): void {
    const ldx = o.ldx ?? w.K, ldy = o.ldy ?? w.N, xOff = o.xOff ?? 0, yOff = o.yOff ?? 0;
    need("x", x, xOff, span(M, w.K, ldx));
    need("y", y, yOff, span(M, w.N, ldy));
    this.exports.gemm_4x8(M, w.N, w.K, x.at(xOff), ldx, w.buf.ptr, y.at(yOff), ldy);
  }
  /** y [N] = W x (gemv_1x8), the decode projection. */
  gemv(x: F32Buf, w: PackedWeight, y: F32Buf, xOff = 0, yOff = 0): void {
    need("x", x, xOff, w.K);
    need("y", y, yOff, w.N);
    this.exports.gemv_1x8(w.N, w.K, x.at(xOff), w.buf.ptr, y.at(yOff));
  }
  /** GEMV when M = 1, GEMM otherwise (what the layer calls). */
  linear(M: number, x: F32Buf, w: PackedWeight, y: F32Buf, o: { ldx?: number; ldy?: number; xOff?: number; yOff?: number } = {}): void {
    const a = this.linearArgs(M, x, w, y, o);
    if (a.fmt === 0) this.exports.linear(a.M, a.N, a.K, a.x, a.ldx, a.wp, a.y, a.ldy);
    else this.exports.linear_w(a.fmt, a.M, a.N, a.K, a.kg, a.x, a.ldx, a.wp, a.sp, a.y, a.ldy);
  }

  /** linear's checked arguments (byte pointers), for a caller that splits the call over threads (8-column panels of wp are 32 K bytes apart). */
  linearArgs(M: number, x: F32Buf, w: PackedWeight, y: F32Buf, o: { ldx?: number; ldy?: number; xOff?: number; yOff?: number } = {}): LinearArgs {
    const ldx = o.ldx ?? w.K, ldy = o.ldy ?? w.N, xOff = o.xOff ?? 0, yOff = o.yOff ?? 0;
    need("x", x, xOff, span(M, w.K, ldx));
    need("y", y, yOff, span(M, w.N, ldy));
    const fmt = WF_CODE[w.format ?? "f32"], kg = w.kg ?? 0;
    const panelBytes = fmt === 0 ? 32 * w.K : this.exports.packed_bytes_w(fmt, 8, w.K);
    const panelScaleBytes = w.scales ? 32 * Math.ceil(w.K / kg) : 0;
    return { M, N: w.N, K: w.K, x: x.at(xOff), ldx, wp: w.buf.ptr, y: y.at(yOff), ldy, fmt, kg, sp: w.scales?.ptr ?? 0, panelBytes, panelScaleBytes };
  }

  // ---- norm and rope ----------------------------------------------------------------------

  /** y = x * rsqrt(mean(x^2) + eps) * w over rows of n (in place allowed). */
  rmsnorm(rows: number, n: number, x: F32Buf, w: F32Buf, y: F32Buf, o: { ldx?: number; ldy?: number; xOff?: number; yOff?: number; eps?: number } = {}): void {
    const ldx = o.ldx ?? n, ldy = o.ldy ?? n, xOff = o.xOff ?? 0, yOff = o.yOff ?? 0;
    need("x", x, xOff, span(rows, n, ldx));
    need("y", y, yOff, span(rows, n, ldy));
    need("w", w, 0, n);
    this.exports.rmsnorm(rows, n, x.at(xOff), ldx, w.ptr, y.at(yOff), ldy, o.eps ?? RMSNORM_EPS);
  }

  /** Allocate cos/sin tables of `rows` positions for dr. */
  allocRopeTable(rows: number, dr: number): RopeTableBuf {
    const half = dr / 2;
    return { cos: this.alloc(rows * half), sin: this.alloc(rows * half), rows, half };
  }
  /** Fill table rows 0..positions.length-1 with factor * cos/sin(pos * f_i) (computed in float64, stored float32). */
  fillRopeTable(t: RopeTableBuf, freqs: ArrayLike<number>, positions: ArrayLike<number> | { start: number; count: number }, factor = 1): void {
    const half = t.half;
    if (freqs.length !== half) throw new ShapeError("freqs.length", freqs.length, `${half} (dr/2 of the table)`);
    const count = "start" in positions ? positions.count : positions.length;
    if (count > t.rows) throw new ShapeError("positions", count, `<= ${t.rows} rows of the table`);
    const f32 = this.arena.f32, c0 = t.cos.ptr >>> 2, s0 = t.sin.ptr >>> 2;
    for (let p = 0; p < count; p++) {
      const pos = "start" in positions ? positions.start + p : positions[p];
      for (let i = 0; i < half; i++) {
        const a = pos * freqs[i];
        f32[c0 + p * half + i] = Math.cos(a) * factor;
        f32[s0 + p * half + i] = Math.sin(a) * factor;
      }
    }
  }
  /** Rotate rows x heads slices of dr in place; slice (r, h) at xOff + r*ldx + h*headStride; table row r % s. */
  rope(layout: "interleaved" | "half", rows: number, heads: number, x: F32Buf, dr: number, t: RopeTableBuf, s: number, o: { ldx?: number; headStride?: number; xOff?: number } = {}): void {
    const headStride = o.headStride ?? dr, ldx = o.ldx ?? heads * headStride, xOff = o.xOff ?? 0;
    need("x", x, xOff, span(rows, span(heads, dr, headStride), ldx));
    if (s > t.rows || t.half !== dr / 2) throw new ShapeError("rope table", t.rows, `>= ${s} rows of dr/2 = ${dr / 2}`);
    const fn = layout === "interleaved" ? this.exports.rope_interleaved : this.exports.rope_half;
    fn(rows, heads, x.at(xOff), ldx, headStride, dr, t.cos.ptr, t.sin.ptr, s);
  }

  // ---- MLA steps --------------------------------------------------------------------------

  /** Write batch-row pointers (bytes) into the shared u32 table; returns its byte pointer. `slot` 0..3 picks a table. */
  rowPointers(slot: number, ptrs: ArrayLike<number>): number {
    // Four tables (slots) of `cap` u32 entries each; grown only when a batch larger than cap appears.
    if (!this.rowTable || this.rowTable.cap < ptrs.length) {
      if (this.rowTable) this.arena.free(this.rowTable.ptr);
      const cap = Math.max(64, ptrs.length);
      this.rowTable = { ptr: this.arena.alloc(4 * cap * 4), cap };
    }
    const base = this.rowTable.ptr + slot * this.rowTable.cap * 4;
    const u32 = this.arena.u32;
    for (let i = 0; i < ptrs.length; i++) u32[(base >>> 2) + i] = ptrs[i];
    return base;
  }

  /**
   * Compression for N = B*s rows of x [N, D]: kv = wkv_a(x) into scratch [N, C+dr], then for row
   * r = b*s + t: latent kv_norm(kv[:C]) to kvRows[b] + t*C, roped k_pe to peRows[b] + t*dr
   * (byte pointers, already at the first new position).
   */
  compress(a: { N: number; s: number; C: number; dr: number; x: F32Buf; wkva: PackedWeight; kvNorm: F32Buf; layout: "interleaved" | "half"; table: RopeTableBuf; scratch: F32Buf; kvRows: ArrayLike<number>; peRows: ArrayLike<number>; eps?: number }): void {
    const w = a.wkva;
    if (w.N !== a.C + a.dr) throw new ShapeError("wkva.N", w.N, `C + dr = ${a.C + a.dr}`);
    need("x", a.x, 0, a.N * w.K);
    need("scratch", a.scratch, 0, a.N * w.N);
    need("kvNorm", a.kvNorm, 0, a.C);
    const B = a.N / a.s;
    if (a.kvRows.length < B || a.peRows.length < B) throw new ShapeError("kvRows/peRows", Math.min(a.kvRows.length, a.peRows.length), `>= ${B} row pointers`);
    for (let b = 0; b < B; b++) {
      this.checkRange(`kvRows[${b}]`, { ptr: a.kvRows[b], bytes: 4 * a.s * a.C });
      this.checkRange(`peRows[${b}]`, { ptr: a.peRows[b], bytes: 4 * a.s * a.dr });
    }
    const kvT = this.rowPointers(0, a.kvRows), peT = this.rowPointers(1, a.peRows);
    this.exports.mla_compress_w(WF_CODE[w.format ?? "f32"], w.kg ?? 0, w.scales?.ptr ?? 0, a.N, a.s, w.K, a.C, a.dr, a.x.ptr, w.K, w.buf.ptr, a.kvNorm.ptr, a.eps ?? RMSNORM_EPS, a.layout === "interleaved" ? 0 : 1, a.table.cos.ptr, a.table.sin.ptr, a.scratch.ptr, kvT, peT);
  }

  /** Decompression: wkv_b(c) for N rows into scratch [N, H*(dn+dv)], scattered to per-head K (with k_pe broadcast) and V rows. */
  decompress(a: { N: number; s: number; H: number; C: number; dn: number; dr: number; dv: number; c: F32Buf; wkvb: PackedWeight; kpe: F32Buf; scratch: F32Buf; kRows: ArrayLike<number>; vRows: ArrayLike<number> }): void {
    need("c", a.c, 0, a.N * a.C);
    need("kpe", a.kpe, 0, a.N * a.dr);
    need("scratch", a.scratch, 0, a.N * a.H * (a.dn + a.dv));
    if (a.wkvb.N !== a.H * (a.dn + a.dv) || a.wkvb.K !== a.C) throw new ShapeError("wkvb", `[${a.wkvb.N}, ${a.wkvb.K}]`, `[${a.H * (a.dn + a.dv)}, ${a.C}]`);
    const B = a.N / a.s;
    if (a.kRows.length < B || a.vRows.length < B) throw new ShapeError("kRows/vRows", Math.min(a.kRows.length, a.vRows.length), `>= ${B} row pointers`);
    for (let b = 0; b < B; b++) {
      this.checkRange(`kRows[${b}]`, { ptr: a.kRows[b], bytes: 4 * a.s * a.H * (a.dn + a.dr) });
      this.checkRange(`vRows[${b}]`, { ptr: a.vRows[b], bytes: 4 * a.s * a.H * a.dv });
    }
    const kT = this.rowPointers(2, a.kRows), vT = this.rowPointers(3, a.vRows);
    const w = a.wkvb;
    this.exports.mla_decompress_w(WF_CODE[w.format ?? "f32"], w.kg ?? 0, w.scales?.ptr ?? 0, a.N, a.s, a.H, a.C, a.dn, a.dr, a.dv, a.c.ptr, a.C, w.buf.ptr, a.kpe.ptr, a.scratch.ptr, kT, vT);
  }

  /** q-absorption: qabs [N, H, C] = q_nope [N, H, dn] x W_UK[h]; wuk from packWUK. */
  absorbQ(N: number, H: number, C: number, dn: number, qk: number, q: F32Buf, wuk: F32Buf | HeadWeights, qabs: F32Buf, qOff = 0): void {
    this.exports.mla_absorb_q_heads_w(...this.absorbQHeadsArgs(N, H, 0, H, C, dn, qk, q, wuk, qabs, qOff));
  }

  /** absorbQ's checks, for heads h0 .. h1-1 (a thread's share of the heads); the export's arguments. */
  absorbQHeadsArgs(N: number, H: number, h0: number, h1: number, C: number, dn: number, qk: number, q: F32Buf, wuk: F32Buf | HeadWeights, qabs: F32Buf, qOff = 0): Parameters<CoreExports["mla_absorb_q_heads_w"]> {
    checkHeads(H, h0, h1);
    need("q", q, qOff, N * H * qk);
    const w = headWeights(wuk), fmt = WF_CODE[w.format];
    need("wuk", w.buf, 0, (H * this.exports.head_stride_w(fmt, C, dn)) / 4);
    need("qabs", qabs, 0, N * H * C);
    return [fmt, w.kg, N, H, h0, h1, C, dn, qk, q.at(qOff), w.buf.ptr, w.scales?.ptr ?? 0, w.sStride, qabs.ptr];
  }

  /** Pack W_UK[h] = wkv_b[h*(dn+dv) .. +dn, :] ([dn, C], y = x B) for every head, heads adjacent. */
  packWUK(wkvb: ArrayLike<number>, H: number, C: number, dn: number, dv: number): F32Buf {
    const per = this.exports.packed_size_8(C, dn);
    const out = this.alloc(H * per);
    const tmp = this.alloc(dn * C);
    for (let h = 0; h < H; h++) {
      const off = h * (dn + dv) * C;
      tmp.set(slice(wkvb, off, dn * C));
      this.exports.pack_kn_8(tmp.ptr, C, C, dn, out.at(h * per));
    }
    tmp.free();
    return out;
  }
  /** Pack W_UV[h] = wkv_b[h*(dn+dv)+dn .. +dv, :] ([dv, C], y = x W^T) for every head, heads adjacent. */
  packWUV(wkvb: ArrayLike<number>, H: number, C: number, dn: number, dv: number): F32Buf {
    const per = this.exports.packed_size_8(dv, C);
    const out = this.alloc(H * per);
    const tmp = this.alloc(Math.max(1, dv * C));
    for (let h = 0; h < H; h++) {
      const off = (h * (dn + dv) + dn) * C;
      tmp.set(slice(wkvb, off, dv * C));
      this.exports.pack_nk_8(tmp.ptr, C, dv, C, out.at(h * per));
    }
    tmp.free();
    return out;
  }

  /** Pack H consecutive row blocks [n, K] of W [H*n, K] (y = x W_h^T per head), heads packed_size_8(n, K) floats apart. */
  packPerHeadNK(w: ArrayLike<number>, H: number, n: number, K: number): F32Buf {
    const per = this.exports.packed_size_8(n, K);
    const out = this.alloc(H * per);
    const tmp = this.alloc(Math.max(1, n * K));
    for (let h = 0; h < H; h++) {
      tmp.set(slice(w, h * n * K, n * K));
      this.exports.pack_nk_8(tmp.ptr, K, n, K, out.at(h * per));
    }
    tmp.free();
    return out;
  }

  // ---- attention --------------------------------------------------------------------------

  /** Floats of scratch the attention kernels need for R query rows (R = max(s, H) for naive, s*H for absorbed). */
  attnScratchFloats(R: number): number {
    return this.exports.attend_scratch_floats(R);
  }

  /**
   * Causal attention of the naive path, one batch row: q [s, H, qk], K row [T, H, qk], V row
   * [T, H, dv] (byte pointers; T = startPos + s, new tokens already appended), o [s, H, dv].
   */
  attnCausal(s: number, H: number, qk: number, dv: number, startPos: number, q: F32Buf, kRow: number, vRow: number, scale: number, o: F32Buf, scratch: F32Buf, qOff = 0, oOff = 0): void {
    need("q", q, qOff, s * H * qk);
    need("o", o, oOff, s * H * dv);
    need("scratch", scratch, 0, this.attnScratchFloats(Math.max(s, H)));
    this.checkKvRows(startPos + s, H, qk, dv, kRow, vRow);
    this.exports.attn_causal_4x8(s, H, qk, dv, startPos, q.at(qOff), kRow, vRow, scale, o.at(oOff), scratch.ptr);
  }

  /** Naive decode (s = 1) over the per-head K/V cache row. */
  attnDecodeNaive(H: number, qk: number, dv: number, startPos: number, q: F32Buf, kRow: number, vRow: number, scale: number, o: F32Buf, scratch: F32Buf, qOff = 0, oOff = 0): void {
    this.exports.attn_decode_naive_heads(...this.attnDecodeNaiveHeadsArgs(H, 0, H, qk, dv, startPos, q, kRow, vRow, scale, o, scratch, qOff, oOff));
  }

  /** attnDecodeNaive's checks, for heads h0 .. h1-1 (scratch: attnScratchFloats(h1 - h0) floats from scratchOff); the export's arguments. */
  attnDecodeNaiveHeadsArgs(H: number, h0: number, h1: number, qk: number, dv: number, startPos: number, q: F32Buf, kRow: number, vRow: number, scale: number, o: F32Buf, scratch: F32Buf, qOff = 0, oOff = 0, scratchOff = 0): Parameters<CoreExports["attn_decode_naive_heads"]> {
    checkHeads(H, h0, h1);
    need("q", q, qOff, H * qk);
    need("o", o, oOff, H * dv);
    need("scratch", scratch, scratchOff, this.attnScratchFloats(h1 - h0));
    this.checkKvRows(startPos + 1, H, qk, dv, kRow, vRow);
    return [H, h0, h1, qk, dv, startPos, q.at(qOff), kRow, vRow, scale, o.at(oOff), scratch.at(scratchOff)];
  }

  /**
   * Absorbed attention over the paged latent cache, one sequence: qabs [s, H, C], q [s, H, qk]
   * (for q_pe), the pool (records of `format`, 64 per block) and the sequence's block table
   * (block ids in position order, at least ceil((startPos + s) / 64) of them, each inside the
   * pool), written into `table`; wuv from packWUV; olat [s*H*C] scratch; o [s, H, dv].
   */
  attnAbsorbedPaged(a: { format: StorageFormat; s: number; H: number; C: number; dr: number; dn: number; dv: number; startPos: number; qabs: F32Buf; q: F32Buf; pool: ByteRange; blocks: Int32Array; table: F32Buf; scale: number; wuv: F32Buf | HeadWeights; olat: F32Buf; o: F32Buf; scratch: F32Buf; qabsOff?: number; qOff?: number; oOff?: number }): void {
    const R = a.s * a.H, qk = a.dn + a.dr, T = a.startPos + a.s;
    const qabsOff = a.qabsOff ?? 0, qOff = a.qOff ?? 0, oOff = a.oOff ?? 0;
    need("qabs", a.qabs, qabsOff, R * a.C);
    need("q", a.q, qOff, R * qk);
    need("olat", a.olat, 0, R * a.C);
    need("o", a.o, oOff, R * a.dv);
    const wuv = headWeights(a.wuv);
    need("wuv", wuv.buf, 0, (a.H * this.exports.head_stride_w(WF_CODE[wuv.format], a.dv, a.C)) / 4);
    need("scratch", a.scratch, 0, this.exports.attend_paged_scratch_floats(R, a.C, a.dr));
    const { fmt, blockBytes } = this.recordBlock(a.format, a.C, a.dr);
    this.writeBlockTable(blockBytes, T, a.blocks, a.table, a.pool);
    if (wuv.format === "f32") {
      this.exports.attn_absorbed_paged(fmt, a.s, a.H, a.C, a.dr, a.dn, a.dv, a.startPos, a.qabs.at(qabsOff), a.q.at(qOff), a.pool.ptr, a.pool.bytes, a.table.ptr, a.scale, wuv.buf.ptr, a.olat.ptr, a.o.at(oOff), a.scratch.ptr);
      return;
    }
    this.exports.attn_absorbed_paged_latent(fmt, a.s, a.H, a.C, a.dr, a.dn, a.startPos, a.qabs.at(qabsOff), a.q.at(qOff), a.pool.ptr, a.pool.bytes, a.table.ptr, a.scale, a.olat.ptr, a.scratch.ptr);
    this.projectUV(a.s, a.H, a.C, a.dv, a.olat, wuv, a.o, 0, oOff);
  }

  /**
   * MLA's recompute path over the paged latent cache, one sequence: q [s, H, qk]; pool, blocks and
   * table as attnAbsorbedPaged; wkvb from packPerHeadNK(wkv_b, H, dn+dv, C); o [s, H, dv]. Every
   * cached token's K/V is decompressed again, block by block inside the kernel.
   */
  attnRecomputePaged(a: { format: StorageFormat; s: number; H: number; C: number; dr: number; dn: number; dv: number; startPos: number; q: F32Buf; pool: ByteRange; blocks: Int32Array; table: F32Buf; scale: number; wkvb: F32Buf; o: F32Buf; scratch: F32Buf; qOff?: number; oOff?: number }): void {
    const qk = a.dn + a.dr, T = a.startPos + a.s, qOff = a.qOff ?? 0, oOff = a.oOff ?? 0;
    need("q", a.q, qOff, a.s * a.H * qk);
    need("o", a.o, oOff, a.s * a.H * a.dv);
    need("wkvb", a.wkvb, 0, a.H * this.exports.packed_size_8(a.dn + a.dv, a.C));
    need("scratch", a.scratch, 0, this.attnRecomputeScratchFloats(a.s, a.H, a.C, a.dr, a.dn, a.dv));
    const { fmt, blockBytes } = this.recordBlock(a.format, a.C, a.dr);
    this.writeBlockTable(blockBytes, T, a.blocks, a.table, a.pool);
    this.exports.attn_recompute_paged(fmt, a.s, a.H, a.C, a.dr, a.dn, a.dv, a.startPos, a.q.at(qOff), a.pool.ptr, a.pool.bytes, a.table.ptr, a.scale, a.wkvb.ptr, a.o.at(oOff), a.scratch.ptr);
  }
  attnRecomputeScratchFloats(s: number, H: number, C: number, dr: number, dn: number, dv: number): number {
    return this.exports.attn_recompute_scratch_floats(s, H, C, dr, dn, dv);
  }

  /**
   * MHA / GQA / MQA over a cached K/V, one batch row: q [s, H, hd] (roped), K row [T, G, hd] and V
   * row [T, G, dv] (byte pointers, T = startPos + s, new tokens appended), o [s, H, dv]; query
   * head h reads kv head floor(h / (H/G)).
   */
  attnGqa(s: number, H: number, G: number, hd: number, dv: number, startPos: number, q: F32Buf, kRow: number, vRow: number, scale: number, o: F32Buf, scratch: F32Buf, qOff = 0, oOff = 0): void {
    checkGroups(H, G);
    need("q", q, qOff, s * H * hd);
    need("o", o, oOff, s * H * dv);
    need("scratch", scratch, 0, this.attnGqaScratchFloats(s, H, G, hd, dv));
    this.checkKvRows(startPos + s, G, hd, dv, kRow, vRow);
    this.exports.attn_gqa(s, H, G, hd, dv, startPos, q.at(qOff), kRow, vRow, scale, o.at(oOff), scratch.ptr);
  }
  attnGqaScratchFloats(s: number, H: number, G: number, hd: number, dv: number): number {
    return this.exports.attn_gqa_scratch_floats(s, H, G, hd, dv);
  }

  /**
   * The seed text's per-head low-rank scheme, one batch row: q [s, H, hd]; latent rows L_K, L_V
   * [T, G, r] (byte pointers); wdk / wdv = W_decomp_K [r, hd] / W_decomp_V [r, dv] packed with
   * packKN; o [s, H, dv]. Every step decompresses every cached latent, block by block.
   */
  attnSeedLowRank(a: { s: number; H: number; G: number; hd: number; dv: number; r: number; startPos: number; q: F32Buf; lkRow: number; lvRow: number; wdk: PackedWeight; wdv: PackedWeight; scale: number; o: F32Buf; scratch: F32Buf; qOff?: number; oOff?: number }): void {
    checkGroups(a.H, a.G);
    const qOff = a.qOff ?? 0, oOff = a.oOff ?? 0, T = a.startPos + a.s;
    if (a.wdk.N !== a.hd || a.wdk.K !== a.r) throw new ShapeError("wdk", `[${a.wdk.K}, ${a.wdk.N}]`, `[${a.r}, ${a.hd}] (W_decomp_K, r x head_dim)`);
    if (a.wdv.N !== a.dv || a.wdv.K !== a.r) throw new ShapeError("wdv", `[${a.wdv.K}, ${a.wdv.N}]`, `[${a.r}, ${a.dv}] (W_decomp_V, r x v_head_dim)`);
    need("q", a.q, qOff, a.s * a.H * a.hd);
    need("o", a.o, oOff, a.s * a.H * a.dv);
    need("scratch", a.scratch, 0, this.attnSeedScratchFloats(a.s, a.H, a.G, a.hd, a.dv));
    this.checkRange("lkRow", { ptr: a.lkRow, bytes: 4 * T * a.G * a.r });
    this.checkRange("lvRow", { ptr: a.lvRow, bytes: 4 * T * a.G * a.r });
    this.exports.attn_seed_lowrank(a.s, a.H, a.G, a.hd, a.dv, a.r, a.startPos, a.q.at(qOff), a.lkRow, a.lvRow, a.wdk.buf.ptr, a.wdv.buf.ptr, a.scale, a.o.at(oOff), a.scratch.ptr);
  }
  attnSeedScratchFloats(s: number, H: number, G: number, hd: number, dv: number): number {
    return this.exports.attn_seed_scratch_floats(s, H, G, hd, dv);
  }

  // ---- DeepSeek-V3.2 sparse attention ------------------------------------------------------

  /**
   * The lightning indexer's scores: out [s, T] (rows ldo floats apart, from outOff) =
   * ks[n] * sum_h w[m, h] * ReLU(q8[m, h] . k8[n]) for q8 [s, HI, DI] and w [s, HI] (from qOff /
   * wOff), keys k8Row [T, DI] (byte pointer, rows ldk floats apart) and their scales ksRow [T]
   * (byte pointer). scratch: indexScratchFloats(HI, DI).
   */
  indexScores(a: { s: number; T: number; HI: number; DI: number; q8: F32Buf; w: F32Buf; k8Row: number; ldk?: number; ksRow: number; out: F32Buf; ldo?: number; scratch: F32Buf; qOff?: number; wOff?: number; outOff?: number }): void {
    const ldk = a.ldk ?? a.DI, ldo = a.ldo ?? a.T, qOff = a.qOff ?? 0, wOff = a.wOff ?? 0, outOff = a.outOff ?? 0;
    for (const [f, v] of [["s", a.s], ["T", a.T], ["HI", a.HI], ["DI", a.DI]] as const) {
      if (!(Number.isInteger(v) && v >= (f === "T" ? 0 : 1))) throw new ShapeError(f, v, f === "T" ? "a whole number of keys" : "a positive integer");
    }
    if (!(Number.isInteger(ldk) && ldk >= a.DI)) throw new ShapeError("ldk", ldk, `an integer >= DI = ${a.DI}`);
    if (!(Number.isInteger(ldo) && ldo >= a.T)) throw new ShapeError("ldo", ldo, `an integer >= T = ${a.T}`);
    need("q8", a.q8, qOff, a.s * a.HI * a.DI);
    need("w", a.w, wOff, a.s * a.HI);
    need("out", a.out, outOff, span(a.s, a.T, ldo));
    need("scratch", a.scratch, 0, this.indexScratchFloats(a.HI, a.DI));
    this.checkRange("k8Row", { ptr: a.k8Row, bytes: 4 * span(a.T, a.DI, ldk) });
    this.checkRange("ksRow", { ptr: a.ksRow, bytes: 4 * a.T });
    this.exports.dsa_index_scores(a.s, a.T, a.HI, a.DI, a.q8.at(qOff), a.w.at(wOff), a.k8Row, ldk, a.ksRow, a.out.at(outOff), ldo, a.scratch.ptr);
  }

  /**
   * indexScores over the paged cache: key n is token n of the sequence with block ids `blocks`
   * (copied into `table`), each block `blockBytes` long in the pool, its 64 keys' DI e4m3 codes
   * from byte `keysOffset` of the block and their 64 float32 scales right after (the LatentCache
   * block layout with index keys, src/cache/index-keys.ts). scratch: indexScratchFloats(HI, DI).
   */
  indexScoresPaged(a: { s: number; T: number; HI: number; DI: number; q8: F32Buf; w: F32Buf; pool: ByteRange; blocks: Int32Array; table: F32Buf; blockBytes: number; keysOffset: number; out: F32Buf; ldo?: number; scratch: F32Buf; qOff?: number; wOff?: number; outOff?: number }): void {
    const ldo = a.ldo ?? a.T, qOff = a.qOff ?? 0, wOff = a.wOff ?? 0, outOff = a.outOff ?? 0;
    for (const [f, v] of [["s", a.s], ["T", a.T], ["HI", a.HI], ["DI", a.DI]] as const) {
      if (!(Number.isInteger(v) && v >= (f === "T" ? 0 : 1))) throw new ShapeError(f, v, f === "T" ? "a whole number of keys" : "a positive integer");
    }
    if (!(Number.isInteger(ldo) && ldo >= a.T)) throw new ShapeError("ldo", ldo, `an integer >= T = ${a.T}`);
    if (!(Number.isInteger(a.keysOffset) && a.keysOffset >= 0 && a.keysOffset + BLOCK_TOKENS * (a.DI + 4) <= a.blockBytes)) throw new ShapeError("keysOffset", a.keysOffset, `a byte offset leaving ${BLOCK_TOKENS} x (${a.DI} codes + 4 scale bytes) inside a ${a.blockBytes}-byte block`);
    need("q8", a.q8, qOff, a.s * a.HI * a.DI);
    need("w", a.w, wOff, a.s * a.HI);
    need("out", a.out, outOff, span(a.s, a.T, ldo));
    need("scratch", a.scratch, 0, this.indexScratchFloats(a.HI, a.DI));
    this.writeBlockTable(a.blockBytes, a.T, a.blocks, a.table, a.pool);
    this.exports.dsa_index_scores_paged(a.s, a.T, a.HI, a.DI, a.q8.at(qOff), a.w.at(wOff), a.pool.ptr, a.pool.bytes, a.table.ptr, a.blockBytes, a.keysOffset, a.out.at(outOff), ldo, a.scratch.ptr);
  }

  /** Floats of scratch indexScores and indexScoresPaged need (a block of keys in float32, q packed, the block's logits). */
  indexScratchFloats(HI: number, DI: number): number {
    return this.exports.dsa_index_scratch_floats(HI, DI);
  }

  /**
   * Top-k of one row: the k best of keys 0..visible-1 of scores (from scoresOff), best first
   * (score descending, ties: lower index first), -1 beyond the visible keys, into out (k i32
   * from byte outAt). heap: min(k, visible) i32 of scratch. Scores must be NaN-free.
   */
  topk(scores: F32Buf, scoresOff: number, visible: number, k: number, out: ByteRange, outAt: number, heap: ByteRange): void {
    if (!(Number.isInteger(visible) && visible >= 0)) throw new ShapeError("visible", visible, "a whole number of keys");
    if (!(Number.isInteger(k) && k >= 1)) throw new ShapeError("k", k, "a positive integer");
    need("scores", scores, scoresOff, visible);
    this.checkRecords("heap", heap, 4 * Math.min(k, visible));
    this.checkRange("out", out);
    if (!(Number.isInteger(outAt) && outAt >= 0 && outAt % 4 === 0 && outAt + 4 * k <= out.bytes)) throw new ShapeError("outAt", outAt, `a 4-byte aligned offset with ${k} i32 inside ${out.bytes} bytes`);
    this.exports.dsa_topk(scores.at(scoresOff), visible, k, out.ptr + outAt, heap.ptr);
  }

  /**
   * MLA decode attention of one sequence (the kernel API, FlashMLA's flash_mla_with_kvcache for
   * one batch row): q [sq, H, C+dr] absorbed queries, its `len` cached tokens in the pool
   * (records of `format`, 64 per block, block ids `blocks`, copied into `table`); dense (sel
   * undefined: every token, causal or not over the sq tokens) or sparse (sel: sq x topk i32 at
   * byte selAt of a range, token indices < len or -1). o [sq, H, C] normalised, lse [H, sq]
   * (natural log of the scaled scores' sum of exponentials; +Infinity and o = 0 where a row has
   * no key). scratch: attnPagedScratchFloats(sq * H, C, dr).
   */
  attnMlaDecode(a: MlaDecodeKernelArgs): void {
    this.exports.attn_mla_decode(...this.mlaDecodeCall(a));
  }

  /** attnMlaDecode's checks (the block table written into `table`); the export's arguments. */
  private mlaDecodeCall(a: MlaDecodeKernelArgs, needScratch = true): Parameters<CoreExports["attn_mla_decode"]> {
    const qOff = a.qOff ?? 0, oOff = a.oOff ?? 0, lseOff = a.lseOff ?? 0, R = a.sq * a.H;
    for (const [f, v] of [["sq", a.sq], ["H", a.H], ["C", a.C]] as const) if (!(Number.isInteger(v) && v >= 1)) throw new ShapeError(f, v, "a positive integer");
    if (!(Number.isInteger(a.dr) && a.dr >= 0)) throw new ShapeError("dr", a.dr, "a whole number");
    if (!(Number.isInteger(a.len) && a.len >= 0)) throw new ShapeError("len", a.len, "a whole number of cached tokens");
    if (!Number.isFinite(a.scale)) throw new ShapeError("scale", a.scale, "a finite softmax scale");
    if (a.sel && a.causal) throw new ShapeError("causal", a.causal, "false with selected indices (the selection is the mask, as in FlashMLA)");
    need("q", a.q, qOff, R * (a.C + a.dr));
    need("o", a.o, oOff, R * a.C);
    need("lse", a.lse, lseOff, R);
    if (needScratch) need("scratch", a.scratch, 0, this.exports.attend_paged_scratch_floats(R, a.C, a.dr));
    const { fmt, blockBytes: records } = this.recordBlock(a.format, a.C, a.dr);
    const blockBytes = a.blockBytes ?? records;
    if (!(Number.isInteger(blockBytes) && blockBytes >= records)) throw new ShapeError("blockBytes", blockBytes, `a whole number of bytes >= the block's ${records} bytes of ${a.format} records`);
    this.writeBlockTable(blockBytes, a.len, a.blocks, a.table, a.pool);
    let selPtr = 0, topk = 0;
    if (a.sel) {
      topk = a.sel.topk;
      if (!(Number.isInteger(topk) && topk >= 0)) throw new ShapeError("sel.topk", topk, "a whole number of slots per token");
      this.checkRange("sel.range", a.sel.range);
      if (!(Number.isInteger(a.sel.at) && a.sel.at >= 0 && a.sel.at % 4 === 0 && a.sel.at + 4 * R / a.H * topk <= a.sel.range.bytes)) throw new ShapeError("sel.at", a.sel.at, `a 4-byte aligned offset with ${a.sq} x ${topk} i32 inside ${a.sel.range.bytes} bytes`);
      selPtr = a.sel.range.ptr + a.sel.at;
      const idx = new Int32Array(this.arena.memory.buffer, selPtr, a.sq * topk);
      for (let i = 0; i < idx.length; i++) {
        const t = idx[i];
        if (!(t === -1 || (t >= 0 && t < a.len))) throw new ShapeError(`sel[${Math.floor(i / topk)}][${i % topk}]`, t, `a token index in 0..${a.len - 1} or -1 (an empty slot)`);
      }
    }
    return [fmt, a.sel ? 1 : 0, a.causal ? 1 : 0, a.sq, a.H, a.C, a.dr, a.len, a.q.at(qOff), selPtr, topk, a.pool.ptr, a.pool.bytes, a.table.ptr, blockBytes, a.scale, a.o.at(oOff), a.lse.at(lseOff), needScratch ? a.scratch.ptr : 0];
  }

  /**
   * Split-KV: attnMlaDecode's call cut into key ranges (cached tokens, or selection slots when
   * `sel` is given) at multiples of 64, each writing its own partial o and lse into slice p of a
   * workspace, and the combine that merges them into a.o / a.lse. Returns the checked arguments of
   * attn_mla_decode_range per part and of attn_mla_combine, for instances of the core that share
   * this memory (a thread pool) to run; the ranges must cover every key once, in order.
   * ws: oPart n * sq*H*C floats, lsePart n * sq*H, scratch n * splitScratchStride(...) floats.
   */
  mlaDecodeSplitCalls(a: Omit<MlaDecodeKernelArgs, "scratch">, parts: readonly { jBegin: number; jEnd: number }[], ws: { oPart: F32Buf; lsePart: F32Buf; scratch: F32Buf }): { ranges: Parameters<CoreExports["attn_mla_decode_range"]>[]; combine: Parameters<CoreExports["attn_mla_combine"]> } {
    const call = this.mlaDecodeCall(a as MlaDecodeKernelArgs, false);
    const R = a.sq * a.H, n = parts.length, keys = a.sel ? a.sel.topk : a.len;
    if (!(n >= 1)) throw new ShapeError("parts.length", n, "at least one key range");
    parts.forEach((p, i) => {
      const from = i === 0 ? 0 : parts[i - 1].jEnd, last = i === n - 1;
      if (!(p.jBegin === from && p.jBegin % BLOCK_TOKENS === 0 && Number.isInteger(p.jEnd) && p.jEnd >= p.jBegin && (last ? p.jEnd === keys : p.jEnd < keys && p.jEnd % BLOCK_TOKENS === 0))) {
        throw new ShapeError(`parts[${i}]`, `[${p.jBegin}, ${p.jEnd})`, `consecutive ranges from 0 to ${keys} keys, cut at multiples of ${BLOCK_TOKENS}`);
      }
    });
    const stride = this.splitScratchStride(R, a.C, a.dr);
    need("ws.oPart", ws.oPart, 0, n * R * a.C);
    need("ws.lsePart", ws.lsePart, 0, n * R);
    need("ws.scratch", ws.scratch, 0, n * stride);
    const [fmt, sparse, causal, sq, H, C, dr, len, q, sel, topk, pool, poolBytes, table, blockBytes, scale, o, lse] = call;
    const ranges = parts.map((p, i): Parameters<CoreExports["attn_mla_decode_range"]> =>
      [fmt, sparse, causal, sq, H, C, dr, len, p.jBegin, p.jEnd, q, sel, topk, pool, poolBytes, table, blockBytes, scale, ws.oPart.at(i * R * C), ws.lsePart.at(i * R), ws.scratch.at(i * stride)]);
    return { ranges, combine: [n, sq, H, C, ws.oPart.ptr, R * C, ws.lsePart.ptr, R, o, lse] };
  }

  /**
   * Row split: attnMlaDecode's call cut into consecutive query-token ranges [t0, t1), each its own
   * attn_mla_decode over the keys its rows see (causal: len - sq + t1; else all len), writing its
   * rows of a.o directly and its lse [H, t1 - t0] into slice p of ws.lsePart (the caller copies
   * them into a.lse's [H, sq] layout). Every row is computed by the one loop on its own keys.
   * ws: lsePart n * sq*H floats, scratch n * splitScratchStride(sq*H, C, dr) floats.
   */
  mlaRowSplitCalls(a: Omit<MlaDecodeKernelArgs, "scratch">, parts: readonly { t0: number; t1: number }[], ws: { lsePart: F32Buf; scratch: F32Buf }): Parameters<CoreExports["attn_mla_decode"]>[] {
    if (a.sel) throw new ShapeError("sel", "given", "no selection (the row split is for dense attention)");
    const call = this.mlaDecodeCall(a as MlaDecodeKernelArgs, false);
    const n = parts.length, R = a.sq * a.H, W = a.C + a.dr;
    parts.forEach((p, i) => {
      const from = i === 0 ? 0 : parts[i - 1].t1;
      if (!(p.t0 === from && Number.isInteger(p.t1) && p.t1 > p.t0 && (i < n - 1 || p.t1 === a.sq))) throw new ShapeError(`parts[${i}]`, `[${p.t0}, ${p.t1})`, `consecutive non-empty token ranges from 0 to sq = ${a.sq}`);
    });
    const stride = this.splitScratchStride(R, a.C, a.dr);
    need("ws.lsePart", ws.lsePart, 0, n * R);
    need("ws.scratch", ws.scratch, 0, n * stride);
    const [fmt, , causal, sq, H, C, dr, len, q, , , pool, poolBytes, table, blockBytes, scale, o] = call;
    return parts.map((p, i): Parameters<CoreExports["attn_mla_decode"]> => [fmt, 0, causal, p.t1 - p.t0, H, C, dr, causal ? len - (sq - p.t1) : len, q + 4 * p.t0 * H * W, 0, 0, pool, poolBytes, table, blockBytes, scale, o + 4 * p.t0 * H * C, ws.lsePart.at(i * R), ws.scratch.at(i * stride)]);
  }

  /** Floats between two parts' scratch in a split call's workspace (attnPagedScratchFloats rounded up to 64 bytes, so no two threads share a cache line). */
  splitScratchStride(R: number, C: number, dr: number): number {
    return Math.ceil(this.exports.attend_paged_scratch_floats(R, C, dr) / 16) * 16;
  }

  /** o [s, H, dv] = o_lat [s, H, C] W_UV[h]^T per head (wuv from packWUV). */
  projectUV(s: number, H: number, C: number, dv: number, olat: F32Buf, wuv: F32Buf | HeadWeights, o: F32Buf, olatOff = 0, oOff = 0): void {
    this.exports.mla_project_uv_heads_w(...this.projectUVHeadsArgs(s, H, 0, H, C, dv, olat, wuv, o, olatOff, oOff));
  }

  /** projectUV's checks, for heads h0 .. h1-1 (a thread's share); the export's arguments. */
  projectUVHeadsArgs(s: number, H: number, h0: number, h1: number, C: number, dv: number, olat: F32Buf, wuv: F32Buf | HeadWeights, o: F32Buf, olatOff = 0, oOff = 0): Parameters<CoreExports["mla_project_uv_heads_w"]> {
    checkHeads(H, h0, h1);
    need("olat", olat, olatOff, s * H * C);
    need("o", o, oOff, s * H * dv);
    const w = headWeights(wuv), fmt = WF_CODE[w.format];
    need("wuv", w.buf, 0, (H * this.exports.head_stride_w(fmt, dv, C)) / 4);
    return [fmt, w.kg, s, H, h0, h1, C, dv, w.buf.ptr, w.scales?.ptr ?? 0, w.sStride, olat.at(olatOff), o.at(oOff)];
  }

  /** Check a sequence's block ids against the pool (blocks blockBytes long) and copy them into the kernel's i32 table. */
  private writeBlockTable(blockBytes: number, T: number, blocks: Int32Array, table: F32Buf, pool: ByteRange): void {
    const nBlocks = Math.ceil(T / BLOCK_TOKENS);
    if (blocks.length < nBlocks) throw new ShapeError("blocks.length", blocks.length, `>= ${nBlocks} block ids for ${T} tokens`);
    need("table", table, 0, nBlocks);
    this.checkRange("pool", pool);
    const i32 = new Int32Array(this.arena.memory.buffer, table.ptr, nBlocks);
    for (let k = 0; k < nBlocks; k++) {
      const b = blocks[k];
      if (!(Number.isInteger(b) && b >= 0 && (b + 1) * blockBytes <= pool.bytes)) throw new ShapeError(`blocks[${k}]`, b, `a block id in 0..${Math.floor(pool.bytes / blockBytes) - 1} (a pool of ${pool.bytes} bytes, ${blockBytes} per block)`);
      i32[k] = b;
    }
  }

  /** The format code of a latent format and the bytes of one block of its records (the records-only block stride). */
  private recordBlock(format: StorageFormat, C: number, dr: number): { fmt: number; blockBytes: number } {
    const fmt = FORMAT_CODE[format];
    return { fmt, blockBytes: BLOCK_TOKENS * this.exports.codec_token_bytes(fmt, C, dr) };
  }

  /** The K row [T, H, qk] and V row [T, H, dv] of one batch row lie inside the arena. */
  private checkKvRows(T: number, H: number, qk: number, dv: number, kRow: number, vRow: number): void {
    this.checkRange("kRow", { ptr: kRow, bytes: 4 * T * H * qk });
    this.checkRange("vRow", { ptr: vRow, bytes: 4 * T * H * dv });
  }

  /** Floats of scratch attnAbsorbedPaged needs for R = s*H query rows. */
  attnPagedScratchFloats(R: number, C: number, dr: number): number {
    return this.exports.attend_paged_scratch_floats(R, C, dr);
  }

  // ---- cache codecs -----------------------------------------------------------------------

  /** Bytes of one token record of `format` (the same as src/cache/layout.ts tokenLayout). */
  tokenBytes(format: StorageFormat, C: number, dr: number): number {
    return this.exports.codec_token_bytes(FORMAT_CODE[format], C, dr);
  }

  /**
   * Encode n token rows, latent kv [n, C] (rows ldkv floats apart from kvOff) and k_pe [n, dr]
   * (ldpe apart from peOff), into n records at byte `at` of `dst`; `row` is C+dr floats of scratch.
   */
  encodeSplit(format: StorageFormat, n: number, C: number, dr: number, kv: F32Buf, kvOff: number, ldkv: number, pe: F32Buf, peOff: number, ldpe: number, dst: ByteRange, at: number, row: F32Buf): void {
    const bpt = this.tokenBytes(format, C, dr);
    need("kv", kv, kvOff, span(n, C, ldkv));
    need("pe", pe, peOff, span(n, dr, ldpe));
    need("row", row, 0, C + dr);
    this.checkRange("dst", dst);
    if (!(Number.isInteger(at) && at >= 0 && at + n * bpt <= dst.bytes)) throw new ShapeError("at", at, `a byte offset with ${n} records of ${bpt} bytes inside ${dst.bytes} bytes`);
    this.exports.codec_encode_split(FORMAT_CODE[format], kv.at(kvOff), ldkv, pe.at(peOff), ldpe, n, C, dr, dst.ptr + at, row.ptr);
  }

  /** rows [n, C+dr] float32 (src) -> n records at byte 0 of dst. */
  encode(format: StorageFormat, n: number, C: number, dr: number, src: F32Buf, dst: ByteRange): void {
    need("src", src, 0, n * (C + dr));
    this.checkRecords("dst", dst, n * this.tokenBytes(format, C, dr));
    this.exports.codec_encode(FORMAT_CODE[format], src.ptr, n, C, dr, dst.ptr);
  }

  /** n records at byte 0 of src -> rows [n, C+dr] float32 (simd: through the dequantisers a kernel uses). */
  decode(format: StorageFormat, n: number, C: number, dr: number, src: ByteRange, dst: F32Buf, simd = false): void {
    this.checkRecords("src", src, n * this.tokenBytes(format, C, dr));
    need("dst", dst, 0, n * (C + dr));
    (simd ? this.exports.codec_decode_simd : this.exports.codec_decode)(FORMAT_CODE[format], src.ptr, n, C, dr, dst.ptr);
  }

  /** A paged kernel's per-block step: n records -> kv [n, ldkv] and pe [n, ldpe] float32 rows. */
  dequantTile(format: StorageFormat, n: number, C: number, dr: number, src: ByteRange, kv: F32Buf, ldkv: number, pe: F32Buf, ldpe: number): void {
    this.checkRecords("src", src, n * this.tokenBytes(format, C, dr));
    need("kv", kv, 0, span(n, C, ldkv));
    need("pe", pe, 0, span(n, dr, ldpe));
    this.exports.codec_dequant_tile(FORMAT_CODE[format], src.ptr, n, C, dr, kv.ptr, ldkv, pe.ptr, ldpe);
  }

  /** A byte range of the arena. */
  allocBytes(bytes: number): ByteRange {
    return { ptr: this.arena.alloc(bytes), bytes };
  }

  private checkRecords(field: string, r: ByteRange, bytes: number): void {
    this.checkRange(field, r);
    if (bytes > r.bytes) throw new ShapeError(`${field}.bytes`, r.bytes, `>= ${bytes} bytes of records`);
  }

  /** A range the kernels may touch lies inside linear memory and past the module's static data. */
  private checkRange(field: string, r: ByteRange): void {
    if (!(Number.isInteger(r.ptr) && Number.isInteger(r.bytes) && r.ptr >= this.exports.heap_base() && r.bytes >= 0 && r.ptr + r.bytes <= this.arena.memory.buffer.byteLength)) {
      throw new ShapeError(field, `[${r.ptr}, ${r.ptr + r.bytes})`, `a byte range inside the arena [${this.exports.heap_base()}, ${this.arena.memory.buffer.byteLength})`);
    }
  }
}
