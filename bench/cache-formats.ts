// Latent cache formats: decode speed of the paged absorbed kernel per format
// (assembly/attention_absorbed.ts attn_absorbed_paged) at DeepSeek-V3's attention shape, next to the format's
// bytes per token and its accuracy against the float64 oracle (cacheAccuracyTable on the official
// vectors and two random cases). The pool holds S tokens in 64-token blocks at shuffled places
// (a block table as a serving system would have it) and the L3 is evicted before every call, so
// the cache comes from DRAM as it does in a model with many layers.
//   attention: o_lat = softmax(q [c | k_pe]^T) c for all H heads (dv = 0: the format-dependent part)
//   kernel:    the same plus o = o_lat W_UV^T per head (what the layer calls; W_UV is 32 MiB at V3)
// Every kernel's o_lat is checked against float64 math over the dequantised cache before timing.
import { STORAGE_FORMATS, FORMAT_CODE, BLOCK_TOKENS, tokenLayout, type StorageFormat } from "../src/cache/layout.js";
import { type AccuracyCase, type AccuracyRow, accuracyCaseFromVectors, cacheAccuracyTable, randomAccuracyCase } from "../src/analysis/cache-accuracy.js";
import { caseFiles, loadCase } from "../src/cli/load-vectors.js";
import { bundledVectorsDir } from "../src/cli/paths.js";
import { makeConfig } from "../src/config.js";
import { absorbedAttention64, assertOk, checkCalDiff, pickRows } from "./lib/check.js";
import type { CoreModule } from "./lib/core.js";
import { fillUniform, randomMatrix } from "./lib/data.js";
import type { Isa } from "./lib/env.js";
import { timeIt, type TimingPlan } from "./lib/timing.js";
import { V3 } from "./shapes.js";

export const CACHE_BENCH_S = 4096;
/** V3's 128 heads, and the 16 of one 8-way tensor-parallel shard (fewer heads per cached byte). */
export const CACHE_BENCH_HEADS = [128, 16];

export interface CacheFormatRow {
  format: StorageFormat;
  isa: Isa;
  /** Query heads sharing the cache (128 = V3; 16 = one shard of 8-way tensor parallelism). */
  H: number;
  /** Bytes per token at V3 (C 512, dr 64). */
  bytesPerToken: number;
  /** Cache bytes one decode reads (S x bytesPerToken). */
  cacheBytes: number;
  /** Paged attention (o_lat), ms (median) and cache GB/s. */
  attnMs: number;
  attnGBs: number;
  /** Attention GFLOP/s: 2 H S (C + dr) for the scores + 2 H S C for o_lat. */
  attnGflops: number;
  /** f32's attnMs / this format's (> 1: faster than f32). */
  speedupVsF32: number;
  /** With o = o_lat W_UV^T (the whole kernel the layer calls). */
  kernelMs: number;
  /** The probe's read of the same pool, GB/s (best of before and after). */
  readGBs: number;
  /** Accuracy against the float64 oracle over all accuracy cases (cacheAccuracyTable). */
  maxAbsError: number;
  calDiff: number;
  check: string;
}

export interface CacheFormatsResult {
  S: number;
  rows: CacheFormatRow[];
  accuracy: AccuracyRow[];
}

/** The accuracy table: official vectors + 2 random cases (as `mlakit cache --random 2`). */
export async function accuracyRows(): Promise<AccuracyRow[]> {
  const cases: AccuracyCase[] = [];
  for (const f of caseFiles(bundledVectorsDir())) cases.push(accuracyCaseFromVectors(await loadCase(f)));
  for (let i = 0; i < 2; i++) {
    const C = i % 2 === 0 ? 128 : 136;
    const cfg = makeConfig({ dim: 32, n_heads: 1 + (i % 3), q_lora_rank: i % 2 === 0 ? 0 : 16, kv_lora_rank: C, qk_nope_head_dim: 8, qk_rope_head_dim: 8, v_head_dim: 8, max_seq_len: 1024, original_seq_len: i % 2 === 0 ? 1024 : 64, max_batch_size: 2 });
    cases.push(randomAccuracyCase(cfg, 1000 + i, [40, 1, 1], 2));
  }
  return cacheAccuracyTable(cases);
}

/** plan: the DRAM plan (counted samples, L3 flushed before each); readers: optional probe reads of a buffer (GB/s), per build. */
export async function runCacheFormats(cores: Partial<Record<Isa, CoreModule>>, isas: Isa[], plan: TimingPlan, flush: () => void, log: (s: string) => void, readers: Partial<Record<Isa, (ptr: number, bytes: number) => number>> = {}): Promise<CacheFormatsResult> {
  // tinybench's warmupTime counts only the timed function, not the L3 flush before it: a 4 ms
  // kernel with a 200 ms warm-up budget would run ~50 flushed warm-ups. Two warm-up calls suffice.
  plan = { ...plan, warmupTime: 0, warmupIterations: Math.max(1, plan.warmupIterations) };
  const S = CACHE_BENCH_S, { C, dr, dn, dv } = V3, W = C + dr, qk = dn + dr, HMAX = Math.max(...CACHE_BENCH_HEADS);
  const scale = 1 / Math.sqrt(qk);
  const accuracy = await accuracyRows();
  const rowsF32 = fillUniform(new Float32Array(S * W), 4242, 1.7); // ~N(0,1)-sized latents and k_pe
  const qAll = fillUniform(new Float32Array(HMAX * W), 4243, 0.2); // [H, C+dr] = [q_abs | q_pe]
  const wuv = randomMatrix(HMAX * dv, C, 7);
  const nBlocks = S / BLOCK_TOKENS;
  const perm = Array.from({ length: nBlocks }, (_, i) => i);
  for (let i = nBlocks - 1; i > 0; i--) { // seeded shuffle: blocks at scattered places in the pool
    const j = (i * 2654435761) % (i + 1);
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const out: CacheFormatRow[] = [];
  for (const H of CACHE_BENCH_HEADS) for (const isa of isas) {
    const c = cores[isa]!, ex = c.ex, a = c.arena;
    const heads = [0, 5, H - 1], q = qAll.subarray(0, H * W);
    let f32Ms = 0;
    for (const format of STORAGE_FORMATS) {
      const fmt = FORMAT_CODE[format], bpt = tokenLayout(format, C, dr).bytesPerToken, blockBytes = BLOCK_TOKENS * bpt;
      a.reset();
      const pool = a.alloc(nBlocks * blockBytes), table = a.alloc(4 * nBlocks);
      new Int32Array(ex.memory.buffer, table, nBlocks).set(perm);
      const src = a.upload(rowsF32);
      for (let k = 0; k < nBlocks; k++) ex.codec_encode(fmt, src + k * BLOCK_TOKENS * W * 4, BLOCK_TOKENS, C, dr, pool + perm[k] * blockBytes);
      // float64 check over the dequantised cache (decoded here for the check only; the kernel never makes this copy)
      const dec = a.alloc(S * W * 4);
      for (let k = 0; k < nBlocks; k++) ex.codec_decode(fmt, pool + perm[k] * blockBytes, BLOCK_TOKENS, C, dr, dec + k * BLOCK_TOKENS * W * 4);
      const rows = a.f32(dec, S * W).slice(), kv = new Float32Array(S * C), pe = new Float32Array(S * dr);
      for (let t = 0; t < S; t++) {
        kv.set(rows.subarray(t * W, t * W + C), t * C);
        pe.set(rows.subarray(t * W + C, (t + 1) * W), t * dr);
      }
      const qabs = new Float32Array(H * C), qf = new Float32Array(H * qk);
      for (let h = 0; h < H; h++) {
        qabs.set(q.subarray(h * W, h * W + C), h * C);
        qf.set(q.subarray(h * W + C, (h + 1) * W), h * qk + dn);
      }
      const qabsP = a.upload(qabs), qP = a.upload(qf);
      const olat = a.alloc(H * C * 4), o = a.alloc(H * dv * 4);
      const scratch = a.alloc(ex.attend_paged_scratch_floats(H, C, dr) * 4);
      const per = ex.packed_size_8(dv, C), wuvP = a.alloc(H * per * 4), tmp = a.upload(wuv);
      for (let h = 0; h < H; h++) ex.pack_nk_8(tmp + h * dv * C * 4, C, dv, C, wuvP + h * per * 4);
      const kernel = ex.attn_absorbed_paged, poolBytes = nBlocks * blockBytes;
      const attn = () => void kernel(fmt, 1, H, C, dr, dn, 0, S - 1, qabsP, qP, pool, poolBytes, table, scale, wuvP, olat, o, scratch);
      const full = () => void kernel(fmt, 1, H, C, dr, dn, dv, S - 1, qabsP, qP, pool, poolBytes, table, scale, wuvP, olat, o, scratch);
      a.f32(olat, H * C).fill(NaN);
      attn();
      const chk = checkCalDiff(pickRows(a.f32(olat, H * C), C, heads), absorbedAttention64(q, kv, pe, H, S, C, dr, scale, heads), "o_lat");
      assertOk(`paged absorbed ${format} ${isa}`, chk);
      const bw0 = readers[isa]?.(pool, nBlocks * blockBytes) ?? 0;
      const tA = timeIt(`paged ${format} ${isa}`, attn, plan, flush);
      const tK = timeIt(`paged+wuv ${format} ${isa}`, full, plan, flush);
      const bw1 = readers[isa]?.(pool, nBlocks * blockBytes) ?? 0;
      if (format === "f32") f32Ms = tA.medianMs;
      const acc = accuracy.filter((r) => r.format === format);
      const row: CacheFormatRow = {
        format, isa, H, bytesPerToken: bpt, cacheBytes: S * bpt,
        attnMs: tA.medianMs, attnGBs: (S * bpt) / tA.medianMs / 1e6, attnGflops: (2 * H * S * (2 * C + dr)) / tA.medianMs / 1e6, speedupVsF32: f32Ms / tA.medianMs, kernelMs: tK.medianMs,
        readGBs: Math.max(bw0, bw1),
        maxAbsError: Math.max(...acc.map((r) => r.maxAbsError)), calDiff: Math.max(...acc.map((r) => r.calDiff)),
        check: chk.detail,
      };
      out.push(row);
      log(`cache ${format} H=${H} ${isa}: ${bpt} B/token, attention ${row.attnMs.toFixed(2)} ms (${row.attnGflops.toFixed(1)} GFLOP/s, ${row.attnGBs.toFixed(2)} GB/s of cache, x${row.speedupVsF32.toFixed(2)} vs f32), with W_UV ${row.kernelMs.toFixed(2)} ms; max abs err ${row.maxAbsError.toExponential(1)}, cal_diff ${row.calDiff.toExponential(1)}`);
    }
    a.reset();
  }
  return { S, rows: out, accuracy };
}

const e1 = (x: number) => x.toExponential(1);
const f2 = (x: number) => x.toFixed(2);

/** The section appended to bench/results/latest.md. */
export function cacheFormatsMarkdown(r: CacheFormatsResult): string {
  const { C, dr } = V3;
  let s = `\n## Latent cache formats: bytes, accuracy, decode speed (paged absorbed kernel, V3 C=${C} dr=${dr}, S=${r.S})\n\n`;
  s += "| format | bytes/token | max abs err | cal_diff | heads | build | attention ms | GFLOP/s | cache GB/s | speed vs f32 | kernel ms (+ W_UV) |\n|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const x of r.rows) s += `| ${x.format} | ${x.bytesPerToken} | ${e1(x.maxAbsError)} | ${e1(x.calDiff)} | ${x.H} | ${x.isa} | ${f2(x.attnMs)} | ${x.attnGflops.toFixed(1)} | ${f2(x.attnGBs)} | x${f2(x.speedupVsF32)} | ${f2(x.kernelMs)} |\n`;
  s += `\nattention: the format-dependent part (scores over [c | k_pe], online softmax, o_lat += p c; one 64-token block dequantised at a time into an L2-resident tile, f32 read in place), L3 evicted before each call. Every cached value serves all H heads (4H flops per latent value read), so at H = 128 (and 16) the decode is compute-bound on this CPU: a smaller format saves memory, not time, and the per-block dequantisation (once per block for all heads) is what it costs. kernel: plus o = o_lat W_UV^T per head (32 MiB of W_UV, the same for every format). max abs err / cal_diff: absorbed MLA over a cache in the format vs the float64 oracle, worst over the official vectors and two random cases (\`cacheAccuracyTable\`; outputs are O(1)). bytes/token at V3; fp8_e4m3 is FlashMLA's 656-byte record. Source: bench/cache-formats.ts.\n`;
  return s;
}
