// Token codecs: layouts and byte offsets (FlashMLA's 656-byte record), FlashMLA's scale rule
// re-derived here from its tests/quant.py description, int8 absmax, and the derived round-trip
// error bounds (held on random data, and tight: the worst case comes close to the bound).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { elementErrorBounds } from "../../src/cache/bounds.js";
import { decodeTokens, encodeTokens } from "../../src/cache/codecs.js";
import { STORAGE_FORMATS, type StorageFormat, tokenLayout } from "../../src/cache/layout.js";
import { CacheError } from "../../src/errors.js";

function roundTrip(format: StorageFormat, C: number, dr: number, rows: Float32Array, n: number): { bytes: Uint8Array; back: Float32Array } {
  const L = tokenLayout(format, C, dr);
  const bytes = new Uint8Array(n * L.bytesPerToken + 5).subarray(3, 3 + n * L.bytesPerToken); // odd byteOffset
  encodeTokens(L, rows, 0, n, bytes, 0);
  const back = new Float32Array(n * (C + dr));
  decodeTokens(L, bytes, 0, n, back, 0);
  return { bytes, back };
}

describe("layout", () => {
  it("FlashMLA's FP8 record for C = 512, dr = 64: 512 e4m3, 4 f32 scales, 64 bf16 = 656 bytes", () => {
    const L = tokenLayout("fp8_e4m3", 512, 64);
    expect([L.bytesPerToken, L.latentOffset, L.latentScaleOffset, L.latentScales, L.ropeOffset, L.ropeElemBytes]).toEqual([656, 0, 512, 4, 528, 2]);
  });
  it("bytes per token of every format for any C, dr", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 0, max: 64 }).map((h) => 2 * h), (C, dr) => {
        const want: Record<StorageFormat, number> = {
          f32: 4 * C + 4 * dr,
          bf16: 2 * C + 2 * dr,
          f16: 2 * C + 2 * dr,
          int8: C + 4 + dr + 4,
          fp8_e4m3: C + 4 * Math.floor((C + 127) / 128) + 2 * dr,
        };
        return STORAGE_FORMATS.every((f) => tokenLayout(f, C, dr).bytesPerToken === want[f]);
      }),
    );
  });
  it("rejects unknown formats with a CacheError naming the choices", () => {
    expect(() => tokenLayout("fp4" as StorageFormat, 8, 2)).toThrow(CacheError);
    expect(() => tokenLayout("fp4" as StorageFormat, 8, 2)).toThrow(/fp8_e4m3/);
  });
});

describe("fp8_e4m3 bytes", () => {
  it("matches FlashMLA's quantize_k_cache on a hand-made token", () => {
    // FlashMLA tests/quant.py: scale_inv = amax/448, rounded up to a power of two (clamp >= 1e-4);
    // q = e4m3(x / scale_inv); k_pe copied as bf16.
    const C = 512, dr = 64, row = new Float32Array(C + dr);
    row[0] = 1; // tile 0: amax 1 -> scale 2^ceil(log2(1/448)) = 2^-8; 1 / 2^-8 = 256 = 2^8 -> e4m3 0 1111 000 = 0x78
    row[1] = -0.5; // -128 -> 1 1110 000 = 0xF0
    row[2] = 3 / 1024; // 0.75 -> 0 0110 100 = 0x34
    // tile 1 all zero: scale 2^ceil(log2(1e-4)) = 2^-13
    row[256] = 100; // tile 2: 100/448 = 0.2232 -> 2^-2; 100 * 4 = 400 -> 2^8 * 1.5625 -> mantissa 4.5/8 -> tie? 1.5625 = 1 + 4.5/8: ties to even -> 4 -> 384
    row[384] = 1e-6; // tile 3: scale clamps to 2^-13; 1e-6 * 8192 = 0.008192 -> subnormal: 0.008192 * 512 = 4.19 -> code 4
    row[C] = 1.5; // bf16 0x3FC0
    row[C + 1] = -2; // bf16 0xC000
    const { bytes, back } = roundTrip("fp8_e4m3", C, dr, row, 1);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect([bytes[0], bytes[1], bytes[2], bytes[3]]).toEqual([0x78, 0xf0, 0x34, 0]);
    expect([dv.getFloat32(512, true), dv.getFloat32(516, true), dv.getFloat32(520, true), dv.getFloat32(524, true)]).toEqual([2 ** -8, 2 ** -13, 2 ** -2, 2 ** -13]);
    expect(bytes[256]).toBe((8 + 7) * 8 + 4); // 384 = 2^8 * 1.5: e = 15, m = 4
    expect(bytes[384]).toBe(4);
    expect([dv.getUint16(528, true), dv.getUint16(530, true)]).toEqual([0x3fc0, 0xc000]);
    expect([back[0], back[1], back[2], back[256], back[384], back[C], back[C + 1]]).toEqual([1, -0.5, 3 / 1024, 96, 4 * 2 ** -9 * 2 ** -13, 1.5, -2]);
  });
  it("uses ceil(C/128) tiles, the last one partial (C = 200: tiles 0..127, 128..199)", () => {
    const C = 200, dr = 4, row = new Float32Array(C + dr);
    row[5] = 448; // tile 0 scale 1
    row[150] = 0.875; // tile 1: 0.875/448 = 2^-9 exactly -> scale 2^-9
    const { bytes } = roundTrip("fp8_e4m3", C, dr, row, 1);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(tokenLayout("fp8_e4m3", C, dr).bytesPerToken).toBe(200 + 8 + 8);
    expect([dv.getFloat32(200, true), dv.getFloat32(204, true)]).toEqual([1, 2 ** -9]);
    expect([bytes[5], bytes[150]]).toEqual([0x7e, 0x7e]);
  });
});

describe("int8", () => {
  it("per-token absmax scales for latent and rope, round half to even", () => {
    const C = 4, dr = 2;
    const row = Float32Array.from([127, -63.5, 0.5, 1.5, 2, -0.75]);
    const { bytes, back } = roundTrip("int8", C, dr, row, 1);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(dv.getFloat32(4, true)).toBe(1); // 127/127
    expect([dv.getInt8(0), dv.getInt8(1), dv.getInt8(2), dv.getInt8(3)]).toEqual([127, -64, 0, 2]); // -63.5 -> -64, 0.5 -> 0, 1.5 -> 2
    expect(dv.getFloat32(10, true)).toBe(Math.fround(2 / 127));
    expect([dv.getInt8(8), dv.getInt8(9)]).toEqual([127, -48]); // -0.75 / (2/127) = -47.625
    expect(back[0]).toBe(127);
  });
  it("an all-zero token stores scale 0 and decodes to zeros", () => {
    const { back } = roundTrip("int8", 3, 2, new Float32Array(5), 1);
    expect(Array.from(back)).toEqual([0, 0, 0, 0, 0]);
  });
});

// Values spanning many binades, with subnormals and exact zeros, inside every format's range.
const valueArb = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: -8, max: 8, noNaN: true }) },
  { weight: 2, arbitrary: fc.tuple(fc.double({ min: -1, max: 1, noNaN: true }), fc.integer({ min: -40, max: 15 })).map(([m, e]) => m * 2 ** e) },
  { weight: 1, arbitrary: fc.integer({ min: -(2 ** 20), max: 2 ** 20 }).map((m) => m * 2 ** -149) }, // float32 subnormals
  { weight: 1, arbitrary: fc.constantFrom(0, -0, 65504, -65504, 1e-8, 2 ** -24, 3 * 2 ** -25) },
);
const caseArb = fc
  .record({ C: fc.integer({ min: 1, max: 300 }), dr: fc.integer({ min: 0, max: 12 }).map((h) => 2 * h), n: fc.integer({ min: 1, max: 3 }) })
  .chain(({ C, dr, n }) => fc.record({ C: fc.constant(C), dr: fc.constant(dr), n: fc.constant(n), scale: fc.constantFrom(1, 1e-3, 1e3, 1e-30), vals: fc.array(valueArb, { minLength: n * (C + dr), maxLength: n * (C + dr) }) }));

describe("round-trip error bounds (bounds.ts, derived in docs/cache.md)", () => {
  for (const format of STORAGE_FORMATS) {
    it(`${format}: |decode(encode(x)) - x| <= bound(x) for every element`, () => {
      fc.assert(
        fc.property(caseArb, ({ C, dr, n, scale, vals }) => {
          const rows = Float32Array.from(vals, (v) => (format === "f16" ? Math.max(-65504, Math.min(65504, v * (scale > 1 ? 1 : scale))) : v * scale));
          const { back } = roundTrip(format, C, dr, rows, n);
          const b = new Float64Array(C + dr);
          for (let t = 0; t < n; t++) {
            const row = rows.subarray(t * (C + dr), (t + 1) * (C + dr));
            elementErrorBounds(format, C, dr, row, b);
            for (let i = 0; i < C + dr; i++) if (!(Math.abs(back[t * (C + dr) + i] - row[i]) <= b[i])) return false;
          }
          return true;
        }),
        { numRuns: 150 },
      );
    });
  }
  it("the bounds are tight: the worst relative error over random data reaches >= 90% of 2^-8, 2^-11, 2^-4, and int8 >= 90% of s/2", () => {
    const n = 2000, C = 128;
    const rows = new Float32Array(n * C);
    let seed = 12345;
    for (let i = 0; i < rows.length; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      rows[i] = (seed / 2 ** 32) * 2 - 1 + (i % C === 0 ? 2 : 0); // |x| <= 3, latent amax pinned near 3 for int8/fp8
    }
    const worst = (format: StorageFormat, rel: boolean) => {
      const { back } = roundTrip(format, C, 0, rows, n);
      let w = 0;
      for (let i = 0; i < rows.length; i++) if (Math.abs(rows[i]) > 0.5) w = Math.max(w, Math.abs(back[i] - rows[i]) / (rel ? Math.abs(rows[i]) : 1));
      return w;
    };
    expect(worst("bf16", true) / 2 ** -8).toBeGreaterThan(0.9);
    expect(worst("bf16", true)).toBeLessThanOrEqual(2 ** -8);
    expect(worst("f16", true) / 2 ** -11).toBeGreaterThan(0.9);
    expect(worst("fp8_e4m3", true) / 2 ** -4).toBeGreaterThan(0.9);
    expect(worst("fp8_e4m3", true)).toBeLessThanOrEqual(2 ** -4);
    // int8: absolute, relative to s/2 with s = amax/127 (amax in [2, 3] per token here)
    const { back } = roundTrip("int8", C, 0, rows, n);
    let w = 0;
    for (let t = 0; t < n; t++) {
      let amax = 0;
      for (let i = 0; i < C; i++) amax = Math.max(amax, Math.abs(rows[t * C + i]));
      for (let i = 0; i < C; i++) w = Math.max(w, Math.abs(back[t * C + i] - rows[t * C + i]) / (amax / 254));
    }
    expect(w).toBeGreaterThan(0.9);
    expect(w).toBeLessThanOrEqual(1 + 2 ** -16);
  });
});
