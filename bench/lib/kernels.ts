// Wrappers that put one kernel (a numbered variant from build/variants/, or later the core's) and
// its data into wasm memory and expose run() (timed) and output() (checked). Data upload and
// weight packing happen here, once, outside the timed region.
import { Arena } from "./arena.js";
import { instantiateFile, type Isa } from "./env.js";

export interface KernelCase {
  /** One timed call. */
  run(): void;
  /** The output after run(), copied out of wasm memory. */
  output(): Float32Array;
}

export interface VariantModule {
  name: string;
  isa: Isa;
  exports: Record<string, unknown> & { memory: WebAssembly.Memory; relaxed(): number };
  arena: Arena;
}

export async function loadVariant(name: string, isa: Isa): Promise<VariantModule> {
  const inst = await instantiateFile(`build/variants/${name}-${isa}.wasm`);
  const exports = inst.exports as VariantModule["exports"];
  if (exports.relaxed() !== (isa === "relaxed" ? 1 : 0)) throw new Error(`build/variants/${name}-${isa}.wasm was built for the wrong ISA`);
  return { name, isa, exports, arena: new Arena(exports.memory) };
}

type Fn = (...a: number[]) => number | void;
const fn = (m: VariantModule, f: string): Fn => {
  const g = m.exports[f];
  if (typeof g !== "function") throw new Error(`${m.name} does not export ${f}()`);
  return g as Fn;
};

/** y [M, N] = x [M, K] W^T with the variant's pack() + gemm(). */
export function gemmCase(m: VariantModule, x: Float32Array, w: Float32Array, M: number, N: number, K: number): KernelCase {
  const a = m.arena;
  a.reset();
  const wTmp = a.upload(w);
  const wp = a.alloc(Number(fn(m, "packedBytes")(N, K)));
  fn(m, "pack")(wTmp, wp, N, K);
  const xp = a.upload(x);
  const y = a.alloc(M * N * 4);
  a.f32(y, M * N).fill(NaN); // sentinel: an unwritten output shows as NaN
  const gemm = fn(m, "gemm");
  return { run: () => void gemm(xp, wp, y, M, N, K), output: () => a.f32(y, M * N).slice() };
}

/** y [N] = W [N, K] x with the variant's pack() + gemv(). */
export function gemvCase(m: VariantModule, x: Float32Array, w: Float32Array, N: number, K: number): KernelCase {
  const a = m.arena;
  a.reset();
  const wp = a.alloc(Number(fn(m, "packedBytes")(N, K)));
  // Upload straight into the packed slot when packing is a copy would save memory, but packing is
  // the variant's business: stage W above it.
  const wTmp = a.upload(w);
  fn(m, "pack")(wTmp, wp, N, K);
  const xp = a.upload(x);
  const y = a.alloc(N * 4);
  a.f32(y, N).fill(NaN);
  const gemv = fn(m, "gemv");
  return { run: () => void gemv(xp, wp, y, N, K), output: () => a.f32(y, N).slice() };
}

/** o [H, C] = absorbed decode attention of q [H, C+dr] over kv [S, C], pe [S, dr]. */
export function absorbedCase(m: VariantModule, q: Float32Array, kv: Float32Array, pe: Float32Array, H: number, S: number, C: number, dr: number, scale: number): KernelCase {
  const a = m.arena;
  a.reset();
  const kvp = a.upload(kv), pep = a.upload(pe), qp = a.upload(q);
  const o = a.alloc(H * C * 4);
  a.f32(o, H * C).fill(NaN);
  const work = a.alloc(Number(fn(m, "workBytes")(H, S, C, dr)));
  const attn = fn(m, "absorbed");
  return { run: () => void attn(qp, kvp, pep, o, H, S, C, dr, scale, work), output: () => a.f32(o, H * C).slice() };
}

/** o [H, dv] = naive decode attention of q [H, dqk] over k [S, H, dqk], v [S, H, dv]. */
export function naiveCase(m: VariantModule, q: Float32Array, k: Float32Array, v: Float32Array, H: number, S: number, dqk: number, dv: number, scale: number): KernelCase {
  const a = m.arena;
  a.reset();
  const kp = a.upload(k), vp = a.upload(v), qp = a.upload(q);
  const o = a.alloc(H * dv * 4);
  a.f32(o, H * dv).fill(NaN);
  const work = a.alloc(Number(fn(m, "workBytes")(H, S, dqk, dv)));
  const attn = fn(m, "naive");
  return { run: () => void attn(qp, kp, vp, o, H, S, dqk, dv, scale, work), output: () => a.f32(o, H * dv).slice() };
}
