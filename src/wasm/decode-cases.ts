// Ready-to-time decode work of every path on the WASM core, for `mlakit demo` and the benchmarks:
//   attentionCase  one attention kernel over S cached keys (random cache contents, batch 1), the
//                  part of a decode step the seed text's claims are about;
//   stepCase       a whole layer's decode step, forward(x, startPos S), its cache filled with S
//                  random tokens directly (a prefill of thousands of tokens would cost more than
//                  the timing). forward rolls back to S first, so every call does the same work.
// Paths: MLA naive / absorbed / recompute, MHA / GQA / MQA of the same heads and the seed text's
// per-head scheme (src/analysis/work.ts baselineConfig / seedConfig: the cost model's baselines).
// Values are uniform with unit variance per output (weights scaled by 1/sqrt(fan-in)): a fast
// generator, because a V3-sized cache or layer holds hundreds of millions of floats.

import type { MlaConfig } from "../config.js";
import { type MhaConfig, type MhaWeights, type SeedLowRankConfig, type SeedLowRankWeights, mhaWeightShapes, seedWeightShapes } from "../baseline-configs.js";
import { deriveMla } from "../derived.js";
import { ConfigError } from "../errors.js";
import { BLOCK_TOKENS } from "../cache/layout.js";
import { type MlaWeights, mlaWeightShapes } from "../weights.js";
import { baselineConfig, seedConfig } from "../analysis/work.js";
import { DEFAULT_SEED_RANK, defaultGroups } from "../analysis/kv-cache.js";
import type { AnyPath } from "../analysis/work.js";
import type { F32Buf, WasmKernels } from "./kernels.js";
import type { WasmBackend } from "./backend.js";
import type { WasmMla } from "./mla-layer.js";
import type { WasmRowStore } from "./row-store.js";
import type { WasmPagedCache } from "./paged-cache.js";
import type { AttentionLayer } from "../layer.js";

export const DECODE_PATHS: readonly AnyPath[] = ["naive", "absorbed", "recompute", "mha", "gqa", "mqa", "seedPerHead"];

/** Uniform values in [-scale, scale) (xorshift32): fast enough for V3-sized tensors. */
export function fillUniform(a: Float32Array, seed: number, scale = 1): Float32Array {
  let s = (seed | 0) || 0x9e3779b9;
  const k = (2 * scale) / 4294967296;
  for (let i = 0; i < a.length; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    a[i] = (s >>> 0) * k - scale;
  }
  return a;
}

/** Weights of the given shapes: uniform with variance 1/fan-in (norm weights near 1), as randomWeights scales them. */
export function uniformWeights(shapes: Record<string, number[]>, seed: number, normNames: readonly string[] = []): Record<string, Float32Array> {
  const w: Record<string, Float32Array> = {};
  for (const [name, shape] of Object.entries(shapes)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    if (normNames.includes(name)) for (let i = 0; i < n; i++) a[i] = 0.6 + (0.8 * ((i * 2654435761) % 1000)) / 1000;
    else fillUniform(a, seed++, Math.sqrt(3 / shape[shape.length - 1]));
    w[name] = a;
  }
  return w;
}

/** The baseline a path runs (MHA / GQA / MQA / the seed's scheme), or null for MLA's own paths. */
export function baselineOf(cfg: MlaConfig, path: AnyPath, o: { groups?: number; seedRank?: number } = {}): MhaConfig | SeedLowRankConfig | null {
  switch (path) {
    case "mha": return baselineConfig(cfg, cfg.n_heads);
    case "gqa": return baselineConfig(cfg, o.groups ?? defaultGroups(cfg.n_heads));
    case "mqa": return baselineConfig(cfg, 1);
    case "seedPerHead": return seedConfig(cfg, o.seedRank ?? DEFAULT_SEED_RANK);
    default: return null;
  }
}

export interface DecodeCase {
  path: AnyPath;
  context: number;
  /** One timed unit of work. */
  run(): void;
  /** The output of the last run (a copy). */
  output(): Float32Array;
  /** Free the case's layer or buffers. */
  dispose(): void;
}

/**
 * Attention of one new token over S cached keys on `k` (its own arena): naive attn_decode_naive,
 * absorbed attn_absorbed_paged (+ W_UV), recompute attn_recompute_paged, MHA/GQA/MQA attn_gqa, the
 * seed's scheme attn_seed_lowrank. Key S-1 is the new token (startPos S-1), so S keys are attended.
 */
export function attentionCase(k: WasmKernels, cfg: MlaConfig, path: AnyPath, S: number, seed = 1, o: { groups?: number; seedRank?: number } = {}): DecodeCase {
  if (!Number.isInteger(S) || S < 1) throw new ConfigError("context", S, "a positive integer number of cached keys");
  const bufs: F32Buf[] = [];
  const alloc = (n: number, fill?: number) => {
    const b = k.alloc(Math.max(1, n));
    bufs.push(b);
    if (fill !== undefined) fillUniform(b.view(), fill);
    else b.fill(NaN); // outputs and scratch: a kernel that leaves an output unwritten shows NaN
    return b;
  };
  const { H, C, dn, dr, dv, qk } = deriveMla(cfg).sizes;
  let run: () => void, out: F32Buf;
  const base = baselineOf(cfg, path, o);
  if (path === "naive") {
    const kr = alloc(S * H * qk, seed + 1), vr = alloc(S * H * dv, seed + 2), q = alloc(H * qk, seed + 3);
    out = alloc(H * dv);
    const scratch = alloc(k.attnScratchFloats(H)), scale = deriveMla(cfg).softmaxScale;
    run = () => k.attnDecodeNaive(H, qk, dv, S - 1, q, kr.ptr, vr.ptr, scale, out, scratch);
  } else if (path === "absorbed" || path === "recompute") {
    const blocks = Math.ceil(S / BLOCK_TOKENS), bpt = k.tokenBytes("f32", C, dr);
    const poolBuf = alloc((blocks * BLOCK_TOKENS * bpt) / 4, seed + 4);
    const pool = { ptr: poolBuf.ptr, bytes: poolBuf.length * 4 };
    const ids = Int32Array.from({ length: blocks }, (_, i) => i), table = alloc(blocks);
    const q = alloc(H * qk, seed + 5);
    out = alloc(H * dv);
    const wkvb = fillUniform(new Float32Array(H * (dn + dv) * C), seed + 6, Math.sqrt(3 / C));
    const scale = deriveMla(cfg).softmaxScale;
    if (path === "absorbed") {
      const qabs = alloc(H * C, seed + 7), olat = alloc(H * C), wuv = k.packWUV(wkvb, H, C, dn, dv);
      bufs.push(wuv);
      const scratch = alloc(k.attnPagedScratchFloats(H, C, dr));
      run = () => k.attnAbsorbedPaged({ format: "f32", s: 1, H, C, dr, dn, dv, startPos: S - 1, qabs, q, pool, blocks: ids, table, scale, wuv, olat, o: out, scratch });
    } else {
      const w = k.packPerHeadNK(wkvb, H, dn + dv, C);
      bufs.push(w);
      const scratch = alloc(k.attnRecomputeScratchFloats(1, H, C, dr, dn, dv));
      run = () => k.attnRecomputePaged({ format: "f32", s: 1, H, C, dr, dn, dv, startPos: S - 1, q, pool, blocks: ids, table, scale, wkvb: w, o: out, scratch });
    }
  } else if (base) {
    const G = base.n_kv_heads, hd = base.head_dim, bv = base.v_head_dim, scale = 1 / Math.sqrt(hd);
    const q = alloc(H * hd, seed + 8);
    out = alloc(H * bv);
    if ("rank" in base) {
      const r = base.rank;
      const lk = alloc(S * G * r, seed + 9), lv = alloc(S * G * r, seed + 10);
      const wdk = k.packKN(fillUniform(new Float32Array(r * hd), seed + 11, Math.sqrt(3 / r)), hd, r);
      const wdv = k.packKN(fillUniform(new Float32Array(r * bv), seed + 12, Math.sqrt(3 / r)), bv, r);
      bufs.push(wdk.buf, wdv.buf);
      const scratch = alloc(k.attnSeedScratchFloats(1, H, G, hd, bv));
      run = () => k.attnSeedLowRank({ s: 1, H, G, hd, dv: bv, r, startPos: S - 1, q, lkRow: lk.ptr, lvRow: lv.ptr, wdk, wdv, scale, o: out, scratch });
    } else {
      const kr = alloc(S * G * hd, seed + 13), vr = alloc(S * G * bv, seed + 14);
      const scratch = alloc(k.attnGqaScratchFloats(1, H, G, hd, bv));
      run = () => k.attnGqa(1, H, G, hd, bv, S - 1, q, kr.ptr, vr.ptr, scale, out, scratch);
    }
  } else throw new ConfigError("path", path, DECODE_PATHS.map((p) => `"${p}"`).join(", "));
  return { path, context: S, run, output: () => out.toArray(), dispose: () => bufs.splice(0).forEach((b) => b.free()) };
}

/** Write S random tokens straight into a row store's rows 0 (positions 0..S-1), then commit them. */
function fillRows(k: WasmKernels, rows: WasmRowStore, S: number, seed: number): void {
  rows.reserve(1, S + 1);
  rows.widths.forEach((w, si) => fillUniform(k.arena.f32.subarray(rows.ptr(si, 0) >>> 2, (rows.ptr(si, 0) >>> 2) + S * w), seed + si));
  rows.commit(1, S);
}

/**
 * A whole decode step of one layer of `cfg`'s geometry (batch 1) on `backend`: forward(x, startPos S)
 * with S random tokens in the cache. Baselines use the cost model's MHA / GQA / MQA / seed configs.
 */
export async function stepCase(backend: WasmBackend, cfg: MlaConfig, path: AnyPath, S: number, seed = 1, o: { groups?: number; seedRank?: number } = {}): Promise<DecodeCase> {
  if (!Number.isInteger(S) || S < 1 || S >= cfg.max_seq_len) throw new ConfigError("context", S, `a positive integer below max_seq_len (${cfg.max_seq_len})`);
  const one = { ...cfg, max_batch_size: 1 };
  const base = baselineOf(one, path, o);
  let layer: AttentionLayer & { kernels: WasmKernels };
  if (path === "naive" || path === "absorbed" || path === "recompute") {
    const w = uniformWeights(mlaWeightShapes(one) as Record<string, number[]>, seed, ["q_norm", "kv_norm"]) as unknown as MlaWeights;
    const mla: WasmMla = await backend.createMla(one, w, { path });
    layer = mla;
    if (path === "naive") fillRows(mla.kernels, mla.cache as WasmRowStore, S, seed + 100);
    else {
      const cache = mla.cache as WasmPagedCache, { C, dr } = deriveMla(one).sizes;
      cache.reserve([{ seq: 0, startPos: 0, n: S + 1 }]);
      cache.latent.append(0, fillUniform(new Float32Array(S * C), seed + 101), fillUniform(new Float32Array(S * dr), seed + 102));
    }
  } else if (base) {
    const shapes = ("rank" in base ? seedWeightShapes(base) : mhaWeightShapes(base)) as Record<string, number[]>;
    const w = uniformWeights(shapes, seed);
    const l = "rank" in base ? await backend.createSeedLowRank(base, w as unknown as SeedLowRankWeights) : await backend.createMha(base, w as unknown as MhaWeights);
    layer = l;
    fillRows(l.kernels, l.cache, S, seed + 100);
  } else throw new ConfigError("path", path, DECODE_PATHS.map((p) => `"${p}"`).join(", "));
  const x = fillUniform(new Float32Array(cfg.dim), seed + 200);
  let y: Float32Array = new Float32Array(0);
  return { path, context: S + 1, run: () => void (y = layer.forward(x, { batch: 1, seqlen: 1, startPos: S }) as Float32Array), output: () => y.slice(), dispose: () => layer.dispose() };
}
