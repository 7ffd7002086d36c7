// Decode attention on 1 and 2 threads (src/wasm/threads ThreadPool, split-KV: 64-aligned key
// ranges, all heads per thread, the core's combine), absorbed MLA at V3's geometry (H 128, C 512,
// dr 64, f32 paged cache) and DeepSeek-V3.2's sparse attention over 2048 selected keys, in one
// run: the 2-thread figure carries the 1-thread time of the same call as its peer, so its ratio is
// the speed-up. Before the figures, the FMA-peak kernel runs on one thread and on both at once:
// on a shared VM the second vCPU is not always there, and that ratio says how much of it the run
// had. % peak is of ONE core's probed peak; the roofline of a 2-thread figure is two cores'. Each 2-thread output is checked against float64 (two
// heads, cal_diff) before timing.
import { PRESETS } from "../src/config.js";
import { ThreadPool } from "../src/wasm/threads/index.js";
import { loadThreadedCoreNode, nodeSpawner } from "../src/wasm/threads/node.js";
import { decodeShape, layerCost } from "../src/analysis/cost.js";
import { fillUniform } from "./lib/data.js";
import { assertOk, checkCalDiff } from "./lib/check.js";
import { timeIt, type TimingPlan } from "./lib/timing.js";
import type { ProbeResult } from "./probe.js";
import { makeFigure, type Figure } from "./figures.js";
import { head64 } from "./dsa.js";
import { makeConfig } from "../src/config.js";
import { createWasmBackend } from "../src/wasm/node.js";
import type { WasmMla, WasmPagedCache } from "../src/wasm/index.js";
import { benchWeights, stepFlop, weightBytes } from "./step.js";

const KB = 64;

export async function runThreads(probe: ProbeResult, plan: TimingPlan, quick: boolean, log: (s: string) => void, flush?: () => void): Promise<{ figures: Figure[]; peak2over1: number | null; build: string | null }> {
  let pool: ThreadPool;
  let build: string;
  try {
    const core = await loadThreadedCoreNode("auto");
    build = core.variant;
    pool = await ThreadPool.create({ threads: 2, core, spawn: nodeSpawner() });
  } catch (e) {
    log(`threads: not measured (${String(e)})`);
    return { figures: [], peak2over1: null, build: null };
  }
  const out: Figure[] = [];
  try {
    const k = pool.kernels;
    const isa = build.startsWith("relaxed") ? "relaxed" : "simd128";
    const peakMs = (n: number) => {
      const t0 = performance.now();
      pool.run(Array.from({ length: n }, () => ["probe_peak", [2_000_000]] as const));
      return performance.now() - t0;
    };
    for (let i = 0; i < 3; i++) (peakMs(1), peakMs(2)); // warm-up (Liftoff -> TurboFan)
    const ratios = Array.from({ length: 5 }, () => (2 * peakMs(1)) / peakMs(2)).sort((a, b) => a - b);
    const peak2over1 = ratios[2];
    log(`threads: ${build}, FMA peak on 2 threads / on 1: ${peak2over1.toFixed(2)}`);
    const cfg = { ...PRESETS["deepseek-v3.2"], max_batch_size: 1 };
    const { n_heads: H, kv_lora_rank: C, qk_rope_head_dim: dr } = cfg, W = C + dr, scale = 1 / Math.sqrt(cfg.qk_nope_head_dim + dr);
    const cases: { what: string; S: number; sparse: boolean }[] = (quick ? [1024] : [1024, 4096, 16384]).map((S) => ({ what: `H=${H} S=${S}`, S, sparse: false }));
    cases.push({ what: `H=${H} S=${quick ? 4096 : 65536} top-2048`, S: quick ? 4096 : 65536, sparse: true });
    for (const c of cases) {
      const nb = Math.ceil(c.S / KB), K = Math.min(2048, c.S);
      const lat = fillUniform(new Float32Array(nb * KB * W), c.S + 1), poolBuf = k.alloc(nb * KB * W, lat);
      const qArr = fillUniform(new Float32Array(H * W), c.S + 2, 0.05), q = k.alloc(H * W, qArr);
      const blocks = Int32Array.from({ length: nb }, (_, i) => i), table = k.alloc(nb), o = k.alloc(H * C), lse = k.alloc(H);
      const step = Math.floor(c.S / K); // spread selection: one key per step, at an offset that varies
      const keys = c.sparse ? Int32Array.from({ length: K }, (_, i) => i * step + ((i * 5) % step)) : Int32Array.from({ length: c.S }, (_, j) => j);
      const selBuf = k.alloc(Math.max(1, K));
      new Int32Array(k.arena.memory.buffer, selBuf.ptr, K).set(keys.subarray(0, K));
      const a = { format: "f32" as const, sq: 1, H, C, dr, len: c.S, q, pool: { ptr: poolBuf.ptr, bytes: nb * KB * W * 4 }, blocks, table, scale, o, lse, ...(c.sparse && { sel: { range: { ptr: selBuf.ptr, bytes: 4 * K }, at: 0, topk: K } }) };
      const run = (threads: number) => () => void pool.attnMlaDecodeSplit(a, { threads });
      run(2)();
      const heads = [0, H - 1], got = o.toArray();
      const chk = checkCalDiff(Float64Array.from(heads.flatMap((h) => Array.from(got.subarray(h * C, (h + 1) * C)))), Float64Array.from(heads.flatMap((h) => Array.from(head64(qArr, h, W, C, lat, keys, scale)))), "o (2 threads)");
      assertOk(`threads ${c.what}`, chk);
      const t1 = timeIt(`1 thread ${c.what}`, run(1), plan), t2 = timeIt(`2 threads ${c.what}`, run(2), plan);
      const terms = layerCost(cfg, c.sparse ? "dsa" : "absorbed", decodeShape(c.S, 1), { format: "f32" }).terms;
      const flop = terms.scores.flops + terms.weightedSum.flops, bytes = terms.scores.bytes + terms.weightedSum.bytes;
      const one = makeFigure(probe, { group: "threads", model: "V3.2", what: c.what, impl: `${c.sparse ? "sparse" : "dense"} attn_mla_decode, 1 thread`, isa, ms: t1.medianMs, flop, bytes, check: "the 2-thread output's check" });
      const two = makeFigure(probe, {
        group: "threads", model: "V3.2", what: c.what, impl: `${c.sparse ? "sparse" : "dense"} split-KV, 2 threads`, isa, ms: t2.medianMs, flop, bytes, check: chk.detail,
        threads: 2, peer: { impl: "1 thread", ms: one.ms, gflops: one.gflops, gbs: one.gbs }, note: `FMA peak 2 threads / 1 in this run: ${peak2over1.toFixed(2)}; % peak is of one core`,
      });
      out.push(one, two);
      log(`threads ${c.what}: 1 thread ${one.ms.toFixed(2)} ms, 2 threads ${two.ms.toFixed(2)} ms (x${(two.ratio ?? 0).toFixed(2)})`);
      for (const b of [poolBuf, q, table, o, lse, selBuf]) b.free();
    }
    // Projections: the decode GEMV of V3's wo (weights from DRAM: L3 evicted before each call) and
    // the prefill GEMM of wq_b at M 64, one thread (the pool's own kernels) vs the panel split.
    for (const [name, N, K, M] of [["wo", 7168, 16384, 1], ["wq_b", 24576, 1536, 64]] as const) {
      const w = k.packNK(fillUniform(new Float32Array(N * K), N + K, Math.sqrt(3 / K)), N, K);
      const x = k.alloc(M * K, fillUniform(new Float32Array(M * K), 3, 1)), y1 = k.alloc(M * N), y2 = k.alloc(M * N);
      k.linear(M, x, w, y1);
      pool.linearSplit(M, x, w, y2);
      const a = y1.toArray(), b = y2.toArray();
      if (a.some((v, i) => !Object.is(v, b[i]))) throw new Error(`threads ${name}: the panel split is not bit for bit the one-thread result`);
      const what = `${name} ${N}x${K}, M=${M}`, mem = M === 1 ? flush : undefined;
      const t1 = timeIt(`1 thread ${what}`, () => k.linear(M, x, w, y1), plan, mem), t2 = timeIt(`2 threads ${what}`, () => void pool.linearSplit(M, x, w, y2), plan, mem);
      const flop = 2 * M * N * K, bytes = 4 * N * K;
      const one = makeFigure(probe, { group: "threads", model: "V3", what, impl: `${M === 1 ? "gemv" : "gemm"} (linear), 1 thread`, isa, ms: t1.medianMs, flop, bytes, check: "the split's bits" });
      const two = makeFigure(probe, { group: "threads", model: "V3", what, impl: `${M === 1 ? "gemv" : "gemm"} (linear), 2 threads over output panels`, isa, ms: t2.medianMs, flop, bytes, check: "bit for bit the one-thread result", threads: 2, peer: { impl: "1 thread", ms: one.ms, gflops: one.gflops, gbs: one.gbs }, note: M === 1 ? "weights from DRAM (L3 evicted before each call)" : undefined });
      out.push(one, two);
      log(`threads ${what}: 1 thread ${one.ms.toFixed(2)} ms (${one.gbs.toFixed(1)} GB/s), 2 threads ${two.ms.toFixed(2)} ms (${two.gbs.toFixed(1)} GB/s, x${(two.ratio ?? 0).toFixed(2)})`);
      for (const b of [w.buf, x, y1, y2]) b.free();
    }
    return { figures: out, peak2over1, build };
  } finally {
    pool.terminate();
  }
}

/**
 * The whole absorbed decode step of one V3 layer (WasmMla.forward, one token, batch 1, S cached
 * latents written straight into both caches) with createWasmBackend({ threads: 2 }) against
 * { threads: 1 }: attention split-KV, the query and output projections split by panels, the rest
 * on one thread. The 2-thread output is checked against the 1-thread one by cal_diff (the
 * 1-thread step is checked against float64 in the step group).
 */
export async function runThreadedStep(probe: ProbeResult, plan: TimingPlan, quick: boolean, log: (s: string) => void): Promise<Figure[]> {
  const two = await createWasmBackend({ threads: 2 });
  if (two.threads.count < 2) {
    log(`threaded step: not measured (${two.threads.reason})`);
    return [];
  }
  const one = await createWasmBackend({ build: two.build });
  const cfg = makeConfig({ ...PRESETS["deepseek-v3"], max_seq_len: 16384 + 16, max_batch_size: 1 });
  const w = benchWeights(cfg, 101);
  const layers = [await one.createMla(cfg, w, { path: "absorbed" }), await two.createMla(cfg, w, { path: "absorbed" })] as WasmMla[];
  const out: Figure[] = [];
  const { kv_lora_rank: C, qk_rope_head_dim: dr, dim: D } = cfg;
  try {
    for (const S of quick ? [1024] : [1024, 4096, 16384]) {
      const kv = fillUniform(new Float32Array(S * C), S + 5), pe = fillUniform(new Float32Array(S * dr), S + 6), x = fillUniform(new Float32Array(D), S + 7);
      const opts = { batch: 1, seqlen: 1, startPos: S };
      const ys = layers.map((l) => {
        const cache = l.cache as WasmPagedCache;
        cache.latent.truncate(0, 0);
        cache.reserve([{ seq: 0, startPos: 0, n: S + 1 }]);
        cache.latent.append(0, kv, pe);
        return l.forward(x, opts);
      });
      const chk = checkCalDiff(ys[1], Float64Array.from(ys[0]), "2-thread step output vs 1-thread");
      assertOk(`threaded step S=${S}`, chk);
      const [t1, t2] = layers.map((l, i) => timeIt(`${i + 1}-thread step S=${S}`, () => void l.forward(x, opts), plan));
      const flop = stepFlop(cfg, S), bytes = weightBytes(cfg) + 4 * (S + 1) * (C + dr), isa = two.build;
      const f1 = makeFigure(probe, { group: "threads", model: "V3", what: `step S=${S}`, impl: "WasmMla absorbed forward, 1 thread", isa, ms: t1.medianMs, flop, bytes, check: "the step group's float64 check" });
      const f2 = makeFigure(probe, { group: "threads", model: "V3", what: `step S=${S}`, impl: "WasmMla absorbed forward, 2 threads", isa, ms: t2.medianMs, flop, bytes, check: chk.detail, threads: 2, peer: { impl: "1 thread", ms: f1.ms, gflops: f1.gflops, gbs: f1.gbs }, note: "attention and the query/output projections on 2 threads; compression, absorption, W_UV on one" });
      out.push(f1, f2);
      log(`threaded step V3 S=${S}: 1 thread ${f1.ms.toFixed(2)} ms, 2 threads ${f2.ms.toFixed(2)} ms (x${(f2.ratio ?? 0).toFixed(2)})`);
    }
  } finally {
    for (const l of layers) l.dispose();
  }
  return out;
}
