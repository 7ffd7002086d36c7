// The parts of a WASM layer call that are not kernels: the float32 range check at the boundary,
// the all-or-nothing call in chunks of tokens, all-or-nothing workspace allocation, the first part
// of every MLA step (x chunk in, rope table, (1) query projection, (4) rope on q_pe) and the
// absorbed queries [q_abs | q_pe] the decode kernel reads.

import type { MlaConfig } from "../config.js";
import { ConfigError, NonFiniteError, memoryError } from "../errors.js";
import type { Arena } from "./arena.js";
import { F32_MAX, type ForwardStage, overflowError, unravel } from "../layer.js";
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

/** Tokens t0 .. t0+sc-1 of each of B rows of xIn [B, s, D] (the layer's float32 copy) -> ws.x [B*sc, D]; q [B*sc, H, dn+dr] roped at positions p0 ...; q_norm's input checked (checkNormInput). */
/** y = x W^T as a layer runs it: WasmKernels.linear on one thread, or a thread pool's panel split (same bits). */
export type LinearFn = (M: number, x: F32Buf, w: PackedWeight, y: F32Buf) => void;

export function queryStep(k: WasmKernels, c: MlaConfig, w: QueryWeights, ws: QueryWorkspace, freqs: Float64Array, xIn: Float32Array, B: number, s: number, t0: number, sc: number, p0: number, lin: LinearFn = (M, x, wt, y) => k.linear(M, x, wt, y)): void {
  const D = c.dim, H = c.n_heads, Q = c.q_lora_rank, dn = c.qk_nope_head_dim, dr = c.qk_rope_head_dim, qk = dn + dr;
  const N = B * sc;
  const f32 = k.arena.f32, xb = ws.x.ptr >>> 2;
  for (let b = 0; b < B; b++) {
    const src = (b * s + t0) * D;
    f32.set(xIn.subarray(src, src + sc * D), xb + b * sc * D);
  }
  k.fillRopeTable(ws.table, freqs, { start: p0, count: sc }, c.rope_attention_factor);
  if (Q === 0) lin(N, ws.x, w.wq!, ws.q);
  else {
    lin(N, ws.x, w.wq_a!, ws.qa!);
    checkNormInput("query", "q_a", ws.qa!.view(), N, Q, Q, sc, t0);
    k.rmsnorm(N, Q, ws.qa!, w.q_norm!, ws.qa!, { eps: RMSNORM_EPS });
    lin(N, ws.qa!, w.wq_b!, ws.q);
  }
  k.rope(c.rope_layout, N, H, ws.q, dr, ws.table, sc, { ldx: H * qk, headStride: qk, xOff: dn });
}

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

// ---- overflow on finite inputs: a call whose float32 result is not finite throws ----

/**
 * RMSNorm's input, `rows` rows (sc per batch row) of n values at stride ld: the kernel sums the n squares in
 * float32, and a sum past float32's range turns the row into zeros (1/sqrt(Inf)) or NaN, a wrong
 * result that may still look finite. The float64 sum S of the same squares decides: float32
 * accumulation is off by at most n*u*S (u = 2^-24, Higham 3.1), so S * (1 + n 2^-23) < F32_MAX
 * cannot overflow; a row at or above that is refused (at most n 2^-23 of the range early).
 */
export function checkNormInput(stage: ForwardStage, name: string, view: Float32Array, rows: number, n: number, ld: number, sc: number, t0: number): void {
  const limit = F32_MAX / (1 + n * 2 ** -23);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0, o = r * ld; i < n; i++, o++) ss += view[o] * view[o];
    if (!(ss < limit)) throw overflowError(stage, `${name} sum of squares`, [Math.floor(r / sc), t0 + (r % sc)], ss, "float32", `RMSNorm squares its ${n} inputs in float32; the sum must stay below ${limit.toPrecision(6)}`);
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

// ---- one call, all or nothing, in chunks of tokens ----

/** Workspace budget in floats (64 MiB) that decides the chunk length of long calls. */
export const WORKSPACE_FLOATS = 16 * 1024 * 1024;

/** options.maxChunkTokens of a layer: absent or a positive integer. */
export function checkMaxChunkTokens(v: number | undefined): number | undefined {
  if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new ConfigError("options.maxChunkTokens", v, "a positive integer");
  return v;
}

/** Tokens per chunk of a call of s tokens over B rows: the workspace (floatsPerToken per token and row) within WORKSPACE_FLOATS, or the caller's cap. */
export function chunkTokens(s: number, B: number, floatsPerToken: number, cap: number | undefined): number {
  return Math.min(s, cap ?? Math.max(1, Math.floor(WORKSPACE_FLOATS / (B * floatsPerToken))));
}

/**
 * A layer call all or nothing: the output [B, s, D] is allocated first; then, inside one arena
 * call, `prepare` reserves everything that can fail before values exist (workspace, cache room)
 * and returns how to undo the cache (or null), memory grows once, `step(t0, sc, out)` runs each
 * chunk of sc tokens, `finish` commits what the cache needs committed. A failure anywhere undoes
 * the cache first (into the storage the call used), then rolls the memory back (the old pool
 * range, rows, workspace), so a call that throws changes nothing observable.
 */
export function runAllOrNothing(arena: Arena, B: number, s: number, D: number, chunk: number, prepare: () => (() => void) | null, step: (t0: number, sc: number, out: Float32Array) => void, finish?: () => void): Float32Array {
  let out: Float32Array;
  try {
    out = new Float32Array(B * s * D);
  } catch (e) {
    throw memoryError(e, "output", `${B * s * D} numbers`);
  }
  let undo: (() => void) | null = null;
  arena.begin();
  try {
    undo = prepare();
    arena.grow();
    for (let t0 = 0; t0 < s; t0 += chunk) step(t0, Math.min(chunk, s - t0), out);
    finish?.();
    arena.commit();
    return out;
  } catch (e) {
    undo?.();
    arena.rollback();
    throw e;
  }
}

/**
 * The absorbed decode kernel's queries: for `rows` (token, head) rows, qlat [rows, C+dr] =
 * [q_abs | q_pe] from qabs [rows, C] (from row qabsRow) and the roped last dr values of each
 * head of q [rows, dn+dr] (from row qRow). Copies inside linear memory.
 */
export function latentQueries(k: WasmKernels, rows: number, C: number, dn: number, dr: number, qabs: F32Buf, qabsRow: number, q: F32Buf, qRow: number, qlat: F32Buf): void {
  const f32 = k.arena.f32, W = C + dr, qk = dn + dr;
  const qa = (qabs.ptr >>> 2) + qabsRow * C, qp = (q.ptr >>> 2) + qRow * qk, ql = qlat.ptr >>> 2;
  for (let r = 0; r < rows; r++) {
    f32.copyWithin(ql + r * W, qa + r * C, qa + (r + 1) * C);
    f32.copyWithin(ql + r * W + C, qp + r * qk + dn, qp + (r + 1) * qk);
  }
}
