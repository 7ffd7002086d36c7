// The arguments of the kernel-level MLA decode API and their checks, shared by the float64 oracle
// (./mla-decode.ts) and the WASM kernel (./wasm.ts). Layouts follow FlashMLA's
// flash_mla_with_kvcache (deepseek-ai/FlashMLA, flash_mla/flash_mla_interface.py):
//
//   mlakit (MlaDecodeArgs)       FlashMLA argument                    notes
//   q [b, s_q, h, C+dr]          q (batch, seq_len_q, num_heads_q, head_dim)  absorbed [q_abs | q_pe]
//   cache.pool                   k_cache (num_blocks, page_block_size, 1, head_dim)  records of cache.format, 64 tokens a block
//   cache.format                 is_fp8_kvcache                       "fp8_e4m3" is FlashMLA's 656-byte record at C 512, dr 64
//   cache.blockTable [b, maxBlocks]  block_table (batch, max_num_blocks_per_seq) int32
//   cache.seqlens [b]            cache_seqlens (batch) int32
//   C                            head_dim_v (512 in DeepSeek V3/V3.2)  the value is the latent c: head_dim = C + dr
//   softmaxScale                 softmax_scale                        required here (FlashMLA defaults to head_dim^-0.5)
//   causal                       causal                               dense only
//   indices [b, s_q, topk]       indices                              LOGICAL token positions here; FlashMLA takes
//                                                                      physical ones: block_table[b][t / 64] * 64 + t % 64
//                                                                      (physicalIndices converts); -1 = empty slot in both
//   (none)                       tile_scheduler_metadata, num_splits  GPU scheduling only
//   (none)                       attn_sink, extra_k_cache, topk_length  not supported
//   returns o [b, s_q, h, C]     out (batch, seq_len_q, num_heads_q, head_dim_v)
//   returns lse [b, h, s_q]      softmax_lse (batch, num_heads_q, seq_len_q) float32, natural log
// A query row with no key to attend to (sparse, every slot -1) gets o = 0 and lse = +Infinity,
// as FlashMLA's reference (tests/ref.py) defines it.

import { BLOCK_TOKENS, type StorageFormat, checkStorageFormat, tokenLayout } from "../cache/layout.js";
import { ShapeError } from "../errors.js";

/** A paged latent cache as a kernel sees it: one pool of 64-token blocks of records, a block table and lengths per sequence. */
export interface PagedKv {
  format: StorageFormat;
  /** numBlocks * 64 records of tokenLayout(format, C, dr).bytesPerToken bytes. */
  pool: Uint8Array;
  /** [b, maxBlocksPerSeq] block ids, row-major. */
  blockTable: Int32Array;
  maxBlocksPerSeq: number;
  /** [b] cached tokens per sequence. */
  seqlens: Int32Array;
}

export interface MlaDecodeArgs {
  /** [b, s_q, h, C+dr] absorbed queries. */
  q: ArrayLike<number>;
  batch: number;
  seqlenQ: number;
  heads: number;
  /** kv_lora_rank: the latent width, head_dim_v. */
  C: number;
  /** qk_rope_head_dim. */
  dr: number;
  cache: PagedKv;
  softmaxScale: number;
  /** Dense only: token t of s_q sees keys < seqlens[b] - s_q + 1 + t. Default false (every cached key). */
  causal?: boolean;
  /** Sparse: [b, s_q, topk] logical token indices (< seqlens[b]) or -1. */
  indices?: Int32Array;
  topk?: number;
}

export interface MlaDecodeResult {
  /** [b, s_q, h, C]. */
  o: Float64Array | Float32Array;
  /** [b, h, s_q]. */
  lse: Float64Array | Float32Array;
}

const posInt = (f: string, v: number) => {
  if (!(Number.isInteger(v) && v >= 1)) throw new ShapeError(f, v, "a positive integer");
};

/** Check every extent (typed errors naming the field); returns the record size in bytes. */
export function checkMlaDecodeArgs(a: MlaDecodeArgs): { bytesPerToken: number; numBlocks: number } {
  posInt("batch", a.batch);
  posInt("seqlenQ", a.seqlenQ);
  posInt("heads", a.heads);
  posInt("C", a.C);
  if (!(Number.isInteger(a.dr) && a.dr >= 0)) throw new ShapeError("dr", a.dr, "a whole number");
  if (!Number.isFinite(a.softmaxScale)) throw new ShapeError("softmaxScale", a.softmaxScale, "a finite number");
  const { batch: b, seqlenQ: sq, heads: h, C, dr } = a;
  if (a.q.length !== b * sq * h * (C + dr)) throw new ShapeError("q.length", a.q.length, `${b * sq * h * (C + dr)} = b ${b} x s_q ${sq} x h ${h} x (C + dr) ${C + dr}`);
  const c = a.cache;
  checkStorageFormat(c.format, "cache.format");
  const bpt = tokenLayout(c.format, C, dr).bytesPerToken, blockBytes = BLOCK_TOKENS * bpt;
  if (c.pool.length % blockBytes !== 0) throw new ShapeError("cache.pool.length", c.pool.length, `a multiple of ${blockBytes} bytes (64 records of ${bpt})`);
  const numBlocks = c.pool.length / blockBytes;
  posInt("cache.maxBlocksPerSeq", c.maxBlocksPerSeq);
  if (c.seqlens.length !== b) throw new ShapeError("cache.seqlens.length", c.seqlens.length, `${b} (one length per sequence)`);
  if (c.blockTable.length !== b * c.maxBlocksPerSeq) throw new ShapeError("cache.blockTable.length", c.blockTable.length, `${b * c.maxBlocksPerSeq} = b x maxBlocksPerSeq`);
  for (let i = 0; i < b; i++) {
    const len = c.seqlens[i];
    if (!(Number.isInteger(len) && len >= 0 && len <= c.maxBlocksPerSeq * BLOCK_TOKENS)) throw new ShapeError(`cache.seqlens[${i}]`, len, `a length in 0..${c.maxBlocksPerSeq * BLOCK_TOKENS} (maxBlocksPerSeq blocks of 64)`);
    if (!a.indices && a.causal && len < sq) throw new ShapeError(`cache.seqlens[${i}]`, len, `>= s_q = ${sq} with causal (the queries are the last s_q cached tokens)`);
    for (let k = 0; k < Math.ceil(len / BLOCK_TOKENS); k++) {
      const id = c.blockTable[i * c.maxBlocksPerSeq + k];
      if (!(Number.isInteger(id) && id >= 0 && id < numBlocks)) throw new ShapeError(`cache.blockTable[${i}][${k}]`, id, `a block id in 0..${numBlocks - 1}`);
    }
  }
  if (a.indices) {
    if (a.causal) throw new ShapeError("causal", a.causal, "false with indices (the selection is the mask, as in FlashMLA)");
    const topk = a.topk ?? -1;
    if (!(Number.isInteger(topk) && topk >= 1)) throw new ShapeError("topk", a.topk, "a positive integer with indices");
    if (a.indices.length !== b * sq * topk) throw new ShapeError("indices.length", a.indices.length, `${b * sq * topk} = b x s_q x topk`);
    for (let i = 0; i < a.indices.length; i++) {
      const t = a.indices[i], seq = Math.floor(i / (sq * topk)), len = c.seqlens[seq];
      if (!(t === -1 || (Number.isInteger(t) && t >= 0 && t < len))) throw new ShapeError(`indices[${seq}][${Math.floor(i / topk) % sq}][${i % topk}]`, t, `a token index in 0..${len - 1} or -1`);
    }
  } else if (a.topk !== undefined) throw new ShapeError("topk", a.topk, "undefined without indices");
  return { bytesPerToken: bpt, numBlocks };
}

/** FlashMLA's `indices` (physical: block id * 64 + offset in the block) from logical ones; -1 stays -1. */
export function physicalIndices(a: MlaDecodeArgs): Int32Array {
  const { batch: b, seqlenQ: sq } = a, topk = a.topk!, c = a.cache;
  const out = new Int32Array(a.indices!.length);
  for (let i = 0; i < out.length; i++) {
    const t = a.indices![i], seq = Math.floor(i / (sq * topk));
    out[i] = t < 0 ? -1 : c.blockTable[seq * c.maxBlocksPerSeq + Math.floor(t / BLOCK_TOKENS)] * BLOCK_TOKENS + (t % BLOCK_TOKENS);
  }
  return out;
}
