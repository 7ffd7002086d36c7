// The parts of a WASM MLA step that are not kernels: the float32 range check at the boundary,
// all-or-nothing workspace allocation, and the first part of every step (x chunk in, rope table,
// (1) query projection, (4) rope on q_pe).

import type { MlaConfig } from "../config.js";
import { NonFiniteError } from "../errors.js";
import { unravel } from "../layer.js";
import { RMSNORM_EPS } from "../derived.js";
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
  k.fillRopeTable(ws.table, freqs, { start: p0, count: sc }, c.rope_attention_factor);
  if (Q === 0) k.linear(N, ws.x, w.wq!, ws.q);
  else {
    k.linear(N, ws.x, w.wq_a!, ws.qa!);
    k.rmsnorm(N, Q, ws.qa!, w.q_norm!, ws.qa!, { eps: RMSNORM_EPS });
    k.linear(N, ws.qa!, w.wq_b!, ws.q);
  }
  k.rope(c.rope_layout, N, H, ws.q, dr, ws.table, sc, { ldx: H * qk, headStride: qk, xOff: dn });
}

/** Largest finite float32. */
const F32_MAX = 3.4028234663852886e38;

/**
 * Finite float64 values beyond float32's range would turn into Infinity on upload: refuse them
 * (NonFiniteError naming the element) rather than compute garbage. Values that merely round or
 * underflow are fine. Typed float32 input needs no check.
 */
export function checkFloat32Range(field: string, data: ArrayLike<number>, shape: number[]): void {
  if (data instanceof Float32Array) return;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v > F32_MAX || v < -F32_MAX) {
      throw new NonFiniteError(`${field}[${unravel(i, shape).join(", ")}]`, v, `a number within float32's range (|v| <= ${F32_MAX}): the wasm backend computes in float32`, `flat index ${i} of shape [${shape.join(", ")}]`);
    }
  }
}

/** A workspace's buffers, recorded as they are allocated so freeing needs no second list. */
export interface Allocated {
  buffers: F32Buf[];
}

/**
 * Allocate a workspace all-or-nothing (a failed allocation frees what was made and throws, leaving
 * `prev` in place), then free `prev`. `build` allocates through `alloc` and `table` only.
 */
export function replaceWorkspace<W extends object>(
  k: WasmKernels,
  prev: Allocated | null,
  build: (alloc: (floats: number) => F32Buf, table: (rows: number, dr: number) => RopeTableBuf) => W,
): W & Allocated {
  const made: F32Buf[] = [];
  const alloc = (floats: number): F32Buf => {
    const b = k.alloc(Math.max(1, floats));
    made.push(b);
    return b;
  };
  const table = (rows: number, dr: number): RopeTableBuf => {
    const t = k.allocRopeTable(rows, dr);
    made.push(t.cos, t.sin);
    return t;
  };
  let next: W & Allocated;
  try {
    next = Object.assign(build(alloc, table), { buffers: made });
  } catch (e) {
    for (const b of made) b.free();
    throw e;
  }
  if (prev) for (const b of prev.buffers) b.free();
  return next;
}
