// TypeScript and WASM codecs agree bit for bit: encode (every format, random data with ties,
// subnormals, overflow, non-finite values), decode of arbitrary bytes (any e4m3 code, NaN codes,
// odd scales), and the SIMD dequantisers (dq4_*) a decode kernel uses. NaN payloads are not part
// of the contract: a NaN compares equal to any NaN.
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeTokens, encodeTokens } from "../../src/cache/codecs.js";
import { STORAGE_FORMATS, tokenLayout } from "../../src/cache/layout.js";
import type { WasmCodecs } from "../../src/wasm/codecs.js";
import { wasmCodecs } from "./wasm-build.js";
import { KERNEL_BUILDS } from "../wasm/helpers.js";

function sameBits(a: Float32Array, b: Float32Array): number {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) continue;
    if (ua[i] !== ub[i]) return i;
  }
  return -1;
}

const bitsArb = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) }, // anything: NaN, Inf, huge, subnormal
  { weight: 4, arbitrary: fc.double({ min: -4, max: 4, noNaN: true }).map((v) => new Uint32Array(Float32Array.of(v).buffer)[0]) },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: 0x1ff }), fc.integer({ min: 0, max: 127 }), fc.constantFrom(16, 13, 20)).map(([se, k, d]) => ((se << 23) | (k << d) | (1 << (d - 1))) >>> 0) }, // ties of bf16 / f16 / e4m3
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x00ffffff }) }, // subnormals and tiny normals
  { weight: 1, arbitrary: fc.constantFrom(0x7f800000, 0xff800000, 0x7fc00000, 0x477ff000, 0x477fefff, 0x43e00000, 0x7f7fffff, 0x80000000) },
);

const shapeArb = fc.record({ C: fc.integer({ min: 1, max: 260 }), dr: fc.integer({ min: 0, max: 10 }).map((h) => 2 * h), n: fc.integer({ min: 1, max: 3 }) });

describe.each(KERNEL_BUILDS)("WASM codecs (%s) == TypeScript codecs", (source) => {
  let wasm: WasmCodecs;
  beforeAll(async () => {
    wasm = await wasmCodecs(source);
  }, 60_000);
  it("token sizes agree", () => {
    for (const f of STORAGE_FORMATS) for (const [C, dr] of [[512, 64], [1, 0], [129, 6], [200, 8]]) expect(wasm.tokenBytes(tokenLayout(f, C, dr))).toBe(tokenLayout(f, C, dr).bytesPerToken);
  });
  for (const format of STORAGE_FORMATS) {
    it(`${format}: encode bytes identical, decode (scalar and SIMD) bits identical`, () => {
      fc.assert(
        fc.property(shapeArb.chain((s) => fc.record({ s: fc.constant(s), bits: fc.array(bitsArb, { minLength: s.n * (s.C + s.dr), maxLength: s.n * (s.C + s.dr) }) })), ({ s, bits }) => {
          const L = tokenLayout(format, s.C, s.dr);
          const rows = new Float32Array(Uint32Array.from(bits).buffer);
          const ts = new Uint8Array(s.n * L.bytesPerToken);
          encodeTokens(L, rows, 0, s.n, ts, 0);
          const wb = wasm.encode(L, rows, s.n);
          expect(Array.from(wb)).toEqual(Array.from(ts));
          const dTs = new Float32Array(s.n * (s.C + s.dr));
          decodeTokens(L, ts, 0, s.n, dTs, 0);
          expect(sameBits(wasm.decode(L, ts, s.n, false), dTs)).toBe(-1);
          expect(sameBits(wasm.decode(L, ts, s.n, true), dTs)).toBe(-1);
        }),
        { numRuns: source === "simd128-assert" ? 25 : 60 },
      );
    });
    it(`${format}: codec_dequant_tile (a kernel's per-block step) writes exactly the decoded rows at any strides`, () => {
      fc.assert(
        fc.property(shapeArb, fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 1e9 }), (s, padKv, padPe, seed) => {
          const L = tokenLayout(format, s.C, s.dr), W = s.C + s.dr;
          const rows = new Float32Array(s.n * W);
          for (let i = 0; i < rows.length; i++) rows[i] = Math.sin(seed + i * 7.1) * 3;
          const recs = new Uint8Array(s.n * L.bytesPerToken);
          encodeTokens(L, rows, 0, s.n, recs, 0);
          const want = new Float32Array(s.n * W);
          decodeTokens(L, recs, 0, s.n, want, 0);
          const ldkv = s.C + padKv, ldpe = s.dr + padPe;
          const { kv, pe } = wasm.dequantTile(L, recs, s.n, ldkv, ldpe);
          for (let t = 0; t < s.n; t++) {
            expect(sameBits(kv.subarray(t * ldkv, t * ldkv + s.C), want.subarray(t * W, t * W + s.C))).toBe(-1);
            expect(sameBits(pe.subarray(t * ldpe, t * ldpe + s.dr), want.subarray(t * W + s.C, (t + 1) * W))).toBe(-1);
            for (let i = s.C; i < ldkv; i++) expect(kv[t * ldkv + i]).toBe(-12345); // padding untouched
            for (let i = s.dr; i < ldpe; i++) expect(pe[t * ldpe + i]).toBe(-12345);
          }
        }),
        { numRuns: 20 },
      );
    });
    it(`${format}: decoding arbitrary bytes agrees (scalar and SIMD)`, () => {
      fc.assert(
        fc.property(shapeArb.chain((s) => fc.record({ s: fc.constant(s), bytes: fc.uint8Array({ minLength: s.n * tokenLayout(format, s.C, s.dr).bytesPerToken, maxLength: s.n * tokenLayout(format, s.C, s.dr).bytesPerToken }) })), ({ s, bytes }) => {
          const L = tokenLayout(format, s.C, s.dr);
          const dTs = new Float32Array(s.n * (s.C + s.dr));
          decodeTokens(L, bytes, 0, s.n, dTs, 0);
          expect(sameBits(wasm.decode(L, bytes, s.n, false), dTs)).toBe(-1);
          expect(sameBits(wasm.decode(L, bytes, s.n, true), dTs)).toBe(-1);
        }),
        { numRuns: source === "simd128-assert" ? 25 : 60 },
      );
    });
  }
});
