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
import { ShapeError } from "../errors.js";
import { Arena } from "./arena.js";
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
  rmsnorm(rows: number, n: number, x: number, ldx: number, w: number, y: number, ldy: number, eps: number): void;
  rope_interleaved(rows: number, heads: number, x: number, ldx: number, headStride: number, dr: number, cos: number, sin: number, s: number): void;
  rope_half(rows: number, heads: number, x: number, ldx: number, headStride: number, dr: number, cos: number, sin: number, s: number): void;
  mla_compress(N: number, s: number, D: number, C: number, dr: number, x: number, ldx: number, wkva: number, kvNorm: number, eps: number, layout: number, cos: number, sin: number, scratch: number, kvRows: number, peRows: number): void;
  mla_decompress(N: number, s: number, H: number, C: number, dn: number, dr: number, dv: number, c: number, ldc: number, wkvb: number, kpe: number, scratch: number, kRows: number, vRows: number): void;
  mla_absorb_q(N: number, H: number, C: number, dn: number, qk: number, q: number, wuk: number, qabs: number): void;
  attend_scratch_floats(R: number): number;
  attn_causal_4x8(s: number, H: number, qk: number, dv: number, startPos: number, q: number, kRow: number, vRow: number, scale: number, o: number, scratch: number): void;
  attn_decode_naive(H: number, qk: number, dv: number, startPos: number, q: number, kRow: number, vRow: number, scale: number, o: number, scratch: number): void;
  attn_absorbed_fused(s: number, H: number, C: number, dr: number, dn: number, dv: number, startPos: number, qabs: number, q: number, kvRow: number, peRow: number, scale: number, wuv: number, olat: number, o: number, scratch: number): void;
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

/** A weight packed into 8-column panels: y = x W^T with W [N, K]. */
export interface PackedWeight {
  buf: F32Buf;
  N: number;
  K: number;
}

/** cos/sin [s, dr/2] tables for RoPE. */
export interface RopeTableBuf {
  cos: F32Buf;
  sin: F32Buf;
  /** rows the tables hold */
  rows: number;
  half: number;
}

function need(field: string, buf: F32Buf, off: number, count: number): void {
  if (!(off >= 0 && off + count <= buf.length)) throw new ShapeError(field, buf.length, `>= ${off + count} floats (offset ${off} + ${count})`);
}

/** n elements from off without copying typed arrays (weights can be hundreds of MB). */
function slice(src: ArrayLike<number>, off: number, n: number): ArrayLike<number> {
  if (ArrayBuffer.isView(src)) return (src as unknown as Float32Array).subarray(off, off + n);
  return Array.prototype.slice.call(src, off, off + n) as number[];
}

/** Elements a strided [rows, n] matrix spans. */
function span(rows: number, n: number, ld: number): number {
  return rows === 0 ? 0 : (rows - 1) * ld + n;
}

export class WasmKernels {
  readonly arena: Arena;
  private rowTable: { ptr: number; cap: number } | null = null;

  private constructor(readonly instance: WebAssembly.Instance, readonly build: WasmBuild) {
    this.arena = new Arena(this.exports.memory, this.exports.heap_base());
    const isa = this.exports.isa() === 1 ? "relaxed" : "simd128";
    if (isa !== build) throw new Error(`module reports ISA ${isa} but was loaded as ${build}`);
  }

  /** Instantiate a compiled core: a fresh module instance with its own linear memory. */
  static async create(core: CompiledCore): Promise<WasmKernels> {
    return new WasmKernels(await WebAssembly.instantiate(core.module, {}), core.build);
  }
  /** Synchronous instantiation (fine in Node and workers; browsers' main thread prefers create). */
  static createSync(core: CompiledCore): WasmKernels {
    return new WasmKernels(new WebAssembly.Instance(core.module, {}), core.build);
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
    const ldx = o.ldx ?? w.K, ldy = o.ldy ?? w.N, xOff = o.xOff ?? 0, yOff = o.yOff ?? 0;
    need("x", x, xOff, span(M, w.K, ldx));
    need("y", y, yOff, span(M, w.N, ldy));
    this.exports.linear(M, w.N, w.K, x.at(xOff), ldx, w.buf.ptr, y.at(yOff), ldy);
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
  /** Fill table rows 0..positions.length-1 with cos/sin(pos * f_i) (computed in float64, stored float32). */
  fillRopeTable(t: RopeTableBuf, freqs: ArrayLike<number>, positions: ArrayLike<number> | { start: number; count: number }): void {
    const half = t.half;
    if (freqs.length !== half) throw new ShapeError("freqs.length", freqs.length, `${half} (dr/2 of the table)`);
    const count = "start" in positions ? positions.count : positions.length;
    if (count > t.rows) throw new ShapeError("positions", count, `<= ${t.rows} rows of the table`);
    const f32 = this.arena.f32, c0 = t.cos.ptr >>> 2, s0 = t.sin.ptr >>> 2;
    for (let p = 0; p < count; p++) {
      const pos = "start" in positions ? positions.start + p : positions[p];
      for (let i = 0; i < half; i++) {
        const a = pos * freqs[i];
        f32[c0 + p * half + i] = Math.cos(a);
        f32[s0 + p * half + i] = Math.sin(a);
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
    const kvT = this.rowPointers(0, a.kvRows), peT = this.rowPointers(1, a.peRows);
    this.exports.mla_compress(a.N, a.s, w.K, a.C, a.dr, a.x.ptr, w.K, w.buf.ptr, a.kvNorm.ptr, a.eps ?? RMSNORM_EPS, a.layout === "interleaved" ? 0 : 1, a.table.cos.ptr, a.table.sin.ptr, a.scratch.ptr, kvT, peT);
  }

  /** Decompression: wkv_b(c) for N rows into scratch [N, H*(dn+dv)], scattered to per-head K (with k_pe broadcast) and V rows. */
  decompress(a: { N: number; s: number; H: number; C: number; dn: number; dr: number; dv: number; c: F32Buf; wkvb: PackedWeight; kpe: F32Buf; scratch: F32Buf; kRows: ArrayLike<number>; vRows: ArrayLike<number> }): void {
    need("c", a.c, 0, a.N * a.C);
    need("kpe", a.kpe, 0, a.N * a.dr);
    need("scratch", a.scratch, 0, a.N * a.H * (a.dn + a.dv));
    if (a.wkvb.N !== a.H * (a.dn + a.dv) || a.wkvb.K !== a.C) throw new ShapeError("wkvb", `[${a.wkvb.N}, ${a.wkvb.K}]`, `[${a.H * (a.dn + a.dv)}, ${a.C}]`);
    const kT = this.rowPointers(2, a.kRows), vT = this.rowPointers(3, a.vRows);
    this.exports.mla_decompress(a.N, a.s, a.H, a.C, a.dn, a.dr, a.dv, a.c.ptr, a.C, a.wkvb.buf.ptr, a.kpe.ptr, a.scratch.ptr, kT, vT);
  }

  /** q-absorption: qabs [N, H, C] = q_nope [N, H, dn] x W_UK[h]; wuk from packWUK. */
  absorbQ(N: number, H: number, C: number, dn: number, qk: number, q: F32Buf, wuk: F32Buf, qabs: F32Buf, qOff = 0): void {
    need("q", q, qOff, N * H * qk);
    need("wuk", wuk, 0, H * this.exports.packed_size_8(C, dn));
    need("qabs", qabs, 0, N * H * C);
    this.exports.mla_absorb_q(N, H, C, dn, qk, q.at(qOff), wuk.ptr, qabs.ptr);
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
    this.exports.attn_causal_4x8(s, H, qk, dv, startPos, q.at(qOff), kRow, vRow, scale, o.at(oOff), scratch.ptr);
  }

  /** Naive decode (s = 1) over the per-head K/V cache row. */
  attnDecodeNaive(H: number, qk: number, dv: number, startPos: number, q: F32Buf, kRow: number, vRow: number, scale: number, o: F32Buf, scratch: F32Buf, qOff = 0, oOff = 0): void {
    need("q", q, qOff, H * qk);
    need("o", o, oOff, H * dv);
    need("scratch", scratch, 0, this.attnScratchFloats(H));
    this.exports.attn_decode_naive(H, qk, dv, startPos, q.at(qOff), kRow, vRow, scale, o.at(oOff), scratch.ptr);
  }

  /**
   * Absorbed attention fused over the latent cache, one batch row: qabs [s, H, C], q [s, H, qk]
   * (for q_pe), kvRow [T, C] / peRow [T, dr] (byte pointers), wuv from packWUV, olat [s*H*C]
   * scratch, o [s, H, dv].
   */
  attnAbsorbedFused(a: { s: number; H: number; C: number; dr: number; dn: number; dv: number; startPos: number; qabs: F32Buf; q: F32Buf; kvRow: number; peRow: number; scale: number; wuv: F32Buf; olat: F32Buf; o: F32Buf; scratch: F32Buf; qabsOff?: number; qOff?: number; oOff?: number }): void {
    const R = a.s * a.H, qk = a.dn + a.dr;
    const qabsOff = a.qabsOff ?? 0, qOff = a.qOff ?? 0, oOff = a.oOff ?? 0;
    need("qabs", a.qabs, qabsOff, R * a.C);
    need("q", a.q, qOff, R * qk);
    need("olat", a.olat, 0, R * a.C);
    need("o", a.o, oOff, R * a.dv);
    need("wuv", a.wuv, 0, a.H * this.exports.packed_size_8(a.dv, a.C));
    need("scratch", a.scratch, 0, this.attnScratchFloats(R));
    this.exports.attn_absorbed_fused(a.s, a.H, a.C, a.dr, a.dn, a.dv, a.startPos, a.qabs.at(qabsOff), a.q.at(qOff), a.kvRow, a.peRow, a.scale, a.wuv.ptr, a.olat.ptr, a.o.at(oOff), a.scratch.ptr);
  }
}
