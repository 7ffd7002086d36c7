// The first part of every WASM MLA step, shared by the contiguous (mla-layer.ts) and the paged
// (paged-mla-layer.ts) layers: copy a chunk of x into the workspace, fill the rope table for its
// positions, (1) project the query and (4) rotate each head's q_pe.

import type { MlaConfig } from "../config.js";
import { RMSNORM_EPS } from "../reference/rmsnorm.js";
import type { F32Buf, PackedWeight, RopeTableBuf, WasmKernels } from "./kernels.js";

export interface QueryWeights {
  wq: PackedWeight | null;
  wq_a: PackedWeight | null;
  q_norm: F32Buf | null;
  wq_b: PackedWeight | null;
}

export interface QueryWorkspace {
  x: F32Buf;
  qa: F32Buf | null;
  q: F32Buf;
  table: RopeTableBuf;
}

/** Tokens t0 .. t0+sc-1 of each of B rows of xIn [B, s, D] -> ws.x [B*sc, D]; q [B*sc, H, dn+dr] roped at positions p0 ... */
export function queryStep(k: WasmKernels, c: MlaConfig, w: QueryWeights, ws: QueryWorkspace, freqs: Float64Array, xIn: ArrayLike<number>, B: number, s: number, t0: number, sc: number, p0: number): void {
  const D = c.dim, H = c.n_heads, Q = c.q_lora_rank, dn = c.qk_nope_head_dim, dr = c.qk_rope_head_dim, qk = dn + dr;
  const N = B * sc;
  const f32 = k.arena.f32, xb = ws.x.ptr >>> 2;
  for (let b = 0; b < B; b++) {
    const src = (b * s + t0) * D;
    if (ArrayBuffer.isView(xIn)) f32.set((xIn as unknown as Float32Array).subarray(src, src + sc * D), xb + b * sc * D);
    else for (let i = 0; i < sc * D; i++) f32[xb + b * sc * D + i] = xIn[src + i];
  }
  k.fillRopeTable(ws.table, freqs, { start: p0, count: sc });
  if (Q === 0) k.linear(N, ws.x, w.wq!, ws.q);
  else {
    k.linear(N, ws.x, w.wq_a!, ws.qa!);
    k.rmsnorm(N, Q, ws.qa!, w.q_norm!, ws.qa!, { eps: RMSNORM_EPS });
    k.linear(N, ws.qa!, w.wq_b!, ws.q);
  }
  k.rope(c.rope_layout, N, H, ws.q, dr, ws.table, sc, { ldx: H * qk, headStride: qk, xOff: dn });
}
