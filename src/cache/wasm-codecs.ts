// JS side of the WASM cache codecs (assembly/codecs.ts): copies rows into linear memory, calls
// codec_encode / codec_decode / codec_decode_simd, copies the result out. Works with any module
// exporting those functions and its memory: the core WASM module (src/wasm/) once it re-exports
// assembly/codecs.ts, or a module built from assembly/codecs.ts alone. `base` is the first byte of
// linear memory this wrapper may use (scratch); it grows memory as needed and re-creates views
// after every grow (a grow detaches them).

import { FORMAT_CODE, type TokenLayout } from "./layout.js";

export interface CodecExports {
  memory: WebAssembly.Memory;
  codec_token_bytes(fmt: number, C: number, dr: number): number;
  codec_encode(fmt: number, src: number, n: number, C: number, dr: number, dst: number): void;
  codec_decode(fmt: number, src: number, n: number, C: number, dr: number, dst: number): void;
  codec_decode_simd(fmt: number, src: number, n: number, C: number, dr: number, dst: number): void;
  codec_dequant_tile(fmt: number, rec: number, n: number, C: number, dr: number, kv: number, ldkv: number, pe: number, ldpe: number): void;
}

export class WasmCodecs {
  private readonly base: number;

  /** base defaults to the memory's current end: pages grown later belong to this wrapper alone. */
  constructor(readonly exports: CodecExports, base?: number) {
    this.base = base ?? exports.memory.buffer.byteLength;
  }

  private ensure(bytes: number): void {
    const mem = this.exports.memory;
    const need = this.base + bytes - mem.buffer.byteLength;
    if (need > 0) mem.grow(Math.ceil(need / 65536));
  }

  tokenBytes(layout: TokenLayout): number {
    return this.exports.codec_token_bytes(FORMAT_CODE[layout.format], layout.C, layout.dr);
  }

  /** rows [n, C+dr] float32 -> n records. */
  encode(layout: TokenLayout, rows: Float32Array, n: number): Uint8Array {
    const W = layout.C + layout.dr, bpt = layout.bytesPerToken;
    const src = this.base, dst = this.base + n * W * 4;
    this.ensure(n * W * 4 + n * bpt);
    new Float32Array(this.exports.memory.buffer, src, n * W).set(rows.subarray(0, n * W));
    this.exports.codec_encode(FORMAT_CODE[layout.format], src, n, layout.C, layout.dr, dst);
    return new Uint8Array(this.exports.memory.buffer, dst, n * bpt).slice();
  }

  /** n records -> rows [n, C+dr] float32 (simd: through the dq4_* dequantisers a kernel uses). */
  decode(layout: TokenLayout, records: Uint8Array, n: number, simd = false): Float32Array {
    const W = layout.C + layout.dr, bpt = layout.bytesPerToken;
    const src = this.base, dst = this.base + n * bpt + ((4 - ((n * bpt) % 4)) % 4);
    this.ensure(dst - this.base + n * W * 4);
    new Uint8Array(this.exports.memory.buffer, src, n * bpt).set(records.subarray(0, n * bpt));
    (simd ? this.exports.codec_decode_simd : this.exports.codec_decode)(FORMAT_CODE[layout.format], src, n, layout.C, layout.dr, dst);
    return new Float32Array(this.exports.memory.buffer, dst, n * W).slice();
  }

  /** A decode kernel's per-block step: n records -> kv [n, ldkv] and pe [n, ldpe] float32 rows (first C / dr of each row written). */
  dequantTile(layout: TokenLayout, records: Uint8Array, n: number, ldkv: number, ldpe: number): { kv: Float32Array; pe: Float32Array } {
    const bpt = layout.bytesPerToken;
    const src = this.base, kv = this.base + n * bpt + ((4 - ((n * bpt) % 4)) % 4), pe = kv + n * ldkv * 4;
    this.ensure(pe - this.base + n * ldpe * 4);
    const mem = () => this.exports.memory.buffer;
    new Uint8Array(mem(), src, n * bpt).set(records.subarray(0, n * bpt));
    new Float32Array(mem(), kv, n * ldkv + n * ldpe).fill(-12345); // sentinel: unwritten padding shows
    this.exports.codec_dequant_tile(FORMAT_CODE[layout.format], src, n, layout.C, layout.dr, kv, ldkv, pe, ldpe);
    return { kv: new Float32Array(mem(), kv, n * ldkv).slice(), pe: new Float32Array(mem(), pe, n * ldpe).slice() };
  }
}
