// The WASM cache codecs (assembly/codecs.ts) on JS arrays, through the kernel host API: copies the
// rows or records into arena buffers, calls the codec, copies the result out, frees the buffers.
// For tests and tools that compare the two implementations (src/cache/codecs.ts is the
// TypeScript one, bit-identical); the layer encodes in place and never goes through here.

import type { TokenLayout } from "../cache/layout.js";
import type { WasmKernels } from "./kernels.js";

export class WasmCodecs {
  constructor(readonly kernels: WasmKernels) {}

  tokenBytes(layout: TokenLayout): number {
    return this.kernels.tokenBytes(layout.format, layout.C, layout.dr);
  }

  /** rows [n, C+dr] float32 -> n records. */
  encode(layout: TokenLayout, rows: Float32Array, n: number): Uint8Array {
    const k = this.kernels, W = layout.C + layout.dr;
    const src = k.alloc(n * W, rows.subarray(0, n * W)), dst = k.allocBytes(n * layout.bytesPerToken);
    try {
      k.encode(layout.format, n, layout.C, layout.dr, src, dst);
      return new Uint8Array(k.arena.memory.buffer, dst.ptr, dst.bytes).slice();
    } finally {
      src.free();
      k.arena.free(dst.ptr);
    }
  }

  /** n records -> rows [n, C+dr] float32 (simd: through the dq4_* dequantisers a kernel uses). */
  decode(layout: TokenLayout, records: Uint8Array, n: number, simd = false): Float32Array {
    const k = this.kernels, W = layout.C + layout.dr;
    const src = this.upload(records, n * layout.bytesPerToken), dst = k.alloc(n * W);
    try {
      k.decode(layout.format, n, layout.C, layout.dr, src, dst, simd);
      return dst.toArray();
    } finally {
      k.arena.free(src.ptr);
      dst.free();
    }
  }

  /** A paged kernel's per-block step: n records -> kv [n, ldkv] and pe [n, ldpe] float32 rows (first C / dr of each row written). */
  dequantTile(layout: TokenLayout, records: Uint8Array, n: number, ldkv: number, ldpe: number): { kv: Float32Array; pe: Float32Array } {
    const k = this.kernels;
    const src = this.upload(records, n * layout.bytesPerToken);
    const kv = k.alloc(n * ldkv).fill(-12345), pe = k.alloc(n * ldpe).fill(-12345); // sentinel: unwritten padding shows
    try {
      k.dequantTile(layout.format, n, layout.C, layout.dr, src, kv, ldkv, pe, ldpe);
      return { kv: kv.toArray(), pe: pe.toArray() };
    } finally {
      k.arena.free(src.ptr);
      kv.free();
      pe.free();
    }
  }

  private upload(records: Uint8Array, bytes: number): { ptr: number; bytes: number } {
    const r = this.kernels.allocBytes(bytes);
    new Uint8Array(this.kernels.arena.memory.buffer, r.ptr, bytes).set(records.subarray(0, bytes));
    return r;
  }
}
