// W [N, K] in the core's 8-row panels (assembly/gemm.ts pack_nk_8: panel p, step k holds
// W[8p..8p+7, k] contiguously, zero-padded past N), behind the variants' pack ABI, so a variant
// over packed weights reads exactly the layout the core's gemm_4x8 / gemv_1x8 read.
import { packed_size_8, pack_nk_8 } from "../gemm";

export function packedBytes(N: i32, K: i32): usize {
  return <usize>packed_size_8(N, K) << 2;
}

export function pack(w: usize, wp: usize, N: i32, K: i32): void {
  pack_nk_8(w, K, N, K, wp);
}
