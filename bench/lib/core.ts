// The WASM core's kernels (assembly/*.ts outside probe/variants, built by the project's
// `npm run build` to build/mla-{simd128,relaxed}.wasm) behind the bench's KernelCase wrapper.
// The bench calls the low-level exports directly, with its own arena above the module's initial
// memory (the core allocates nothing itself; src/wasm owns memory in the real backend).
import { existsSync } from "node:fs";
import { Arena } from "./arena.js";
import { instantiateFile, rootPath, type Isa } from "./env.js";
import type { KernelCase } from "./kernels.js";

type Fn = (...a: number[]) => number;
export interface CoreModule {
  isa: Isa;
  ex: Record<string, Fn> & { memory: WebAssembly.Memory };
  arena: Arena;
}

export function coreBuilt(): boolean {
  return existsSync(rootPath("build", "mla-simd128.wasm"));
}

export async function loadCore(isa: Isa): Promise<CoreModule> {
  const inst = await instantiateFile(`build/mla-${isa}.wasm`);
  const ex = inst.exports as CoreModule["ex"];
  if (ex.isa() !== (isa === "relaxed" ? 1 : 0)) throw new Error(`build/mla-${isa}.wasm reports isa ${ex.isa()}`);
  return { isa, ex, arena: new Arena(ex.memory) };
}

/** W [N, K] -> 8-column panels in the arena (core's pack_nk_8); returns the packed pointer. */
function packW(c: CoreModule, w: Float32Array, N: number, K: number): number {
  const wp = c.arena.alloc(c.ex.packed_size_8(N, K) * 4);
  const tmp = c.arena.upload(w);
  c.ex.pack_nk_8(tmp, K, N, K, wp);
  return wp;
}

/** Empties the arena and packs W [N, K] once; linear cases for any M reuse the result. */
export function corePack(c: CoreModule, w: Float32Array, N: number, K: number): number {
  c.arena.reset();
  return packW(c, w, N, K);
}

/** y [M, N] = x [M, K] W^T with W packed by corePack: gemm_4x8 (M > 1) or gemv_1x8 (M = 1). */
export function coreLinearOn(c: CoreModule, wp: number, x: Float32Array, M: number, N: number, K: number): KernelCase {
  const xp = c.arena.upload(x);
  const y = c.arena.alloc(M * N * 4);
  c.arena.f32(y, M * N).fill(NaN); // sentinel: unwritten outputs show as NaN
  const gemm = c.ex.gemm_4x8, gemv = c.ex.gemv_1x8;
  const run = M === 1 ? () => void gemv(N, K, xp, wp, y) : () => void gemm(M, N, K, xp, K, wp, y, N);
  return { run, output: () => c.arena.f32(y, M * N).slice() };
}

/** y [M, N] = x [M, K] W^T: gemm_4x8. */
export function coreGemmCase(c: CoreModule, x: Float32Array, w: Float32Array, M: number, N: number, K: number): KernelCase {
  return coreLinearOn(c, corePack(c, w, N, K), x, M, N, K);
}

/** y [N] = W x: gemv_1x8 over the packed panels. */
export function coreGemvCase(c: CoreModule, x: Float32Array, w: Float32Array, N: number, K: number): KernelCase {
  return coreLinearOn(c, corePack(c, w, N, K), x, 1, N, K);
}

export interface AbsorbedCoreCase extends KernelCase {
  /** o_lat [H, C] (the attention output in the latent space, before W_UV). */
  latent(): Float32Array;
}

/**
 * Absorbed decode over S cached latents (startPos = S - 1, the new token's latent is the last
 * row), then o[h] = o_lat[h] W_UV[h]^T: attn_absorbed_paged with s = 1 over an f32 pool whose
 * blocks are in order (table 0, 1, 2, ...), the records [c | k_pe] float32 rows read in place.
 * q [H, C+dr] = [q_abs | q_pe]; wuv [H, dv, C].
 */
export function coreAbsorbedCase(c: CoreModule, q: Float32Array, kv: Float32Array, pe: Float32Array, wuv: Float32Array, H: number, S: number, C: number, dr: number, dn: number, dv: number, scale: number): AbsorbedCoreCase {
  const a = c.arena;
  a.reset();
  const qk = dn + dr;
  const qabs = new Float32Array(H * C), qfull = new Float32Array(H * qk);
  for (let h = 0; h < H; h++) {
    qabs.set(q.subarray(h * (C + dr), h * (C + dr) + C), h * C);
    qfull.set(q.subarray(h * (C + dr) + C, (h + 1) * (C + dr)), h * qk + dn);
  }
  const stride = c.ex.packed_size_8(dv, C) * 4;
  const wuvp = a.alloc(stride * H);
  const tmp = a.upload(wuv);
  for (let h = 0; h < H; h++) c.ex.pack_nk_8(tmp + h * dv * C * 4, C, dv, C, wuvp + h * stride);
  const KB = 64, blocks = Math.ceil(S / KB);
  const records = new Float32Array(blocks * KB * (C + dr));
  for (let t = 0; t < S; t++) {
    records.set(kv.subarray(t * C, (t + 1) * C), t * (C + dr));
    records.set(pe.subarray(t * dr, (t + 1) * dr), t * (C + dr) + C);
  }
  const pool = a.upload(records), poolBytes = records.length * 4;
  const table = a.upload(new Float32Array(Int32Array.from({ length: blocks }, (_, i) => i).buffer));
  const qabsp = a.upload(qabs), qp = a.upload(qfull);
  const olat = a.alloc(H * C * 4), o = a.alloc(H * dv * 4);
  const scratch = a.alloc(c.ex.attend_paged_scratch_floats(H, C, dr) * 4);
  a.f32(o, H * dv).fill(NaN);
  a.f32(olat, H * C).fill(NaN);
  const f = c.ex.attn_absorbed_paged, FMT_F32 = 0;
  return {
    run: () => void f(FMT_F32, 1, H, C, dr, dn, dv, S - 1, qabsp, qp, pool, poolBytes, table, scale, wuvp, olat, o, scratch),
    output: () => a.f32(o, H * dv).slice(),
    latent: () => a.f32(olat, H * C).slice(),
  };
}

/** Naive decode: q [H, qk] over k [S, H, qk], v [S, H, dv] (startPos = S - 1): attn_decode_naive. */
export function coreNaiveCase(c: CoreModule, q: Float32Array, k: Float32Array, v: Float32Array, H: number, S: number, qk: number, dv: number, scale: number): KernelCase {
  const a = c.arena;
  a.reset();
  const kp = a.upload(k), vp = a.upload(v), qp = a.upload(q);
  const o = a.alloc(H * dv * 4);
  const scratch = a.alloc(c.ex.attend_scratch_floats(H) * 4); // naive decode: scores [H, KB] + m, l, alpha [H]
  a.f32(o, H * dv).fill(NaN);
  const f = c.ex.attn_decode_naive;
  return { run: () => void f(H, qk, dv, S - 1, qp, kp, vp, scale, o, scratch), output: () => a.f32(o, H * dv).slice() };
}
