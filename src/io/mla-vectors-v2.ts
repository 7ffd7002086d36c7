// Reader for `mla-vectors/2`: DeepSeek-V3.2's attention (MLA + the lightning indexer + top-k),
// one JSON file per case, from DeepSeek's official model.py (format and semantics in
// vectors/deepseek-v3.2-dsa/README.md). Browser-safe. Tensors come back bit-exact: float32 data
// as Float32Array (the file stores the shortest decimal that round-trips each float32, -0.0
// included), int32 data (top-k indices) as Int32Array.
//
// Everything the file states is checked against its own args before anything runs: the config is
// a V3.2 one and the "dsa" block agrees with it; the weights are exactly the layer's state_dict
// names with their official shapes; the calls follow each other (start_pos <= the tokens before
// it, end_pos = start_pos + seqlen <= max_seq_len), each call's branch and mask are what model.py
// takes for its seqlen, topk_k = min(index_topk, end_pos), and every dumped tensor has the shape the
// README's table gives; every float is a finite float32, every index an int32. A file that breaks
// one is a FormatError (exit 2 in the CLI); the numbers are compared by verify.ts.

import { type DsaConfig, fromModelArgs, isDsaConfig } from "../config.js";
import { ACT_QUANT_BLOCK } from "../derived.js";
import { FormatError } from "../errors.js";
import { jsonObject as obj, jsonInt as int, parseJsonText } from "./json-fields.js";
import type { NamedTensor } from "../layer.js";
import { type DsaWeights, dsaStateDictShapes, dsaWeightsFromStateDict } from "./dsa-weights.js";

export const MLA_VECTORS_V2_FORMAT = "mla-vectors/2";

/** An int32 tensor (top-k indices). */
export interface IntTensor {
  shape: number[];
  data: Int32Array;
}

/** The act_quant of the latent in one call (model.py MLA.forward). */
export interface DsaKvQuant {
  /** [B, s, C] bf16(kv_norm(c_kv)). */
  input_bf16: NamedTensor;
  /** [B, s, C] e4m3 values. */
  fp8: NamedTensor;
  /** [B, s, C/128]. */
  scale: NamedTensor;
}

/** The indexer's intermediates in one call (model.py Indexer.forward). */
export interface DsaIndexerDump {
  /** [B, s, HI, DI], [B, s, DI]: rotate_activation's bf16 inputs. */
  q_bf16: NamedTensor;
  k_bf16: NamedTensor;
  /** rotate_activation's outputs. */
  q_rot: NamedTensor;
  k_rot: NamedTensor;
  /** [B, s, HI, DI] e4m3 values, [B, s, HI, 1] scales. */
  q_fp8: NamedTensor;
  q_scale: NamedTensor;
  /** [B, s, HI, 1] fp8_index's q_s. */
  weights: NamedTensor;
  /** [B, s, E] raw fp8_index output (before the causal mask). */
  index_score: NamedTensor;
  /** [B, s, min(index_topk, E)] torch.topk indices, descending (entries of masked keys are arbitrary). */
  topk_indices: IntTensor;
}

export const DSA_EXACT_KV_QUANT = ["input_bf16", "fp8", "scale"] as const;
export const DSA_EXACT_INDEXER = ["q_bf16", "k_bf16", "q_rot", "k_rot", "q_fp8", "q_scale"] as const;

export interface DsaVectorCall {
  startPos: number;
  seqlen: number;
  endPos: number;
  /** "causal" for s > 1 (the MHA prefill), null for s == 1 (the absorbed MQA decode). */
  mask: "causal" | null;
  branch: "mha_prefill" | "mqa_decode";
  /** min(index_topk, end_pos). */
  topkK: number;
  input: NamedTensor;
  output: NamedTensor;
  kv_quant: DsaKvQuant;
  indexer: DsaIndexerDump;
  /** Smallest (score_k - score_{k+1}) / max|score| over the call's rows that drop keys (null: none). */
  minTopkGapRel: number | null;
}

/** The caches after the last call, under model.py's buffer names. */
export interface DsaVectorCaches {
  /** [B, E, C] dequantised latent. */
  kv_cache: NamedTensor;
  /** [B, E, dr] roped k_pe. */
  pe_cache: NamedTensor;
  /** [B, E, DI] e4m3 values of the indexer keys. */
  "indexer.k_cache": NamedTensor;
  /** [B, E, 1] their scales. */
  "indexer.k_scale_cache": NamedTensor;
}

export interface DsaVectorCase {
  name: string;
  config: DsaConfig;
  batch: number;
  weights: DsaWeights;
  /** The official freqs_cis table [end_pos, dr/2]. */
  freqs: { cos: NamedTensor; sin: NamedTensor };
  /** derived.softmax_scale (MLA's, with YaRN's mscale^2). */
  softmaxScale: number;
  /** The dsa block's constants: Indexer.softmax_scale (DI^-0.5), n_heads^-0.5, the Hadamard's scale. */
  dsa: { indexSoftmaxScale: number; weightsScale: number; hadamardScale: number };
  calls: DsaVectorCall[];
  caches: DsaVectorCaches;
  /** Everything else in the file (source, runtime, generation, agreement, recheck, notes), untouched. */
  meta: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Field readers

function finite(v: unknown, field: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new FormatError(field, v, "a finite number");
  return v;
}

/** The entry {shape, dtype, data} a field names, its shape checked against `want` (`what`: why). */
function entry(tensors: Record<string, unknown>, name: unknown, field: string, dtype: string, want: readonly number[], what: string): { shape: number[]; data: unknown[]; name: string } {
  if (typeof name !== "string") throw new FormatError(field, name, "the name of a tensor (string)");
  if (!Object.prototype.hasOwnProperty.call(tensors, name)) throw new FormatError(`tensors[${JSON.stringify(name)}]`, undefined, `a tensor (${field} names it)`);
  const t = obj(tensors[name], `tensors[${JSON.stringify(name)}]`);
  const shape = t.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw new FormatError(`tensors.${name}.shape`, shape, "an array of non-negative integers");
  if (shape.length !== want.length || shape.some((d, i) => d !== want[i])) throw new FormatError(`tensors.${name}.shape`, shape, `[${want.join(", ")}] (${what})`);
  if (t.dtype !== dtype) throw new FormatError(`tensors.${name}.dtype`, t.dtype, JSON.stringify(dtype));
  const n = want.reduce((a, b) => a * b, 1);
  if (!Array.isArray(t.data) || t.data.length !== n) throw new FormatError(`tensors.${name}.data.length`, Array.isArray(t.data) ? t.data.length : t.data, `${n} = prod(shape [${want.join(", ")}])`);
  return { shape: shape as number[], data: t.data, name };
}

/** A float32 tensor: every value a number whose float32 is finite. */
export function readF32(tensors: Record<string, unknown>, name: unknown, field: string, want: readonly number[], what: string): NamedTensor {
  const e = entry(tensors, name, field, "float32", want, what);
  const out = new Float32Array(e.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = e.data[i];
    if (typeof v === "number") out[i] = v;
    if (typeof v !== "number" || !Number.isFinite(out[i])) throw new FormatError(`tensors.${e.name}.data[${i}]`, v, "a finite float32 number");
  }
  return { shape: e.shape, data: out };
}

/** An int32 tensor: every value an integer in int32 range. */
export function readI32(tensors: Record<string, unknown>, name: unknown, field: string, want: readonly number[], what: string): IntTensor {
  const e = entry(tensors, name, field, "int32", want, what);
  const out = new Int32Array(e.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = e.data[i];
    if (typeof v !== "number" || !Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) throw new FormatError(`tensors.${e.name}.data[${i}]`, v, "an int32");
    out[i] = v;
  }
  return { shape: e.shape, data: out };
}

// ---------------------------------------------------------------------------------------------
// The case

/** Does this decoded JSON say it is an mla-vectors/2 case? */
export function isDsaVectorJson(json: unknown): boolean {
  return typeof json === "object" && json !== null && (json as { format?: unknown }).format === MLA_VECTORS_V2_FORMAT;
}

/** Parse an already-decoded JSON object. `source` names the file in errors. */
export function parseDsaVectorCase(json: unknown, source = "case"): DsaVectorCase {
  const root = obj(json, source);
  if (root.format !== MLA_VECTORS_V2_FORMAT) throw new FormatError(`${source}.format`, root.format, `"${MLA_VECTORS_V2_FORMAT}"`);
  const tensors = obj(root.tensors, `${source}.tensors`);
  const args = obj(root.args, `${source}.args`);
  const cfg = fromModelArgs(args);
  if (!isDsaConfig(cfg)) throw new FormatError(`${source}.args.index_topk`, args.index_topk, "DeepSeek-V3.2 ModelArgs (index_n_heads, index_head_dim, index_topk)");
  const config = cfg;
  const batch = int(root.batch_size, `${source}.batch_size`, 1);
  if (batch > config.max_batch_size) throw new FormatError(`${source}.batch_size`, batch, `<= args.max_batch_size ${config.max_batch_size}`);

  const dsa = obj(root.dsa, `${source}.dsa`);
  for (const k of ["index_n_heads", "index_head_dim", "index_topk", "scale_fmt"] as const) {
    if (dsa[k] !== config[k]) throw new FormatError(`${source}.dsa.${k}`, dsa[k], `${JSON.stringify(config[k])} (args.${k})`);
  }
  const derived = obj(root.derived, `${source}.derived`);

  // weights: exactly the layer's state_dict names, each of its official shape
  const shapes = dsaStateDictShapes(config);
  const want = [...shapes.keys()].join(", ");
  if (!Array.isArray(root.weights)) throw new FormatError(`${source}.weights`, root.weights, `an array of state_dict names (${want})`);
  const sd: Record<string, Float32Array> = {};
  for (const n of root.weights) {
    if (typeof n !== "string" || !shapes.has(n) || n in sd) throw new FormatError(`${source}.weights[]`, n, `each of ${want} once (the weights of this config)`);
    sd[n] = readF32(tensors, n, `${source}.weights[]`, shapes.get(n)!, `${n} of this config, [out, in]`).data as Float32Array;
  }
  if (Object.keys(sd).length !== shapes.size) throw new FormatError(`${source}.weights`, root.weights, `all of ${want}`);

  const { dim: D, kv_lora_rank: C, qk_rope_head_dim: dr, index_n_heads: HI, index_head_dim: DI, index_topk } = config;
  const callsRaw = root.calls;
  if (!Array.isArray(callsRaw) || callsRaw.length === 0) throw new FormatError(`${source}.calls`, callsRaw, "a non-empty array of calls");
  let end = 0;
  const calls = callsRaw.map((raw, i): DsaVectorCall => {
    const f = `${source}.calls[${i}]`, co = obj(raw, f);
    const startPos = int(co.start_pos, `${f}.start_pos`);
    if (startPos > end) throw new FormatError(`${f}.start_pos`, startPos, `<= ${end} (the tokens the calls before it cached)`);
    const seqlen = int(co.seqlen, `${f}.seqlen`, 1);
    const E = startPos + seqlen;
    if (E > config.max_seq_len) throw new FormatError(`${f}.seqlen`, seqlen, `<= ${config.max_seq_len - startPos} (start_pos ${startPos} + seqlen <= args.max_seq_len ${config.max_seq_len})`);
    if (co.end_pos !== E) throw new FormatError(`${f}.end_pos`, co.end_pos, `${E} (start_pos + seqlen)`);
    end = E;
    const mask = seqlen > 1 ? "causal" : null, branch = seqlen > 1 ? "mha_prefill" : "mqa_decode";
    if (co.mask !== mask) throw new FormatError(`${f}.mask`, co.mask, `${JSON.stringify(mask)} (model.py masks iff seqlen > 1)`);
    if (co.branch !== branch) throw new FormatError(`${f}.branch`, co.branch, `"${branch}" (model.py's branch for seqlen ${seqlen})`);
    const topkK = Math.min(index_topk, E);
    if (co.topk_k !== topkK) throw new FormatError(`${f}.topk_k`, co.topk_k, `${topkK} = min(index_topk ${index_topk}, end_pos ${E})`);
    const kq = obj(co.kv_quant, `${f}.kv_quant`), ix = obj(co.indexer, `${f}.indexer`);
    const t = (o: Record<string, unknown>, k: string, where: string, shape: number[], what: string) => readF32(tensors, o[k], `${f}.${where}${k}`, shape, what);
    const x = [batch, seqlen, D];
    const gap = co.min_topk_gap_rel;
    return {
      startPos, seqlen, endPos: E, mask, branch, topkK,
      input: t(co, "input", "", x, "[B, s, D]"),
      output: t(co, "output", "", x, "[B, s, D]"),
      kv_quant: {
        input_bf16: t(kq, "input_bf16", "kv_quant.", [batch, seqlen, C], "[B, s, C]"),
        fp8: t(kq, "fp8", "kv_quant.", [batch, seqlen, C], "[B, s, C]"),
        scale: t(kq, "scale", "kv_quant.", [batch, seqlen, C / ACT_QUANT_BLOCK], "[B, s, C/128]"),
      },
      indexer: {
        q_bf16: t(ix, "q_bf16", "indexer.", [batch, seqlen, HI, DI], "[B, s, HI, DI]"),
        k_bf16: t(ix, "k_bf16", "indexer.", [batch, seqlen, DI], "[B, s, DI]"),
        q_rot: t(ix, "q_rot", "indexer.", [batch, seqlen, HI, DI], "[B, s, HI, DI]"),
        k_rot: t(ix, "k_rot", "indexer.", [batch, seqlen, DI], "[B, s, DI]"),
        q_fp8: t(ix, "q_fp8", "indexer.", [batch, seqlen, HI, DI], "[B, s, HI, DI]"),
        q_scale: t(ix, "q_scale", "indexer.", [batch, seqlen, HI, 1], "[B, s, HI, 1]"),
        weights: t(ix, "weights", "indexer.", [batch, seqlen, HI, 1], "[B, s, HI, 1]"),
        index_score: t(ix, "index_score", "indexer.", [batch, seqlen, E], "[B, s, end_pos]"),
        topk_indices: readI32(tensors, ix.topk_indices, `${f}.indexer.topk_indices`, [batch, seqlen, topkK], "[B, s, min(index_topk, end_pos)]"),
      },
      minTopkGapRel: gap === undefined || gap === null ? null : finite(gap, `${f}.min_topk_gap_rel`),
    };
  });
  for (const c of calls) {
    const idx = c.indexer.topk_indices.data;
    for (let i = 0; i < idx.length; i++) if (idx[i] < 0 || idx[i] >= c.endPos) throw new FormatError(`${source}.calls[${calls.indexOf(c)}].indexer.topk_indices[${i}]`, idx[i], `a key index in 0..${c.endPos - 1}`);
  }
  if (derived.end_pos !== undefined && derived.end_pos !== end) throw new FormatError(`${source}.derived.end_pos`, derived.end_pos, `${end} (the last call's end_pos)`);

  const freqs = obj(root.freqs, `${source}.freqs`);
  const fw = [end, dr / 2], fwhy = `freqs_cis [end_pos, dr/2] with end_pos ${end}`;
  const caches = obj(root.caches, `${source}.caches`);
  const cache = (k: string, tail: number[], what: string) => readF32(tensors, caches[k], `${source}.caches.${k}`, [batch, end, ...tail], `${what} with end_pos ${end}`);
  const meta: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(root)) if (k !== "tensors") meta[k] = v;
  return {
    name: typeof root.name === "string" ? root.name : source,
    config,
    batch,
    weights: dsaWeightsFromStateDict(sd),
    freqs: { cos: readF32(tensors, freqs.cos, `${source}.freqs.cos`, fw, fwhy), sin: readF32(tensors, freqs.sin, `${source}.freqs.sin`, fw, fwhy) },
    softmaxScale: finite(derived.softmax_scale, `${source}.derived.softmax_scale`),
    dsa: {
      indexSoftmaxScale: finite(dsa.index_softmax_scale, `${source}.dsa.index_softmax_scale`),
      weightsScale: finite(dsa.weights_scale, `${source}.dsa.weights_scale`),
      hadamardScale: finite(dsa.hadamard_scale, `${source}.dsa.hadamard_scale`),
    },
    calls,
    caches: {
      kv_cache: cache("kv_cache", [C], "kv_cache [B, end_pos, C]"),
      pe_cache: cache("pe_cache", [dr], "pe_cache [B, end_pos, dr]"),
      "indexer.k_cache": cache("indexer_k_cache", [DI], "indexer.k_cache [B, end_pos, DI]"),
      "indexer.k_scale_cache": cache("indexer_k_scale_cache", [DI / ACT_QUANT_BLOCK], "indexer.k_scale_cache [B, end_pos, DI/128]"),
    },
    meta,
  };
}

/** Parse JSON text; syntax errors become FormatError naming the source. */
export function parseDsaVectorCaseText(text: string, source = "case"): DsaVectorCase {
  return parseDsaVectorCase(parseJsonText(text, source), source);
}
