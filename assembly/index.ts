// The WASM core: float32 kernels over pointers and sizes (no allocation, no policy). One export
// line per kernel family; the host (src/wasm) names each kernel with its ISA from `isa()`.
export { isa, heap_base } from "./common";
export { packed_size_8, pack_nk_8, pack_kn_8, gemm_4x8 } from "./gemm";
export { gemv_1x8 } from "./gemv";
export { rmsnorm } from "./norm";
export { rope_interleaved, rope_half } from "./rope";
export { linear, mla_compress, mla_compress_w, mla_decompress, mla_decompress_w, mla_absorb_q, mla_absorb_q_heads, mla_absorb_q_heads_w } from "./mla";
export { packed_bytes_w, scale_floats_w, head_stride_w, linear_w } from "./weights";
export { KB as ATTN_KEY_BLOCK, attend_scratch_floats, attend_paged_scratch_floats } from "./attention_core";
export { attn_causal_4x8 } from "./attention_prefill";
export { attn_decode_naive, attn_decode_naive_heads } from "./attention_naive";
export { attn_absorbed_paged, attn_absorbed_paged_latent, mla_project_uv, mla_project_uv_heads, mla_project_uv_heads_w } from "./attention_absorbed";
export { attn_mla_decode, attn_mla_decode_range, attn_mla_combine } from "./attention_mla_decode";
export { dsa_index_scores, dsa_index_scores_paged, dsa_index_scratch_floats, dsa_topk } from "./dsa_indexer";
export { attn_recompute_paged, attn_recompute_scratch_floats } from "./attention_recompute";
export { attn_gqa, attn_gqa_scratch_floats, attn_seed_lowrank, attn_seed_scratch_floats } from "./attention_grouped";
export { codec_token_bytes, codec_rope_offset, codec_encode, codec_encode_split, codec_decode, codec_decode_simd, codec_dequant_tile } from "./codecs";
export { scratch as probe_scratch, peak as probe_peak, read as probe_read, read4 as probe_read4, read8 as probe_read8, fill as probe_fill, relaxed as probe_relaxed } from "./probe";
