// Element conversions against independent oracles: brute-force nearest value over every code of
// the format (ties to the even code), hand-checked constants, and the derived error bounds.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { E4M3_VALUES, bf16FromF32Bits, bitsF32, e4m3FromF32Bits, f16FromF32Bits, f32Bits, f32BitsFromBf16, f32BitsFromF16 } from "../../src/cache/scalar.js";
import { crc32 } from "../../src/cache/crc32.js";

// Value of a code, computed from the format definition (sign, biased exponent, mantissa).
function f16Value(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
  if (e === 31) return m ? NaN : s * Infinity;
  return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
}
function bf16Value(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 7) & 255, m = h & 127;
  if (e === 255) return m ? NaN : s * Infinity;
  return e === 0 ? s * m * 2 ** -133 : s * (1 + m / 128) * 2 ** (e - 127);
}
function e4m3Value(b: number): number {
  const s = b & 0x80 ? -1 : 1, e = (b >> 3) & 15, m = b & 7;
  if (e === 15 && m === 7) return NaN;
  return e === 0 ? s * m * 2 ** -9 : s * (1 + m / 8) * 2 ** (e - 7);
}

/** Positive finite codes sorted by value (code order is value order for these formats). */
function positiveCodes(count: number, value: (c: number) => number): { codes: number[]; values: number[] } {
  const codes: number[] = [], values: number[] = [];
  for (let c = 0; c < count; c++) {
    const v = value(c);
    if (Number.isFinite(v)) {
      codes.push(c);
      values.push(v);
    }
  }
  return { codes, values };
}
const F16 = positiveCodes(0x8000, f16Value);
const BF16 = positiveCodes(0x8000, bf16Value);
const E4M3 = positiveCodes(0x80, e4m3Value);

/** Nearest code to |x| by search over all codes; ties to the even code. Past the largest value: undefined. */
function nearestCode(table: { codes: number[]; values: number[] }, a: number): number | undefined {
  const { codes, values } = table;
  let lo = 0, hi = values.length - 1;
  if (a > values[hi]) return undefined;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (values[mid] <= a) lo = mid;
    else hi = mid;
  }
  const dl = a - values[lo], dh = values[hi] - a;
  if (dl < dh) return codes[lo];
  if (dh < dl) return codes[hi];
  return codes[lo] % 2 === 0 ? codes[lo] : codes[hi];
}

const f32Arb = fc.integer({ min: 0, max: 0xffffffff }).map((b) => b >>> 0);
const finiteF32Arb = f32Arb.filter((b) => (b & 0x7f800000) !== 0x7f800000);
/** Bit patterns that are exact ties of a narrower format: the dropped bits are 100...0. */
const tieArb = (dropBits: number) =>
  fc.tuple(fc.integer({ min: 0, max: 0x1ff }), fc.integer({ min: 0, max: 2 ** (23 - dropBits) - 1 })).map(([se, keep]) => (((se << 23) | (keep << dropBits) | (1 << (dropBits - 1))) >>> 0)).filter((b) => (b & 0x7f800000) !== 0x7f800000);

describe("crc32", () => {
  it("gives the standard check value", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

describe("bf16", () => {
  it("constants: exact, ties to even, overflow, NaN", () => {
    expect(bf16FromF32Bits(f32Bits(1))).toBe(0x3f80);
    expect(bf16FromF32Bits(f32Bits(1 + 2 ** -8))).toBe(0x3f80); // tie, even stays
    expect(bf16FromF32Bits(f32Bits(1 + 3 * 2 ** -8))).toBe(0x3f82); // tie, odd rounds up
    expect(bf16FromF32Bits(0x7f7fffff)).toBe(0x7f80); // float32 max -> Inf
    // fast-check seed -2023147291 found 0x7f7f0001, which the test's own oracle called an overflow.
    expect(bf16FromF32Bits(0x7f7f0001)).toBe(0x7f7f); // just above bf16's largest value: stays there
    expect(bf16FromF32Bits(0x7f7f7fff)).toBe(0x7f7f); // below the half-way point to 2^128
    expect(bf16FromF32Bits(0x7f7f8000)).toBe(0x7f80); // the tie: 0x7f7f is odd, so up to Inf
    expect(bf16FromF32Bits(0xffc00001)).toBe(0xffc0);
    expect(bf16FromF32Bits(0x7f800001)).toBe(0x7fc0); // a NaN whose payload sits in the low bits stays NaN
  });
  it("is the nearest bf16 (ties to even) for any finite float32", () => {
    fc.assert(
      fc.property(fc.oneof(finiteF32Arb, tieArb(16), fc.integer({ min: 0x7f7f0000, max: 0x7f7fffff })), (b) => {
        const a = Math.abs(bitsF32(b));
        const got = bf16FromF32Bits(b);
        // Overflow starts half an ulp (2^119) above the largest finite bf16, (2 - 2^-7) * 2^127;
        // that tie goes to Inf, whose code is even.
        if (a >= 2 ** 128 - 2 ** 119) return (got & 0x7fff) === 0x7f80;
        const want = a > BF16.values[BF16.values.length - 1] ? 0x7f7f : nearestCode(BF16, a);
        return (got & 0x7fff) === want && (got & 0x8000) === ((b >>> 16) & 0x8000);
      }),
      { numRuns: 3000 },
    );
  });
  it("decodes exactly", () => {
    for (let h = 0; h < 0x10000; h += 7) {
      const v = bitsF32(f32BitsFromBf16(h));
      if (Number.isNaN(bf16Value(h))) expect(v).toBeNaN();
      else expect(v).toBe(bf16Value(h));
    }
  });
});

describe("f16", () => {
  it("constants: max, overflow at 65520, subnormal ties, NaN", () => {
    expect(f16FromF32Bits(f32Bits(65504))).toBe(0x7bff);
    expect(f16FromF32Bits(f32Bits(65519.99))).toBe(0x7bff);
    expect(f16FromF32Bits(f32Bits(65520))).toBe(0x7c00);
    expect(f16FromF32Bits(f32Bits(-1e6))).toBe(0xfc00);
    expect(f16FromF32Bits(f32Bits(2 ** -24))).toBe(0x0001);
    expect(f16FromF32Bits(f32Bits(2 ** -25))).toBe(0x0000); // tie -> even (0)
    expect(f16FromF32Bits(f32Bits(3 * 2 ** -25))).toBe(0x0002); // tie -> even (2)
    expect(f16FromF32Bits(f32Bits(1 / 3))).toBe(0x3555);
    expect(f16FromF32Bits(0x7fc00000)).toBe(0x7e00);
  });
  it("is the nearest f16 (ties to even) for any finite float32", () => {
    fc.assert(
      fc.property(fc.oneof(finiteF32Arb, tieArb(13), fc.integer({ min: 0x33000000, max: 0x38800000 })), (b) => {
        const a = Math.abs(bitsF32(b));
        const got = f16FromF32Bits(b);
        if (a >= 65520) return (got & 0x7fff) === 0x7c00;
        return (got & 0x7fff) === nearestCode(F16, a) && (got & 0x8000) === ((b >>> 16) & 0x8000);
      }),
      { numRuns: 3000 },
    );
  });
  it("decodes every code exactly", () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = bitsF32(f32BitsFromF16(h));
      if (Number.isNaN(f16Value(h))) expect(Number.isNaN(v)).toBe(true);
      else if (v !== f16Value(h)) expect(v).toBe(f16Value(h));
    }
  });
});

describe("e4m3 (float8_e4m3fn)", () => {
  it("constants", () => {
    expect(e4m3FromF32Bits(f32Bits(448))).toBe(0x7e);
    expect(e4m3FromF32Bits(f32Bits(1))).toBe(0x38);
    expect(e4m3FromF32Bits(f32Bits(-1))).toBe(0xb8);
    expect(e4m3FromF32Bits(f32Bits(2 ** -9))).toBe(0x01);
    expect(e4m3FromF32Bits(f32Bits(2 ** -10))).toBe(0x00); // tie -> even
    expect(e4m3FromF32Bits(f32Bits(3 * 2 ** -10))).toBe(0x02); // tie -> even
    expect(e4m3FromF32Bits(f32Bits(1000))).toBe(0x7e); // saturates (documented)
    expect(e4m3FromF32Bits(f32Bits(Infinity))).toBe(0x7f);
    expect(e4m3FromF32Bits(f32Bits(-Infinity))).toBe(0xff);
    expect(e4m3FromF32Bits(0x7fc00000)).toBe(0x7f);
  });
  it("table matches the format definition", () => {
    for (let b = 0; b < 256; b++) {
      if (Number.isNaN(e4m3Value(b))) expect(E4M3_VALUES[b]).toBeNaN();
      else expect(E4M3_VALUES[b]).toBe(e4m3Value(b));
    }
  });
  it("is the nearest e4m3 (ties to even) for |x| <= 448", () => {
    fc.assert(
      fc.property(fc.oneof(finiteF32Arb, tieArb(20), fc.integer({ min: 0x3a000000, max: 0x43e00000 })), (b) => {
        const a = Math.abs(bitsF32(b));
        const got = e4m3FromF32Bits(b);
        if (a > 448) return (got & 0x7f) === 0x7e;
        return (got & 0x7f) === nearestCode(E4M3, a) && (got & 0x80) === ((b >>> 24) & 0x80);
      }),
      { numRuns: 3000 },
    );
  });
});
