// The two fp8 scale rules by name, against their sources' formulas, and the V3.2 record and index
// key codecs against the oracle's act_quant (src/reference/dsa/quant.ts, a separate implementation)
// bit for bit on random rows: ties at e4m3 midpoints, zeros of both signs, float32 subnormals and
// values near bf16's largest.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeTokens, encodeTokens } from "../../src/cache/codecs.js";
import { FP8_RULES, fp8QuantiseGroup, fp8Scale } from "../../src/cache/fp8-rules.js";
import { decodeIndexKeys, encodeIndexKeys } from "../../src/cache/index-keys.js";
import { BF16_RANGE, tokenLayout } from "../../src/cache/layout.js";
import { E4M3_VALUES, bitsF32 } from "../../src/cache/scalar.js";
import type { ScaleFmt } from "../../src/config.js";
import { CacheError } from "../../src/errors.js";
import { actQuant, bf16Round, dequantize } from "../../src/reference/dsa/quant.js";

const f32 = Math.fround;
const bitsOf = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe("fp8 scale rules", () => {
  it("has exactly two rules, by the names the formats use", () => {
    expect(FP8_RULES).toEqual(["flashmla_test", "act_quant"]);
    expect(tokenLayout("fp8_e4m3", 512, 64).quantiser).toEqual({ rule: "flashmla_test", scaleFmt: "ue8m0" });
    expect(tokenLayout("fp8_e4m3_v32", 512, 64, null).quantiser).toEqual({ rule: "act_quant", scaleFmt: null });
    expect(tokenLayout("fp8_e4m3_v32", 512, 64, "ue8m0").quantiser).toEqual({ rule: "act_quant", scaleFmt: "ue8m0" });
  });

  it("flashmla_test clamps the scale, act_quant the amax (FlashMLA tests/quant.py vs kernel.py act_quant_kernel)", () => {
    // amax 0.01: FlashMLA's scale_inv 0.01/448 = 2.2e-5 is raised to 1e-4; act_quant keeps 0.01 (above its floor)
    const a = f32(0.01); // amax is a float32 (the max of float32 values)
    expect(fp8Scale("flashmla_test", a, null)).toBe(f32(1e-4));
    expect(fp8Scale("act_quant", a, null)).toBe(f32(a * f32(1 / 448)));
    // ue8m0: 2^ceil(log2 1e-4) = 2^-13; 2^ceil(log2 2.23e-5) = 2^-15
    expect(fp8Scale("flashmla_test", a, "ue8m0")).toBe(2 ** -13);
    expect(fp8Scale("act_quant", a, "ue8m0")).toBe(2 ** -15);
    // all zeros: FlashMLA's scale is its floor 1e-4; act_quant's is 1e-4 * 1/448
    expect(fp8Scale("flashmla_test", 0, null)).toBe(f32(1e-4));
    expect(fp8Scale("act_quant", 0, null)).toBe(f32(f32(1e-4) * f32(1 / 448)));
  });

  it("act_quant multiplies by fp32(1/448), flashmla_test divides by 448: they differ by an ulp for many bf16 amax", () => {
    let differ = 0, n = 0;
    for (let m = 0; m < 128; m++) {
      const amax = 1 + m / 128; // every bf16 value in [1, 2)
      const mul = fp8Scale("act_quant", amax, null), div = fp8Scale("flashmla_test", amax, null);
      expect(mul).toBe(f32(amax * f32(1 / 448)));
      expect(div).toBe(f32(amax / 448));
      n++;
      if (mul !== div) differ++;
    }
    // README: the two differ for 55% of bf16 amax values; over one binade here the share must be well away from 0 and 1
    expect(differ / n).toBeGreaterThan(0.3);
    expect(differ / n).toBeLessThan(0.8);
  });

  it("ue8m0 leaves a power of two as it is and otherwise rounds up to the next", () => {
    fc.assert(
      fc.property(fc.integer({ min: -40, max: 100 }), fc.integer({ min: 1, max: 2 ** 23 - 1 }), fc.constantFrom(...FP8_RULES), (e, mant, rule) => {
        const amax = bitsF32(((e + 127) << 23) | mant); // not a power of two
        const plain = fp8Scale(rule, amax, null), up = fp8Scale(rule, amax, "ue8m0");
        expect(Number.isInteger(Math.log2(up))).toBe(true);
        expect(up >= plain && up / 2 < plain).toBe(true);
        const p2 = 2 ** Math.round(Math.log2(plain));
        if (p2 === plain) expect(up).toBe(plain);
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Random rows against the oracle's act_quant

const bf16Max = bitsF32(BF16_RANGE.bits - 0x8000); // the largest finite bf16
/** A value a test row may hold: any float32 within bf16's range, subnormals, zeros of both signs, huge. */
const valueArb = fc.oneof(
  fc.float({ noNaN: true, noDefaultInfinity: true, min: -bf16Max, max: bf16Max }),
  fc.float({ noNaN: true, min: f32(-1e-38), max: f32(1e-38) }), // float32 subnormals and the smallest normals
  fc.constantFrom(0, -0, bf16Max, -bf16Max, 1e-45, -1e-45),
  fc.double({ noNaN: true, min: -4, max: 4 }),
);

/**
 * A row whose act_quant ue8m0 scale is 2^k (one element 256 * 2^k: 256 * fp32(1/448) rounds up to
 * 1) and whose other values sit on e4m3 codes or on the midpoint of two neighbouring codes below
 * 256 (codes 0..0x76, 0x77 = 240): exact ties for the e4m3 rounding, exact in bf16 (4 significant bits).
 */
const tieRowArb = (n: number) =>
  fc.record({ k: fc.integer({ min: -20, max: 20 }), at: fc.nat({ max: n - 1 }), picks: fc.array(fc.tuple(fc.integer({ min: 0, max: 0x76 }), fc.boolean(), fc.boolean()), { minLength: n, maxLength: n }) }).map(({ k, at, picks }) =>
    picks.map(([code, mid, neg], i) => {
      if (i === at) return 256 * 2 ** k;
      const v = (mid ? (E4M3_VALUES[code] + E4M3_VALUES[code + 1]) / 2 : E4M3_VALUES[code]) * 2 ** k;
      return neg ? -v : v;
    }),
  );

const rowArb = (n: number) => fc.oneof(fc.array(valueArb, { minLength: n, maxLength: n }), tieRowArb(n), fc.constant(new Array<number>(n).fill(0)));
const fmtArb = fc.constantFrom<ScaleFmt | null>(null, "ue8m0");

describe("act_quant in the cache = the oracle's act_quant", () => {
  it("fp8QuantiseGroup: the same codes and scale as actQuant on any 128-value group", () => {
    fc.assert(
      fc.property(rowArb(128), fmtArb, (row, fmt) => {
        const x = Float32Array.from(row);
        const codes = new Uint8Array(128);
        const s = fp8QuantiseGroup({ rule: "act_quant", scaleFmt: fmt }, new Uint32Array(x.buffer), 0, 128, codes, 0);
        const want = actQuant(x, 1, 128, fmt);
        expect(s).toBe(want.scales[0]);
        expect(Array.from(codes)).toEqual(Array.from(want.codes));
      }),
      { numRuns: 400 },
    );
  });

  it("fp8_e4m3_v32 records decode to exactly the oracle's dequantised latent; k_pe comes back as bf16", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 3 }), fmtArb, fc.integer({ min: 0, max: 2 ** 31 - 1 }), (tiles, half, n, fmt, seed) => {
        const C = 128 * tiles, dr = 2 * half, W = C + dr;
        const L = tokenLayout("fp8_e4m3_v32", C, dr, fmt);
        expect(L.bytesPerToken).toBe(C + 4 * tiles + 2 * dr);
        const rows = fc.sample(rowArb(W), { numRuns: n, seed }).flat();
        const src = Float32Array.from(rows);
        const bytes = new Uint8Array(n * L.bytesPerToken + 3).subarray(3); // odd byteOffset
        encodeTokens(L, src, 0, n, bytes, 0);
        const back = new Float32Array(n * W);
        decodeTokens(L, bytes, 0, n, back, 0);
        const c = new Float32Array(n * C);
        for (let t = 0; t < n; t++) c.set(src.subarray(t * W, t * W + C), t * C);
        const q = actQuant(c, n, C, fmt), deq = Float32Array.from(dequantize(q, n, C));
        const dv = new DataView(bytes.buffer, bytes.byteOffset);
        for (let t = 0; t < n; t++) {
          const at = t * L.bytesPerToken;
          expect(Array.from(bytes.subarray(at, at + C))).toEqual(Array.from(q.codes.subarray(t * C, (t + 1) * C)));
          for (let g = 0; g < tiles; g++) expect(dv.getFloat32(at + C + 4 * g, true)).toBe(q.scales[t * tiles + g]);
          expect(bitsOf(back.subarray(t * W, t * W + C))).toEqual(bitsOf(deq.subarray(t * C, (t + 1) * C)));
          expect(bitsOf(back.subarray(t * W + C, (t + 1) * W))).toEqual(bitsOf(Float32Array.from(src.subarray(t * W + C, (t + 1) * W), bf16Round)));
        }
      }),
      { numRuns: 150 },
    );
  });

  it("index keys: codes and one scale per token as actQuant computes them, decoded to their e4m3 values", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fmtArb, fc.integer({ min: 0, max: 2 ** 31 - 1 }), (n, fmt, seed) => {
        const k = Float32Array.from(fc.sample(rowArb(128), { numRuns: n, seed }).flat());
        const l = { dim: 128, scaleFmt: fmt, bytesPerToken: 132, limit: BF16_RANGE };
        const buf = new Uint8Array(132 * n + 1).subarray(1);
        encodeIndexKeys(l, k, 0, n, buf, 0, 128 * n);
        const want = actQuant(k, n, 128, fmt);
        expect(Array.from(buf.subarray(0, 128 * n))).toEqual(Array.from(want.codes));
        const values = new Float32Array(128 * n), scales = new Float32Array(n);
        decodeIndexKeys(l, buf, 0, 128 * n, n, values, 0, scales, 0);
        expect(Array.from(scales)).toEqual(Array.from(want.scales));
        expect(bitsOf(values)).toEqual(bitsOf(Float32Array.from(want.values)));
      }),
      { numRuns: 150 },
    );
  });

  it("fp8_e4m3 keeps FlashMLA's rule: the same row gets other scales than under fp8_e4m3_v32", () => {
    const C = 128, x = new Float32Array(C).fill(0.01);
    const fl = tokenLayout("fp8_e4m3", C, 0), v32 = tokenLayout("fp8_e4m3_v32", C, 0, "ue8m0");
    const a = new Uint8Array(fl.bytesPerToken), b = new Uint8Array(v32.bytesPerToken);
    encodeTokens(fl, x, 0, 1, a, 0);
    encodeTokens(v32, x, 0, 1, b, 0);
    expect(new DataView(a.buffer).getFloat32(C, true)).toBe(2 ** -13); // scale floor 1e-4, rounded up
    expect(new DataView(b.buffer).getFloat32(C, true)).toBe(2 ** -15); // 0.01 / 448 rounded up
  });

  it("fp8_e4m3_v32 needs C a multiple of 128 and a scale_fmt of V3.2", () => {
    expect(() => tokenLayout("fp8_e4m3_v32", 200, 64, null)).toThrow(CacheError);
    expect(() => tokenLayout("fp8_e4m3_v32", 200, 64, null)).toThrow(/kv_lora_rank/);
    expect(() => tokenLayout("fp8_e4m3_v32", 256, 64)).toThrow(/scale_fmt/);
  });
});
