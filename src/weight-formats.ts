// Projection weights as checkpoints ship them: bf16, int8 with float32 scales, and fp8 e4m3 with
// block scales (DeepSeek-V3's `weight_scale_inv`: weight[i, j] = fp8[i, j] * scale[i/128, j/128]).
// A QuantisedWeight is the compressed tensor itself; `dequantiseWeight` gives its exact values in
// float64 (a code's value times a float32 scale is exact in float64), which is what the reference
// computes from, so the reference and the WASM core (which decodes the same codes in registers)
// start from identical numbers.
//
// Conversion from float weights (the rule for each format):
//   bf16  round to nearest even of the float32 value (bits, like torch's .to(bfloat16)).
//   int8  symmetric, one scale per 128x128 block like fp8: s = amax / 127, q = round-half-even(w / s).
//         Not per output row: the absorbed path contracts W_UK over wkv_b's rows, so per-row scales
//         would need a scale per weight there; blocks keep one scale per 8x128 panel group for
//         every product. (docs/weight-formats.md has the error of both choices.)
//   fp8   DeepSeek's block rule: per 128x128 block s = amax / 448 (float32), q = e4m3(w / s)
//         round-to-nearest-even, saturating at 448 (E4M3_MAX); an all-zero block gets s = 1.
//         Source: DeepSeek-V3 inference/kernel.py (weight_dequant's layout; act_quant's s = amax / 448).

import type { MlaConfig } from "./config.js";
import { FormatError, ShapeError } from "./errors.js";
import { type MlaWeights, type Rng, checkWeights, mlaWeightShapes, randomWeights } from "./weights.js";
import { E4M3_MAX, E4M3_VALUES, bf16FromF32Bits, bitsF32, e4m3FromF32Bits, f32Bits, f32BitsFromBf16, roundHalfEven } from "./cache/scalar.js";

export type WeightFormat = "f32" | "bf16" | "int8" | "fp8";
export const WEIGHT_FORMATS: readonly WeightFormat[] = ["f32", "bf16", "int8", "fp8"];

/** A compressed [rows, cols] weight, row-major codes. */
export interface QuantisedWeight {
  format: "bf16" | "int8" | "fp8";
  shape: readonly [number, number];
  /** bf16: Uint16Array of bf16 bits; int8: Int8Array; fp8: Uint8Array of e4m3fn codes. */
  codes: Uint16Array | Int8Array | Uint8Array;
  /** int8 and fp8: [ceil(rows / block[0]), ceil(cols / block[1])] float32 scales, row-major; bf16: none. */
  scales?: Float32Array;
  /** int8 and fp8: the scale block, rows x cols (DeepSeek's fp8 checkpoints and mlakit's conversions: [128, 128]). */
  block?: readonly [number, number];
}

export function isQuantisedWeight(w: unknown): w is QuantisedWeight {
  return typeof w === "object" && w !== null && !ArrayBuffer.isView(w) && "codes" in w && "format" in w;
}

export function checkWeightFormat(v: unknown, field: string): WeightFormat {
  if (!WEIGHT_FORMATS.includes(v as WeightFormat)) throw new ShapeError(field, v as string, `one of ${WEIGHT_FORMATS.map((f) => `"${f}"`).join(", ")}`);
  return v as WeightFormat;
}

/** Checks a quantised weight's fields against the shape it must have; codes that are not numbers (fp8 NaN) are refused. */
export function checkQuantisedWeight(field: string, w: QuantisedWeight, shape: readonly [number, number]): void {
  const [N, K] = shape;
  if (!(w.shape?.[0] === N && w.shape?.[1] === K)) throw new ShapeError(`${field}.shape`, `[${w.shape?.join(", ")}]`, `[${N}, ${K}]`);
  const want = w.format === "bf16" ? Uint16Array : w.format === "int8" ? Int8Array : w.format === "fp8" ? Uint8Array : null;
  if (!want) throw new ShapeError(`${field}.format`, String(w.format), '"bf16", "int8" or "fp8"');
  if (!(w.codes instanceof want)) throw new ShapeError(`${field}.codes`, w.codes?.constructor?.name ?? typeof w.codes, `a ${want.name} for format "${w.format}"`);
  if (w.codes.length !== N * K) throw new ShapeError(`${field}.codes.length`, w.codes.length, `${N * K} (${N} x ${K})`);
  if (w.format === "bf16") {
    for (let i = 0; i < w.codes.length; i++) if ((w.codes[i] & 0x7f80) === 0x7f80) throw new FormatError(`${field}.codes[${i}]`, `0x${w.codes[i].toString(16)}`, "a finite bf16 value");
    return;
  }
  const b = w.block;
  if (!(b && Number.isInteger(b[0]) && Number.isInteger(b[1]) && b[0] >= 1 && b[1] >= 1)) throw new ShapeError(`${field}.block`, `${b}`, "[rows, cols] of positive integers");
  const nScales = Math.ceil(N / b[0]) * Math.ceil(K / b[1]);
  if (!(w.scales instanceof Float32Array) || w.scales.length !== nScales) throw new ShapeError(`${field}.scales`, w.scales?.length ?? "missing", `a Float32Array of ${nScales} (${Math.ceil(N / b[0])} x ${Math.ceil(K / b[1])} blocks of ${b[0]}x${b[1]})`);
  for (let i = 0; i < nScales; i++) if (!Number.isFinite(w.scales[i])) throw new FormatError(`${field}.scales[${i}]`, w.scales[i], "a finite float32 scale");
  if (w.format === "fp8") for (let i = 0; i < w.codes.length; i++) if ((w.codes[i] & 0x7f) === 0x7f) throw new FormatError(`${field}.codes[${i}]`, `0x${w.codes[i].toString(16)}`, "an e4m3fn code other than NaN (0x7f, 0xff)");
  if (w.format === "int8") for (let i = 0; i < w.codes.length; i++) if (w.codes[i] === -128) throw new FormatError(`${field}.codes[${i}]`, -128, "an int8 code in -127..127 (symmetric)");
}

/** Value of code i of w without its scale (exact in float32). */
export function codeValue(w: QuantisedWeight, i: number): number {
  const c = w.codes[i];
  return w.format === "bf16" ? bitsF32(f32BitsFromBf16(c)) : w.format === "int8" ? c : E4M3_VALUES[c];
}

/** The scale of element (n, k) (1 for bf16). */
export function scaleAt(w: QuantisedWeight, n: number, k: number): number {
  if (!w.scales || !w.block) return 1;
  return w.scales[Math.floor(n / w.block[0]) * Math.ceil(w.shape[1] / w.block[1]) + Math.floor(k / w.block[1])];
}

/** Exact float64 values of a quantised weight, row-major [rows, cols]. */
export function dequantiseWeight(w: QuantisedWeight): Float64Array {
  const [N, K] = w.shape, out = new Float64Array(N * K);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out[n * K + k] = codeValue(w, n * K + k) * scaleAt(w, n, k);
  return out;
}

/** Bytes of a quantised weight as stored (codes and scales). */
export function quantisedBytes(w: QuantisedWeight): number {
  return w.codes.byteLength + (w.scales?.byteLength ?? 0);
}

/** Convert a float [rows, cols] weight to `format` by the rule in the file comment; block: the scale block of int8 and fp8 (default 128x128). */
export function quantiseWeight(format: "bf16" | "int8" | "fp8", w: ArrayLike<number>, shape: readonly [number, number], block: readonly [number, number] = [128, 128]): QuantisedWeight {
  const [N, K] = shape;
  if (format !== "bf16" && format !== "int8" && format !== "fp8") throw new ShapeError("format", String(format), 'one of "bf16", "int8", "fp8"');
  if (w.length !== N * K) throw new ShapeError("weight.length", w.length, `${N * K} (${N} x ${K})`);
  if (format === "bf16") {
    const codes = new Uint16Array(N * K);
    for (let i = 0; i < codes.length; i++) codes[i] = bf16FromF32Bits(f32Bits(w[i]));
    return { format, shape: [N, K], codes };
  }
  if (!(Number.isInteger(block[0]) && Number.isInteger(block[1]) && block[0] >= 1 && block[1] >= 1)) throw new ShapeError("block", `${block}`, "[rows, cols] of positive integers");
  const R = Math.ceil(N / block[0]), Cb = Math.ceil(K / block[1]);
  const scales = new Float32Array(R * Cb);
  const codes = format === "int8" ? new Int8Array(N * K) : new Uint8Array(N * K);
  const qmax = format === "int8" ? 127 : E4M3_MAX;
  for (let bi = 0; bi < R; bi++) {
    for (let bj = 0; bj < Cb; bj++) {
      const n0 = bi * block[0], n1 = Math.min(N, n0 + block[0]), k0 = bj * block[1], k1 = Math.min(K, k0 + block[1]);
      let amax = 0;
      for (let n = n0; n < n1; n++) for (let k = k0; k < k1; k++) amax = Math.max(amax, Math.abs(w[n * K + k]));
      const s = amax > 0 ? Math.fround(amax / qmax) : 1;
      scales[bi * Cb + bj] = s;
      for (let n = n0; n < n1; n++) {
        for (let k = k0; k < k1; k++) {
          const v = Math.fround(w[n * K + k] / s);
          codes[n * K + k] = format === "int8" ? Math.max(-127, Math.min(127, roundHalfEven(v))) : e4m3FromF32Bits(f32Bits(v));
        }
      }
    }
  }
  return { format, shape: [N, K], codes, scales, block: [block[0], block[1]] };
}

// ---------------------------------------------------------------------------------------------
// MLA weights with some projections quantised.

/** The projections a weight format applies to (the norms stay float). */
export const MLA_PROJECTIONS = ["wq", "wq_a", "wq_b", "wkv_a", "wkv_b", "wo"] as const;
export type MlaProjection = (typeof MLA_PROJECTIONS)[number];

/** MlaWeights whose projections may each be a QuantisedWeight (a checkpoint's FP8 tensors as they are). */
export type MlaWeightsInput = Omit<MlaWeights, MlaProjection> & { [P in MlaProjection]?: ArrayLike<number> | QuantisedWeight };

/** Check every weight: the float ones as checkMlaWeights does, the quantised ones by checkQuantisedWeight. */
export function checkMlaWeightsInput(cfg: MlaConfig, w: MlaWeightsInput): void {
  if (typeof w !== "object" || w === null) throw new ShapeError("weights", w, "an object of named weight arrays");
  const shapes = mlaWeightShapes(cfg), floats: Record<string, ArrayLike<number>> = {}, floatShapes: Record<string, number[]> = {};
  for (const [name, shape] of Object.entries(shapes) as [string, number[]][]) {
    const v = (w as Record<string, unknown>)[name];
    if (isQuantisedWeight(v)) {
      if (!(MLA_PROJECTIONS as readonly string[]).includes(name)) throw new ShapeError(`weights.${name}`, v.format, "a float array (only the projections may be quantised)");
      checkQuantisedWeight(`weights.${name}`, v, [shape[0], shape[1]]);
    } else {
      floats[name] = v as ArrayLike<number>;
      floatShapes[name] = shape;
    }
  }
  for (const name of Object.keys(w)) if ((w as Record<string, unknown>)[name] !== undefined && !(name in shapes)) throw new ShapeError(`weights.${name}`, "given", `absent for this config (expected exactly: ${Object.keys(shapes).join(", ")})`);
  checkWeights(floatShapes, floats);
}

/** The float weights the reference computes from: quantised projections dequantised exactly (float64). */
export function dequantiseMlaWeights(cfg: MlaConfig, w: MlaWeightsInput): MlaWeights {
  checkMlaWeightsInput(cfg, w);
  const out: Record<string, unknown> = { ...w };
  for (const name of MLA_PROJECTIONS) {
    const v = w[name];
    if (isQuantisedWeight(v)) out[name] = dequantiseWeight(v);
  }
  return out as unknown as MlaWeights;
}

/** Every projection converted to `format` ("f32": dequantised), the norms as they are. */
export function convertMlaWeights(cfg: MlaConfig, w: MlaWeightsInput, format: WeightFormat, block: readonly [number, number] = [128, 128]): MlaWeightsInput {
  checkMlaWeightsInput(cfg, w);
  const shapes = mlaWeightShapes(cfg), out: Record<string, unknown> = { ...w };
  for (const name of MLA_PROJECTIONS) {
    const v = w[name];
    if (v !== undefined) out[name] = convertWeight(v, format, shapes[name] as [number, number], block);
  }
  return out as unknown as MlaWeightsInput;
}

/**
 * randomMlaWeights(cfg, rng) converted to `format` (128x128 blocks), without ever holding a
 * projection as floats: each band of 128 rows is drawn (the same random stream, in the same order)
 * and quantised before the next, so a layer too large for a float32 copy (DeepSeek-V3's, 750 MB)
 * can be made in its format's size. Equal to convertMlaWeights(cfg, randomMlaWeights(cfg, rng), format).
 */
export function randomMlaWeightsIn(cfg: MlaConfig, format: WeightFormat, rng: Rng): MlaWeightsInput {
  checkWeightFormat(format, "format");
  const BAND = 128;
  const out: Record<string, unknown> = {};
  for (const [name, shape] of Object.entries(mlaWeightShapes(cfg)) as [string, number[]][]) {
    if (name === "q_norm" || name === "kv_norm" || format === "f32") {
      out[name] = randomWeights({ [name]: shape }, rng, ["q_norm", "kv_norm"])[name]; // randomMlaWeights' own draw of this tensor
      continue;
    }
    const [N, K] = shape;
    const codes = format === "bf16" ? new Uint16Array(N * K) : format === "int8" ? new Int8Array(N * K) : new Uint8Array(N * K);
    const Cb = Math.ceil(K / BAND), scales = format === "bf16" ? null : new Float32Array(Math.ceil(N / BAND) * Cb);
    const band = new Float32Array(Math.min(N, BAND) * K);
    for (let r0 = 0; r0 < N; r0 += BAND) {
      const rows = Math.min(BAND, N - r0), part = band.subarray(0, rows * K);
      rng.fillNormal(part, 1 / Math.sqrt(K)); // randomWeights' scale for a [N, K] projection
      const q = quantiseWeight(format, part, [rows, K]);
      codes.set(q.codes, r0 * K);
      if (scales) scales.set(q.scales!, (r0 / BAND) * Cb);
    }
    out[name] = scales ? { format, shape: [N, K], codes, scales, block: [BAND, BAND] } : { format, shape: [N, K], codes };
  }
  return out as unknown as MlaWeightsInput;
}

/** One weight in `format`: a quantised weight of that format as it is, else its (exact) values converted ("f32": a Float32Array, the given one if it is one). */
export function convertWeight(v: ArrayLike<number> | QuantisedWeight, format: WeightFormat, shape: readonly [number, number], block: readonly [number, number] = [128, 128]): ArrayLike<number> | QuantisedWeight {
  if (isQuantisedWeight(v) && v.format === format) return v;
  const values = isQuantisedWeight(v) ? dequantiseWeight(v) : v;
  if (format === "f32") return values instanceof Float32Array ? values : Float32Array.from(values);
  return quantiseWeight(format, values, shape, block);
}

/** Whether any projection is a QuantisedWeight. */
export function hasQuantised(w: MlaWeightsInput | MlaWeights): w is MlaWeightsInput {
  return typeof w === "object" && w !== null && MLA_PROJECTIONS.some((n) => isQuantisedWeight((w as Record<string, unknown>)[n]));
}

/** The one format of the quantised projections, "f32" when none is quantised; mixed formats are refused. */
export function inputWeightFormat(w: MlaWeightsInput): WeightFormat {
  const found = new Set(MLA_PROJECTIONS.map((n) => w[n]).filter(isQuantisedWeight).map((v) => v.format));
  if (found.size > 1) throw new ShapeError("weights", [...found].join(", "), "projections in one weight format (convertMlaWeights converts them)");
  return found.size ? [...found][0] : "f32";
}
