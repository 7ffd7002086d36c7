// The narrow-format steps of the V3.2 oracle, each against its definition: e4m3 RNE with
// saturation, bf16 RNE, act_quant's scale rule (fp32(1/448) multiply, 1e-4 floor, ue8m0 ceil-log2),
// the Hadamard rotation, the LayerNorm, and top-k's tie-breaking.
import { describe, expect, it } from "vitest";
import { E4M3_VALUES } from "../../src/cache/scalar.js";
import { ACT_QUANT_BLOCK } from "../../src/derived.js";
import { hadamardInPlace, rotateActivation } from "../../src/reference/dsa/hadamard.js";
import { layerNorm } from "../../src/reference/dsa/layernorm.js";
import { AMAX_FLOOR, FP8_MAX_INV, actQuant, actQuantScale, bf16Round, dequantize, e4m3Code, fp32 } from "../../src/reference/dsa/quant.js";
import { topkRow } from "../../src/reference/dsa/topk.js";
import { Rng } from "../../src/weights.js";

const isBf16 = (v: number) => bf16Round(v) === v;

describe("e4m3 (float8_e4m3fn) rounding", () => {
  it("every finite code rounds to itself, sign of zero included; 0x7F/0xFF are NaN", () => {
    for (let c = 0; c < 256; c++) {
      if ((c & 0x7f) === 0x7f) {
        expect(E4M3_VALUES[c]).toBeNaN();
        continue;
      }
      expect(e4m3Code(E4M3_VALUES[c])).toBe(c);
    }
    expect(Object.is(E4M3_VALUES[e4m3Code(-0)], -0)).toBe(true);
  });

  it("midpoints go to the even code, values just off them to the nearer one; |y| >= 448 saturates", () => {
    for (let c = 0; c < 0x7e; c++) {
      const a = E4M3_VALUES[c], b = E4M3_VALUES[c + 1], mid = (a + b) / 2;
      expect(e4m3Code(mid)).toBe(c % 2 === 0 ? c : c + 1);
      expect(e4m3Code(mid - (b - a) / 64)).toBe(c);
      expect(e4m3Code(mid + (b - a) / 64)).toBe(c + 1);
      expect(e4m3Code(-mid)).toBe((c % 2 === 0 ? c : c + 1) | 0x80);
    }
    expect(E4M3_VALUES[e4m3Code(448)]).toBe(448);
    expect(E4M3_VALUES[e4m3Code(1e6)]).toBe(448);
    expect(E4M3_VALUES[e4m3Code(-500)]).toBe(-448);
    expect(E4M3_VALUES[e4m3Code(2 ** -10)]).toBe(0); // half the smallest subnormal 2^-9: ties to even (0)
    expect(E4M3_VALUES[e4m3Code(3 * 2 ** -10)]).toBe(2 ** -8); // 1.5 * 2^-9: to the even subnormal 2 * 2^-9
  });
});

describe("bf16 rounding", () => {
  it("is round-to-nearest-even of the float32 value", () => {
    expect(bf16Round(1 + 2 ** -8)).toBe(1); // halfway to 1 + 2^-7: even
    expect(bf16Round(1 + 3 * 2 ** -8)).toBe(1 + 2 ** -6);
    expect(bf16Round(1 + 2 ** -8 + 2 ** -20)).toBe(1 + 2 ** -7);
    expect(bf16Round(-(1 + 2 ** -8))).toBe(-1);
    expect(bf16Round(1.0078125)).toBe(1.0078125);
  });
});

describe("act_quant", () => {
  it("scale = fp32(amax * fp32(1/448)) (not amax / 448), floored at amax 1e-4; ue8m0 = 2^ceil(log2 s)", () => {
    let differ = 0;
    for (let bits = 0x3f80; bits < 0x4000; bits++) {
      const amax = new Float32Array(new Uint32Array([bits << 16]).buffer)[0]; // every bf16 in [1, 2)
      const s = actQuantScale(amax, null);
      expect(s).toBe(fp32(amax * FP8_MAX_INV));
      if (s !== fp32(amax / 448)) differ++;
      const u = actQuantScale(amax, "ue8m0");
      expect(Number.isInteger(Math.log2(u))).toBe(true);
      expect(u >= s && u < 2 * s).toBe(true);
    }
    expect(differ).toBeGreaterThan(16); // the multiply matters for plain scales (README: 55% of bf16 amax values)
    expect(actQuantScale(0, null)).toBe(fp32(AMAX_FLOOR * FP8_MAX_INV));
    expect(actQuantScale(2 ** -20, null)).toBe(actQuantScale(0, null));
    const pow2 = fp32(2 ** 10 * FP8_MAX_INV);
    expect(actQuantScale(2 ** 10, "ue8m0")).toBe(2 ** Math.ceil(Math.log2(pow2)));
  });

  it("quantises each 128-group of bf16 values to e4m3 with one scale; the group's max lands at +-448; dequantize is fp32(v * s)", () => {
    const rng = new Rng(3), n = 2 * ACT_QUANT_BLOCK, rows = 3;
    const x = Array.from({ length: rows * n }, () => rng.normal() * 3);
    x.fill(0, n, n + ACT_QUANT_BLOCK); // an all-zero group
    for (const fmt of [null, "ue8m0"] as const) {
      const q = actQuant(x, rows, n, fmt);
      expect(q.scales.length).toBe(rows * 2);
      for (let r = 0; r < rows; r++)
        for (let g = 0; g < 2; g++) {
          const off = r * n + g * ACT_QUANT_BLOCK, xs = x.slice(off, off + ACT_QUANT_BLOCK).map(bf16Round);
          const s = q.scales[r * 2 + g], amax = Math.max(...xs.map(Math.abs));
          expect(s).toBe(actQuantScale(amax, fmt));
          for (let i = 0; i < ACT_QUANT_BLOCK; i++) {
            expect(q.values[off + i]).toBe(E4M3_VALUES[e4m3Code(Math.min(Math.max(fp32(xs[i] / s), -448), 448))]);
            expect(E4M3_VALUES[q.codes[off + i]]).toBe(q.values[off + i]);
          }
          if (amax > 0 && fmt === null) expect(Math.max(...Array.from(q.values.subarray(off, off + ACT_QUANT_BLOCK), Math.abs))).toBe(448);
          if (amax === 0) expect(Array.from(q.values.subarray(off, off + ACT_QUANT_BLOCK)).every((v) => v === 0)).toBe(true);
        }
      const d = dequantize(q, rows, n);
      for (let i = 0; i < rows * n; i++) expect(d[i]).toBe(fp32(q.values[i] * q.scales[Math.floor(i / ACT_QUANT_BLOCK)]));
    }
  });
});

describe("rotate_activation", () => {
  it("x @ H in Sylvester order (H symmetric, H H = n I), bf16 in, fp32 scale, bf16 out", () => {
    const n = 128, rng = new Rng(5);
    const H = (i: number, j: number) => (popcount(i & j) % 2 === 0 ? 1 : -1); // scipy.linalg.hadamard(n)[i, j]
    const x = Array.from({ length: n }, () => bf16Round(rng.normal()));
    const y = Float64Array.from(x);
    hadamardInPlace(y, 0, n);
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let i = 0; i < n; i++) acc += x[i] * H(i, j);
      expect(y[j]).toBe(acc);
    }
    hadamardInPlace(y, 0, n);
    for (let i = 0; i < n; i++) expect(y[i]).toBe(n * x[i]);
    const raw = Array.from({ length: 2 * n }, () => rng.normal());
    const { input, rotated } = rotateActivation(raw, 2, n);
    for (let r = 0; r < 2; r++) {
      const row = Float64Array.from(input.subarray(r * n, (r + 1) * n));
      hadamardInPlace(row, 0, n);
      for (let j = 0; j < n; j++) expect(rotated[r * n + j]).toBe(bf16Round(fp32(fp32(row[j]) * fp32(n ** -0.5))));
    }
    expect(Array.from(input).every(isBf16) && Array.from(rotated).every(isBf16)).toBe(true);
  });
});

function popcount(v: number): number {
  let c = 0;
  for (; v; v &= v - 1) c++;
  return c;
}

describe("LayerNorm (k_norm)", () => {
  it("(x - mean) / sqrt(var + 1e-6) * w + b with the biased variance", () => {
    const x = [1, 2, 3, 4, -1, 0, 1, 6];
    const y = layerNorm(x, 2, 4, [1, 1, 2, 1], [0, 0, 0, 0.5]);
    const mean = 2.5, v = 1.25, inv = 1 / Math.sqrt(v + 1e-6);
    expect(y[2]).toBeCloseTo((3 - mean) * inv * 2, 14);
    expect(y[3]).toBeCloseTo((4 - mean) * inv + 0.5, 14);
    expect(y[4]).toBeCloseTo((-1 - 1.5) / Math.sqrt(7.25 + 1e-6), 14);
  });
});

describe("top-k selection", () => {
  it("descending score, ties to the lower index, masked keys never chosen, -1 beyond the visible keys", () => {
    const sc = [0, 0.5, 0, 0.5, -1, 0, 2];
    expect(Array.from(topkRow(sc, 0, 7, 4))).toEqual([6, 1, 3, 0]);
    expect(Array.from(topkRow(sc, 0, 6, 5))).toEqual([1, 3, 0, 2, 5]);
    expect(Array.from(topkRow(sc, 0, 2, 4))).toEqual([1, 0, -1, -1]);
    expect(Array.from(topkRow([9, 9, 0, -0, 0], 2, 3, 3))).toEqual([0, 1, 2]); // -0 ties with 0: by index
  });
});
