// Test vectors of the kernel-level MLA decode API for other backends (a CUDA or Triton kernel
// with FlashMLA's flash_mla_with_kvcache signature): the inputs in FlashMLA's layouts and the
// float64 oracle's (o, lse), as one JSON document. The cache is given twice: the raw records
// (base64, the storage format's bytes, for a kernel that reads that format) and dequantised
// float32 rows [num_blocks, 64, 1, C+dr] (what a bf16/fp32 kernel's k_cache holds after its own
// cast). Non-finite lse (+Infinity: a query with no key) is written as the string "inf".

import { BLOCK_TOKENS, tokenLayout } from "../cache/layout.js";
import { decodeTokens } from "../cache/codecs.js";
import { ShapeError } from "../errors.js";
import { type MlaDecodeArgs, checkMlaDecodeArgs, physicalIndices } from "./args.js";
import { mlaDecodeReference } from "./mla-decode.js";

export const MLA_DECODE_VECTORS_FORMAT = "mlakit-mla-decode/1";

type Num = number | "inf" | "-inf" | "nan";
const num = (x: number): Num => (Number.isFinite(x) ? x : Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf");
const unnum = (x: Num): number => (x === "inf" ? Infinity : x === "-inf" ? -Infinity : x === "nan" ? NaN : x);

export interface MlaDecodeVectors {
  format: typeof MLA_DECODE_VECTORS_FORMAT;
  name: string;
  /** FlashMLA's arguments, by name. */
  inputs: {
    q: { shape: number[]; data: number[] };
    k_cache: { shape: number[]; storage_format: string; bytes_per_token: number; records_base64: string; dequantised: Num[] };
    block_table: { shape: number[]; data: number[] };
    cache_seqlens: number[];
    head_dim_v: number;
    softmax_scale: number;
    causal: boolean;
    is_fp8_kvcache: boolean;
    /** FlashMLA's physical indices (block id * 64 + offset), null for dense. */
    indices: { shape: number[]; data: number[] } | null;
    /** The same selection as logical token positions (mlakit's MlaDecodeArgs.indices). */
    indices_logical: { shape: number[]; data: number[] } | null;
  };
  /** The float64 oracle: out [b, s_q, h, head_dim_v], softmax_lse [b, h, s_q]. */
  expected: { out: { shape: number[]; data: Num[] }; softmax_lse: { shape: number[]; data: Num[] } };
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
function unbase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The vectors of one call (checked as the API checks it). */
export function mlaDecodeVectors(name: string, a: MlaDecodeArgs): MlaDecodeVectors {
  const { numBlocks } = checkMlaDecodeArgs(a);
  const { batch: b, seqlenQ: sq, heads: h, C, dr } = a, W = C + dr;
  const layout = tokenLayout(a.cache.format, C, dr);
  const deq = new Float32Array(numBlocks * BLOCK_TOKENS * W);
  decodeTokens(layout, a.cache.pool, 0, numBlocks * BLOCK_TOKENS, deq, 0);
  const { o, lse } = mlaDecodeReference(a);
  const sel = a.indices ? { shape: [b, sq, a.topk!], data: Array.from(physicalIndices(a)) } : null;
  return {
    format: MLA_DECODE_VECTORS_FORMAT,
    name,
    inputs: {
      q: { shape: [b, sq, h, W], data: Array.from(a.q, Math.fround) },
      k_cache: { shape: [numBlocks, BLOCK_TOKENS, 1, W], storage_format: a.cache.format, bytes_per_token: layout.bytesPerToken, records_base64: base64(a.cache.pool), dequantised: Array.from(deq, num) },
      block_table: { shape: [b, a.cache.maxBlocksPerSeq], data: Array.from(a.cache.blockTable) },
      cache_seqlens: Array.from(a.cache.seqlens),
      head_dim_v: C,
      softmax_scale: a.softmaxScale,
      causal: a.causal ?? false,
      is_fp8_kvcache: a.cache.format === "fp8_e4m3",
      indices: sel,
      indices_logical: a.indices ? { shape: [b, sq, a.topk!], data: Array.from(a.indices) } : null,
    },
    expected: { out: { shape: [b, sq, h, C], data: Array.from(o, num) }, softmax_lse: { shape: [b, h, sq], data: Array.from(lse, num) } },
  };
}

/** The API arguments and expected (o, lse) back from vectors (e.g. after JSON.parse). */
export function readMlaDecodeVectors(v: MlaDecodeVectors): { args: MlaDecodeArgs; o: Float64Array; lse: Float64Array } {
  if (v.format !== MLA_DECODE_VECTORS_FORMAT) throw new ShapeError("format", v.format, `"${MLA_DECODE_VECTORS_FORMAT}"`);
  const [b, sq, h, W] = v.inputs.q.shape, C = v.inputs.head_dim_v;
  const sel = v.inputs.indices_logical;
  const args: MlaDecodeArgs = {
    q: Float32Array.from(v.inputs.q.data), batch: b, seqlenQ: sq, heads: h, C, dr: W - C,
    cache: {
      format: v.inputs.k_cache.storage_format as MlaDecodeArgs["cache"]["format"],
      pool: unbase64(v.inputs.k_cache.records_base64),
      blockTable: Int32Array.from(v.inputs.block_table.data), maxBlocksPerSeq: v.inputs.block_table.shape[1],
      seqlens: Int32Array.from(v.inputs.cache_seqlens),
    },
    softmaxScale: v.inputs.softmax_scale, causal: v.inputs.causal,
    ...(sel ? { indices: Int32Array.from(sel.data), topk: sel.shape[2] } : {}),
  };
  return { args, o: Float64Array.from(v.expected.out.data, unnum), lse: Float64Array.from(v.expected.softmax_lse.data, unnum) };
}
