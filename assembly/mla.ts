// The MLA steps between the projections and the attention: compression (wkv_a -> split ->
// kv_norm -> rope -> append to the latent cache), decompression (wkv_b into per-head K/V) and
// q-absorption (q_nope x W_UK per head). Rows r = b*s + t; destinations per batch row b come from
// a table of u32 byte pointers (rows of one cache need not be adjacent).

import { WF_F32, head_stride_w, linear_heads_w, linear_w } from "./weights";
import { rmsnorm } from "./norm";
import { rope } from "./rope";

/** y = x W^T: GEMV when there is one row, the 4x8 GEMM otherwise. */
export function linear(M: i32, N: i32, K: i32, x: usize, ldx: i32, wp: usize, y: usize, ldy: i32): void {
  linear_w(WF_F32, M, N, K, 0, x, ldx, wp, 0, y, ldy);
}

/**
 * x [N, D] (row stride ldx) -> wkv_a -> kv [N, C+dr] in `scratch`; for row r = b*s + t:
 * kvRows[b] + t*C <- kv_norm(kv[r, :C]) and peRows[b] + t*dr <- rope(kv[r, C:]) (table row t).
 * kvRows/peRows: u32 pointer tables [B], each already pointing at the first new position.
 */
export function mla_compress(N: i32, s: i32, D: i32, C: i32, dr: i32, x: usize, ldx: i32, wkva: usize, kvNorm: usize, eps: f32,
  layout: i32, cos: usize, sin: usize, scratch: usize, kvRows: usize, peRows: usize): void {
  mla_compress_w(WF_F32, 0, 0, N, s, D, C, dr, x, ldx, wkva, kvNorm, eps, layout, cos, sin, scratch, kvRows, peRows);
}

/** mla_compress with wkv_a in weight format fmt (scales sp, k-group KG). */
export function mla_compress_w(fmt: i32, KG: i32, sp: usize, N: i32, s: i32, D: i32, C: i32, dr: i32, x: usize, ldx: i32, wkva: usize, kvNorm: usize, eps: f32,
  layout: i32, cos: usize, sin: usize, scratch: usize, kvRows: usize, peRows: usize): void {
  const w = C + dr;
  linear_w(fmt, N, w, D, KG, x, ldx, wkva, sp, scratch, w);
  for (let r = 0; r < N; r++) {
    const b = r / s, t = r % s;
    const src = scratch + ((<usize>r * w) << 2);
    const kvDst = <usize>load<u32>(kvRows + (<usize>b << 2)) + ((<usize>t * C) << 2);
    const peDst = <usize>load<u32>(peRows + (<usize>b << 2)) + ((<usize>t * dr) << 2);
    rmsnorm(1, C, src, C, kvNorm, kvDst, C, eps);
    memory.copy(peDst, src + (<usize>C << 2), <usize>dr << 2);
    rope(layout, 1, 1, peDst, dr, dr, dr, cos + ((<usize>t * (dr >> 1)) << 2), sin + ((<usize>t * (dr >> 1)) << 2), 1);
  }
}

/**
 * c [N, C] (row stride ldc) -> wkv_b -> [N, H, dn+dv] in `scratch`; for row r = b*s + t and head h:
 * kRows[b] + (t*H + h)*(dn+dr) <- [k_nope | kpe[r]] (k_pe shared by all heads) and
 * vRows[b] + (t*H + h)*dv <- v. kpe [N, dr] already roped.
 */
export function mla_decompress(N: i32, s: i32, H: i32, C: i32, dn: i32, dr: i32, dv: i32, c: usize, ldc: i32, wkvb: usize,
  kpe: usize, scratch: usize, kRows: usize, vRows: usize): void {
  mla_decompress_w(WF_F32, 0, 0, N, s, H, C, dn, dr, dv, c, ldc, wkvb, kpe, scratch, kRows, vRows);
}

/** mla_decompress with wkv_b in weight format fmt (scales sp, k-group KG). */
export function mla_decompress_w(fmt: i32, KG: i32, sp: usize, N: i32, s: i32, H: i32, C: i32, dn: i32, dr: i32, dv: i32, c: usize, ldc: i32, wkvb: usize,
  kpe: usize, scratch: usize, kRows: usize, vRows: usize): void {
  const w = dn + dv, qk = dn + dr;
  linear_w(fmt, N, H * w, C, KG, c, ldc, wkvb, sp, scratch, H * w);
  for (let r = 0; r < N; r++) {
    const b = r / s, t = r % s;
    const kRow = <usize>load<u32>(kRows + (<usize>b << 2)) + ((<usize>t * H * qk) << 2);
    const vRow = <usize>load<u32>(vRows + (<usize>b << 2)) + ((<usize>t * H * dv) << 2);
    const pe = kpe + ((<usize>r * dr) << 2);
    for (let h = 0; h < H; h++) {
      const src = scratch + ((<usize>(r * H + h) * w) << 2);
      const kDst = kRow + ((<usize>h * qk) << 2);
      memory.copy(kDst, src, <usize>dn << 2);
      memory.copy(kDst + (<usize>dn << 2), pe, <usize>dr << 2);
      memory.copy(vRow + ((<usize>h * dv) << 2), src + (<usize>dn << 2), <usize>dv << 2);
    }
  }
}

/**
 * q_abs[r, h] = q_nope[r, h] W_UK[h]: q [N, H, qk] (q_nope = first dn of each head) -> qabs [N, H, C].
 * wuk: per head h, W_UK[h] = wkv_b[h*(dn+dv) .. +dn, :] ([dn, C], y = x B) packed by pack_kn_8,
 * heads packed_size_8(C, dn) floats apart.
 */
export function mla_absorb_q(N: i32, H: i32, C: i32, dn: i32, qk: i32, q: usize, wuk: usize, qabs: usize): void {
  mla_absorb_q_heads(N, H, 0, H, C, dn, qk, q, wuk, qabs);
}

/** mla_absorb_q for heads h0 .. h1-1 only (a thread's share; each head is its own GEMM: the same bits). */
export function mla_absorb_q_heads(N: i32, H: i32, h0: i32, h1: i32, C: i32, dn: i32, qk: i32, q: usize, wuk: usize, qabs: usize): void {
  mla_absorb_q_heads_w(WF_F32, 0, N, H, h0, h1, C, dn, qk, q, wuk, 0, 0, qabs);
}

/** mla_absorb_q_heads over W_UK in weight format fmt (scales suk, sStride bytes per head, k-group KG). */
export function mla_absorb_q_heads_w(fmt: i32, KG: i32, N: i32, H: i32, h0: i32, h1: i32, C: i32, dn: i32, qk: i32, q: usize, wuk: usize, suk: usize, sStride: i32, qabs: usize): void {
  linear_heads_w(fmt, KG, N, h0, h1, C, dn, q, H * qk, qk, wuk, <usize>head_stride_w(fmt, C, dn), suk, <usize>sStride, qabs, H * C, C, true);
}
