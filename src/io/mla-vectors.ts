// Reader for `mla-vectors/1` (one JSON file per case, produced by DeepSeek's official model.py;
// format in vectors/deepseek-v3-mla/README.md). Tensors come back as Float32Array, bit-exact:
// the file stores the shortest decimal that round-trips each float32.

import { type MlaConfig, fromModelArgs } from "../config.js";
import { FormatError } from "../errors.js";
import type { NamedTensor } from "../layer.js";
import { type MlaWeights, mlaWeightsFromStateDict } from "../weights.js";

export const MLA_VECTORS_FORMAT = "mla-vectors/1";

export interface VectorCall {
  startPos: number;
  seqlen: number;
  input: NamedTensor;
  outputNaive: NamedTensor;
  outputAbsorb: NamedTensor;
}

export interface VectorCase {
  name: string;
  config: MlaConfig;
  batch: number;
  weights: MlaWeights;
  /** The official freqs_cis table [end_pos, dr/2] (real and imaginary parts). */
  freqs: { cos: NamedTensor; sin: NamedTensor };
  softmaxScale: number;
  calls: VectorCall[];
  caches: { naive: Record<string, NamedTensor>; absorb: Record<string, NamedTensor> };
  /** Everything else in the file (source, runtime, notes, ...), untouched. */
  meta: Record<string, unknown>;
}

function obj(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new FormatError(field, v, "an object");
  return v as Record<string, unknown>;
}

function int(v: unknown, field: string, min = 0): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw new FormatError(field, v, `an integer >= ${min}`);
  return v;
}

/** One tensor entry {shape, dtype: "float32", data} -> Float32Array, checking length == prod(shape). */
export function readTensor(tensors: Record<string, unknown>, name: unknown, field: string): NamedTensor {
  if (typeof name !== "string") throw new FormatError(field, name, "the name of a tensor (string)");
  const t = obj(tensors[name], `tensors[${JSON.stringify(name)}]`);
  const shape = t.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw new FormatError(`tensors.${name}.shape`, shape, "an array of non-negative integers");
  if (t.dtype !== "float32") throw new FormatError(`tensors.${name}.dtype`, t.dtype, '"float32"');
  const data = t.data;
  const n = (shape as number[]).reduce((a, b) => a * b, 1);
  if (!Array.isArray(data) || data.length !== n) throw new FormatError(`tensors.${name}.data.length`, Array.isArray(data) ? data.length : data, `${n} = prod(shape [${(shape as number[]).join(", ")}])`);
  for (let i = 0; i < n; i++) if (typeof data[i] !== "number") throw new FormatError(`tensors.${name}.data[${i}]`, data[i], "a number");
  return { shape: shape as number[], data: Float32Array.from(data as number[]) };
}

/** Parse an already-decoded JSON object. `source` names the file in errors. */
export function parseVectorCase(json: unknown, source = "case"): VectorCase {
  const root = obj(json, source);
  if (root.format !== MLA_VECTORS_FORMAT) throw new FormatError(`${source}.format`, root.format, `"${MLA_VECTORS_FORMAT}"`);
  const tensors = obj(root.tensors, `${source}.tensors`);
  const args = obj(root.args, `${source}.args`);
  const config = fromModelArgs({ ...args, max_batch_size: Math.max(int(args.max_batch_size ?? 1, `${source}.args.max_batch_size`, 1), 1) });
  const batch = int(root.batch_size, `${source}.batch_size`, 1);
  const names = root.weights;
  if (!Array.isArray(names)) throw new FormatError(`${source}.weights`, names, "an array of state_dict names");
  const sd: Record<string, Float32Array> = {};
  for (const n of names) sd[n as string] = readTensor(tensors, n, `${source}.weights[]`).data as Float32Array;
  const freqs = obj(root.freqs, `${source}.freqs`);
  const derived = obj(root.derived, `${source}.derived`);
  if (typeof derived.softmax_scale !== "number") throw new FormatError(`${source}.derived.softmax_scale`, derived.softmax_scale, "a number");
  const callsRaw = root.calls;
  if (!Array.isArray(callsRaw) || callsRaw.length === 0) throw new FormatError(`${source}.calls`, callsRaw, "a non-empty array of calls");
  const calls = callsRaw.map((c, i): VectorCall => {
    const co = obj(c, `${source}.calls[${i}]`);
    return {
      startPos: int(co.start_pos, `${source}.calls[${i}].start_pos`),
      seqlen: int(co.seqlen, `${source}.calls[${i}].seqlen`, 1),
      input: readTensor(tensors, co.input, `${source}.calls[${i}].input`),
      outputNaive: readTensor(tensors, co.output_naive, `${source}.calls[${i}].output_naive`),
      outputAbsorb: readTensor(tensors, co.output_absorb, `${source}.calls[${i}].output_absorb`),
    };
  });
  const caches = obj(root.caches, `${source}.caches`);
  const cn = obj(caches.naive, `${source}.caches.naive`);
  const ca = obj(caches.absorb, `${source}.caches.absorb`);
  const meta: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(root)) if (k !== "tensors") meta[k] = v;
  return {
    name: typeof root.name === "string" ? root.name : source,
    config,
    batch,
    weights: mlaWeightsFromStateDict(sd),
    freqs: { cos: readTensor(tensors, freqs.cos, `${source}.freqs.cos`), sin: readTensor(tensors, freqs.sin, `${source}.freqs.sin`) },
    softmaxScale: derived.softmax_scale as number,
    calls,
    caches: {
      naive: { k_cache: readTensor(tensors, cn.k_cache, `${source}.caches.naive.k_cache`), v_cache: readTensor(tensors, cn.v_cache, `${source}.caches.naive.v_cache`) },
      absorb: { kv_cache: readTensor(tensors, ca.kv_cache, `${source}.caches.absorb.kv_cache`), pe_cache: readTensor(tensors, ca.pe_cache, `${source}.caches.absorb.pe_cache`) },
    },
    meta,
  };
}

/** Parse JSON text; syntax errors become FormatError naming the source. */
export function parseVectorCaseText(text: string, source = "case"): VectorCase {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FormatError(source, text.slice(0, 40), "JSON text", (e as Error).message);
  }
  return parseVectorCase(json, source);
}
