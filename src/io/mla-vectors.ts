// Reader for `mla-vectors/1` (one JSON file per case, produced by DeepSeek's official model.py;
// format in vectors/deepseek-v3-mla/README.md). Tensors come back as Float32Array, bit-exact:
// the file stores the shortest decimal that round-trips each float32.

//
// Everything the file states is checked against its own args before a backend runs: the weights
// are exactly the config's, each of its official shape ([out, in]: a transposed matrix holds the
// same number of values and would otherwise pass); the calls follow each other (start_pos <=
// the tokens before it, end <= max_seq_len, batch <= max_batch_size); inputs and outputs are
// [B, s, D]; the freqs table is [end_pos, dr/2] and the caches [B, end_pos, ...] with end_pos the
// last call's end; every value is a finite float32. A file that breaks one is a FormatError
// (exit 2 in the CLI); the numbers themselves (outputs, caches, freqs, softmax_scale) are
// compared by verify.ts.

import { type MlaConfig, fromModelArgs } from "../config.js";
import { FormatError } from "../errors.js";
import { jsonObject as obj, jsonInt as int, parseJsonText } from "./json-fields.js";
import type { NamedTensor } from "../layer.js";
import { type MlaWeights, mlaWeightShapes, mlaWeightsFromStateDict } from "../weights.js";

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

/** A shape must be `want` exactly; `what` says where the expectation comes from. */
export function checkShape(shape: readonly number[], want: readonly number[], field: string, what: string): void {
  if (shape.length !== want.length || shape.some((d, i) => d !== want[i])) throw new FormatError(field, [...shape], `[${want.join(", ")}] (${what})`);
}

/**
 * One tensor entry {shape, dtype: "float32", data} -> Float32Array, checking length == prod(shape),
 * every value a finite float32, and the shape `want` when given (`what`: why that shape).
 */
export function readTensor(tensors: Record<string, unknown>, name: unknown, field: string, want?: readonly number[], what = ""): NamedTensor {
  if (typeof name !== "string") throw new FormatError(field, name, "the name of a tensor (string)");
  if (!Object.prototype.hasOwnProperty.call(tensors, name)) throw new FormatError(`tensors[${JSON.stringify(name)}]`, undefined, `a tensor (${field} names it)`);
  const t = obj(tensors[name], `tensors[${JSON.stringify(name)}]`);
  const shape = t.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw new FormatError(`tensors.${name}.shape`, shape, "an array of non-negative integers");
  if (want) checkShape(shape as number[], want, `tensors.${name}.shape`, what);
  if (t.dtype !== "float32") throw new FormatError(`tensors.${name}.dtype`, t.dtype, '"float32"');
  const data = t.data;
  const n = (shape as number[]).reduce((a, b) => a * b, 1);
  if (!Array.isArray(data) || data.length !== n) throw new FormatError(`tensors.${name}.data.length`, Array.isArray(data) ? data.length : data, `${n} = prod(shape [${(shape as number[]).join(", ")}])`);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (typeof data[i] === "number") out[i] = data[i];
    if (typeof data[i] !== "number" || !Number.isFinite(out[i])) throw new FormatError(`tensors.${name}.data[${i}]`, data[i], "a finite float32 number");
  }
  return { shape: shape as number[], data: out };
}

/** The state_dict names a config's MLA has, with their official shapes ([out, in] for linears). */
export function stateDictShapes(config: MlaConfig): Map<string, number[]> {
  return new Map(Object.entries(mlaWeightShapes(config)).map(([k, shape]) => [`${k}.weight`, shape as number[]]));
}

/** The case's "weights" list: exactly the state_dict names of its config, each once. */
export function checkWeightNames(names: unknown, config: MlaConfig, source: string): string[] {
  const shapes = stateDictShapes(config);
  const want = [...shapes.keys()].join(", ");
  if (!Array.isArray(names)) throw new FormatError(`${source}.weights`, names, `an array of state_dict names (${want})`);
  const seen = new Set<string>();
  for (const n of names) {
    if (typeof n !== "string" || !shapes.has(n) || seen.has(n)) throw new FormatError(`${source}.weights[]`, n, `each of ${want} once (the weights of this config)`);
    seen.add(n);
  }
  if (seen.size !== shapes.size) throw new FormatError(`${source}.weights`, names, `all of ${want}`);
  return names as string[];
}

/** The shapes every tensor of a case must have, from its config, batch and calls. */
function caseShapes(config: MlaConfig, B: number, end: number) {
  const { dim: D, n_heads: H, kv_lora_rank: C, qk_nope_head_dim: dn, qk_rope_head_dim: dr, v_head_dim: dv } = config;
  return {
    call: (s: number) => [B, s, D],
    freqs: [end, dr / 2],
    k_cache: [B, end, H, dn + dr],
    v_cache: [B, end, H, dv],
    kv_cache: [B, end, C],
    pe_cache: [B, end, dr],
  };
}

/** Parse an already-decoded JSON object. `source` names the file in errors. */
export function parseVectorCase(json: unknown, source = "case"): VectorCase {
  const body = parseCaseBody(json, source);
  const tensors = obj((json as Record<string, unknown>).tensors, `${source}.tensors`);
  const shapes = stateDictShapes(body.case.config);
  const sd: Record<string, Float32Array> = {};
  for (const n of body.weightNames) sd[n] = readTensor(tensors, n, `${source}.weights[]`, shapes.get(n), `${n} of this config, [out, in]`).data as Float32Array;
  return { ...body.case, weights: mlaWeightsFromStateDict(sd) };
}

/**
 * Everything but the weights' values: the config, the calls, freqs and caches (read and checked
 * against the config), and the weight names (checked against it). Used by the inline reader here
 * and by mla-vectors-external.ts, which reads the weights from a safetensors file.
 */
export function parseCaseBody(json: unknown, source: string): { case: Omit<VectorCase, "weights">; weightNames: string[] } {
  const root = obj(json, source);
  if (root.format !== MLA_VECTORS_FORMAT) throw new FormatError(`${source}.format`, root.format, `"${MLA_VECTORS_FORMAT}"`);
  const tensors = obj(root.tensors, `${source}.tensors`);
  const args = obj(root.args, `${source}.args`);
  const config = fromModelArgs({ ...args, max_batch_size: Math.max(int(args.max_batch_size ?? 1, `${source}.args.max_batch_size`, 1), 1) });
  const batch = int(root.batch_size, `${source}.batch_size`, 1);
  if (batch > config.max_batch_size) throw new FormatError(`${source}.batch_size`, batch, `<= args.max_batch_size ${config.max_batch_size}`);
  const weightNames = checkWeightNames(root.weights, config, source);
  const freqs = obj(root.freqs, `${source}.freqs`);
  const derived = obj(root.derived, `${source}.derived`);
  if (typeof derived.softmax_scale !== "number" || !Number.isFinite(derived.softmax_scale)) throw new FormatError(`${source}.derived.softmax_scale`, derived.softmax_scale, "a finite number");
  const callsRaw = root.calls;
  if (!Array.isArray(callsRaw) || callsRaw.length === 0) throw new FormatError(`${source}.calls`, callsRaw, "a non-empty array of calls");
  let end = 0;
  const steps = callsRaw.map((c, i) => {
    const co = obj(c, `${source}.calls[${i}]`);
    const startPos = int(co.start_pos, `${source}.calls[${i}].start_pos`);
    if (startPos > end) throw new FormatError(`${source}.calls[${i}].start_pos`, startPos, `<= ${end} (the tokens the calls before it cached)`);
    const seqlen = int(co.seqlen, `${source}.calls[${i}].seqlen`, 1);
    if (startPos + seqlen > config.max_seq_len) throw new FormatError(`${source}.calls[${i}].seqlen`, seqlen, `<= ${config.max_seq_len - startPos} (start_pos ${startPos} + seqlen <= args.max_seq_len ${config.max_seq_len})`);
    end = startPos + seqlen;
    return { co, startPos, seqlen, i };
  });
  const want = caseShapes(config, batch, end);
  const calls = steps.map(({ co, startPos, seqlen, i }): VectorCall => {
    const f = `${source}.calls[${i}]`, x = want.call(seqlen), why = `[B, s, D] = [batch_size, seqlen, dim]`;
    return { startPos, seqlen, input: readTensor(tensors, co.input, `${f}.input`, x, why), outputNaive: readTensor(tensors, co.output_naive, `${f}.output_naive`, x, why), outputAbsorb: readTensor(tensors, co.output_absorb, `${f}.output_absorb`, x, why) };
  });
  if (derived.end_pos !== undefined && derived.end_pos !== end) throw new FormatError(`${source}.derived.end_pos`, derived.end_pos, `${end} (the last call's start_pos + seqlen)`);
  const caches = obj(root.caches, `${source}.caches`);
  const cn = obj(caches.naive, `${source}.caches.naive`);
  const ca = obj(caches.absorb, `${source}.caches.absorb`);
  const cache = (c: Record<string, unknown>, name: "k_cache" | "v_cache" | "kv_cache" | "pe_cache", path: string) => readTensor(tensors, c[name], `${source}.caches.${path}.${name}`, want[name], `${name} [B, end_pos, ...] with end_pos ${end}`);
  const meta: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(root)) if (k !== "tensors") meta[k] = v;
  const freqsWhy = `freqs_cis [end_pos, dr/2] with end_pos ${end}`;
  return {
    case: {
      name: typeof root.name === "string" ? root.name : source,
      config,
      batch,
      freqs: { cos: readTensor(tensors, freqs.cos, `${source}.freqs.cos`, want.freqs, freqsWhy), sin: readTensor(tensors, freqs.sin, `${source}.freqs.sin`, want.freqs, freqsWhy) },
      softmaxScale: derived.softmax_scale as number,
      calls,
      caches: {
        naive: { k_cache: cache(cn, "k_cache", "naive"), v_cache: cache(cn, "v_cache", "naive") },
        absorb: { kv_cache: cache(ca, "kv_cache", "absorb"), pe_cache: cache(ca, "pe_cache", "absorb") },
      },
      meta,
    },
    weightNames,
  };
}

/** Parse JSON text; syntax errors become FormatError naming the source. */
export function parseVectorCaseText(text: string, source = "case"): VectorCase {
  return parseVectorCase(parseJsonText(text, source), source);
}
