// Work on 1 and 2 threads in one run (src/wasm/threads ThreadPool): each 2-thread figure carries
// the 1-thread time of the same call as its peer, so its ratio is the speed-up.
//   - absorbed decode attention (split-KV: 64-aligned key ranges, all heads per thread, the core's
//     combine) at V3 (H 128) and V2-Lite (H 16), and V3.2's sparse attention over 2048 keys;
//   - naive decode attention (the per-head K/V cache, heads split over the threads) at V3 and V2-Lite;
//   - the decode GEMVs (weights from DRAM) and prefill GEMMs (M 64) split over output panels, with
//     onnxruntime-web on 1 and 2 threads (its pthread build, a process per thread count) as the peer;
//   - the whole decode step (runThreadedStep).
// Before the figures, the FMA-peak kernel runs on one thread and on both at once: on a shared VM
// the second vCPU is not always there, and that ratio says how much of it the run had. % peak is
// of ONE core's probed peak; the roofline of a 2-thread figure is two cores'. Every 2-thread output
// is checked before timing: bit for bit against one thread where the split keeps the bits, against
// float64 (two heads, cal_diff) for attention.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { PRESETS } from "../src/config.js";
import { ThreadPool } from "../src/wasm/threads/index.js";
import { loadThreadedCoreNode, nodeSpawner } from "../src/wasm/threads/node.js";
import { decodeShape, layerCost } from "../src/analysis/cost.js";
import { fillUniform } from "./lib/data.js";
import { assertOk, checkCalDiff } from "./lib/check.js";
import { BOTH_CORES, timePaired, type CoreShare, type PairedTiming, type TimingPlan } from "./lib/timing.js";
import type { ProbeResult } from "./probe.js";
import { makeFigure, type Figure } from "./figures.js";
import { head64 } from "./dsa.js";
import { attendHead64 } from "./paths.js";
import { makeConfig } from "../src/config.js";
import { createWasmBackend } from "../src/wasm/node.js";
import type { WasmMla } from "../src/wasm/index.js";
import type { F32Buf } from "../src/wasm/kernels.js";
import type { OrtThreadsResult, OrtThreadsShape } from "./peers/ort-threads.js";
import { benchWeights, fillWasmCache, stepFlop, stepInputs, weightBytes } from "./step.js";

const KB = 64;
const bitsEqual = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

/** Fill n floats of k's memory fast: `seedFloats` seeded values, then copies of them (a long cache need not be all distinct). */
function fillRepeating(buf: F32Buf, seed: number, scale = 1, seedFloats = 1 << 20): void {
  const v = buf.view(), head = Math.min(seedFloats, v.length);
  v.set(fillUniform(new Float32Array(head), seed, scale));
  for (let i = head; i < v.length; i += head) v.copyWithin(i, 0, Math.min(head, v.length - i));
}

/** The FMA-peak kernel on both threads of `pool` over on one (2.0 = two whole cores), ~10 ms. */
export function peakProbe(pool: ThreadPool): () => number {
  const ms = (n: number) => {
    const t0 = performance.now();
    pool.run(Array.from({ length: n }, () => ["probe_peak", [2_000_000]] as const));
    return performance.now() - t0;
  };
  return () => (2 * ms(1)) / ms(2);
}

/** What a paired timing says about the second core, for a figure's note. */
export function coresNote(c: CoreShare): string {
  const both = c.ratioWithBoth === null ? "none" : `${c.withBoth}/${c.pairs}, x${c.ratioWithBoth.toFixed(2)} over them`;
  return `FMA peak 2 threads / 1 around the ${c.pairs} sample pairs: median ${c.peakMedian.toFixed(2)}; pairs with both cores (>= ${BOTH_CORES}): ${both}`;
}

interface PairSpec { model: string; what: string; impl1: string; impl2: string; isa: string; t: PairedTiming; flop: number; bytes: number; check: string; note: string }

/** The 1-thread figure and the 2-thread figure with the 1-thread one as its peer. */
function pairFigures(probe: ProbeResult, p: PairSpec, log: (s: string) => void): Figure[] {
  const isa = p.isa as Figure["isa"];
  const one = makeFigure(probe, { group: "threads", model: p.model, what: p.what, impl: p.impl1, isa, ms: p.t.one.medianMs, flop: p.flop, bytes: p.bytes, check: "the 2-thread output's check" });
  const two = makeFigure(probe, { group: "threads", model: p.model, what: p.what, impl: p.impl2, isa, ms: p.t.two.medianMs, flop: p.flop, bytes: p.bytes, check: p.check, threads: 2, cores: p.t.cores, peer: { impl: "1 thread", ms: one.ms, gflops: one.gflops, gbs: one.gbs }, note: `${p.note}; ${coresNote(p.t.cores)}` });
  const both = p.t.cores.ratioWithBoth === null ? "" : `, x${p.t.cores.ratioWithBoth.toFixed(2)} on the ${p.t.cores.withBoth}/${p.t.cores.pairs} pairs with both cores`;
  log(`threads ${p.model} ${p.what}: 1 thread ${one.ms.toFixed(2)} ms, 2 threads ${two.ms.toFixed(2)} ms (x${(two.ratio ?? 0).toFixed(2)}${both})`);
  return [one, two];
}

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
    const peak = peakProbe(pool);
    for (let i = 0; i < 3; i++) peak(); // warm-up (Liftoff -> TurboFan)
    const ratios = Array.from({ length: 5 }, peak).sort((a, b) => a - b);
    const peak2over1 = ratios[2];
    log(`threads: ${build}, FMA peak on 2 threads / on 1: ${peak2over1.toFixed(2)}`);
    const timed = (name: string, f1: () => void, f2: () => void, before?: () => void) => timePaired(name, f1, f2, plan, peak, before);
    const pair = (model: string, what: string, impl1: string, impl2: string, t: PairedTiming, flop: number, bytes: number, check: string, note?: string): void => {
      out.push(...pairFigures(probe, { model, what, impl1, impl2, isa, t, flop, bytes, check, note: note ?? "% peak is of one core" }, log));
    };

    // ---- absorbed decode attention: split-KV ------------------------------------------------
    const absorbedCases: { model: string; preset: "deepseek-v3.2" | "deepseek-v2-lite"; S: number; sparse: boolean }[] = quick
      ? [{ model: "V3", preset: "deepseek-v3.2", S: 1024, sparse: false }, { model: "V3.2", preset: "deepseek-v3.2", S: 4096, sparse: true }]
      : [
          ...[1024, 4096, 16384].map((S) => ({ model: "V3", preset: "deepseek-v3.2" as const, S, sparse: false })),
          ...[4096, 16384].map((S) => ({ model: "V2-Lite", preset: "deepseek-v2-lite" as const, S, sparse: false })),
          { model: "V3.2", preset: "deepseek-v3.2", S: 65536, sparse: true },
        ];
    for (const c of absorbedCases) {
      const cfg = { ...PRESETS[c.preset], max_batch_size: 1 };
      const { n_heads: H, kv_lora_rank: C, qk_rope_head_dim: dr } = cfg, W = C + dr, scale = 1 / Math.sqrt(cfg.qk_nope_head_dim + dr);
      const what = `H=${H} S=${c.S}${c.sparse ? " top-2048" : ""}`;
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
      assertOk(`threads ${c.model} ${what}`, chk);
      const t = timed(what, run(1), run(2));
      const terms = layerCost(cfg, c.sparse ? "dsa" : "absorbed", decodeShape(c.S, 1), { format: "f32" }).terms;
      const flop = terms.scores.flops + terms.weightedSum.flops, bytes = terms.scores.bytes + terms.weightedSum.bytes;
      pair(c.model, what, `${c.sparse ? "sparse" : "dense"} attn_mla_decode, 1 thread`, `${c.sparse ? "sparse" : "dense"} split-KV, 2 threads`, t, flop, bytes, chk.detail);
      for (const b of [poolBuf, q, table, o, lse, selBuf]) b.free();
    }

    // ---- naive decode attention: the per-head K/V cache, heads split ------------------------
    for (const [model, preset, S] of (quick ? [["V2-Lite", "deepseek-v2-lite", 1024]] : [["V2-Lite", "deepseek-v2-lite", 4096], ["V2-Lite", "deepseek-v2-lite", 16384], ["V3", "deepseek-v3", 4096], ["V3", "deepseek-v3", 16384]]) as [string, "deepseek-v3" | "deepseek-v2-lite", number][]) {
      const cfg = { ...PRESETS[preset], max_batch_size: 1 };
      const H = cfg.n_heads, qk = cfg.qk_nope_head_dim + cfg.qk_rope_head_dim, dv = cfg.v_head_dim, T = S + 1, scale = 1 / Math.sqrt(qk);
      const what = `naive H=${H} S=${S}`;
      let kv: F32Buf;
      try {
        kv = k.alloc(T * H * (qk + dv));
      } catch (e) {
        log(`threads ${model} ${what}: not measured (the K/V cache, ${((T * H * (qk + dv) * 4) / 2 ** 30).toFixed(1)} GiB, does not fit: ${String(e)})`);
        continue;
      }
      fillRepeating(kv, S + 11);
      const qArr = fillUniform(new Float32Array(H * qk), S + 12, 0.3), q = k.alloc(H * qk, qArr), scratch = k.alloc(k.attnScratchFloats(H));
      const o1 = k.alloc(H * dv), o2 = k.alloc(H * dv);
      const kRow = kv.ptr, vRow = kv.ptr + 4 * T * H * qk;
      k.attnDecodeNaive(H, qk, dv, S, q, kRow, vRow, scale, o1, scratch);
      pool.attnDecodeNaiveSplit(H, qk, dv, S, q, kRow, vRow, scale, o2);
      if (!bitsEqual(o1.toArray(), o2.toArray())) throw new Error(`threads ${model} ${what}: the head split is not bit for bit the one-thread result`);
      const f32 = k.arena.f32, kBase = kRow / 4, vBase = vRow / 4, heads = [0, H - 1], got = o2.toArray();
      const want = heads.flatMap((h) => Array.from(attendHead64(qArr, h * qk, qk, dv, T, scale, (j, out) => { for (let i = 0; i < qk; i++) out[i] = f32[kBase + (j * H + h) * qk + i]; }, (j, out) => { for (let i = 0; i < dv; i++) out[i] = f32[vBase + (j * H + h) * dv + i]; })));
      const chk = checkCalDiff(Float64Array.from(heads.flatMap((h) => Array.from(got.subarray(h * dv, (h + 1) * dv)))), Float64Array.from(want), "o (2 threads)");
      assertOk(`threads ${model} ${what}`, chk);
      const t = timed(what, () => k.attnDecodeNaive(H, qk, dv, S, q, kRow, vRow, scale, o1, scratch), () => void pool.attnDecodeNaiveSplit(H, qk, dv, S, q, kRow, vRow, scale, o2));
      const terms = layerCost(cfg, "naive", decodeShape(T, 1), { format: "f32" }).terms;
      pair(model, what, "attn_decode_naive, 1 thread", "naive heads split, 2 threads", t, terms.scores.flops + terms.weightedSum.flops, terms.scores.bytes + terms.weightedSum.bytes, `bit for bit the one-thread result; ${chk.detail}`, "K/V read once per head: memory-bound; % DRAM BW vs the one-thread ceiling");
      for (const b of [kv, q, scratch, o1, o2]) b.free();
    }

    // ---- projections: decode GEMVs (weights from DRAM) and prefill GEMMs, split over panels ----
    const projections: [string, string, number, number, number][] = quick
      ? [["V3", "wo", 7168, 16384, 1], ["V3", "wq_b", 24576, 1536, 64]]
      : [
          ["V3", "wo", 7168, 16384, 1], ["V3", "wq_b", 24576, 1536, 1], ["V2-Lite", "wq", 3072, 2048, 1], ["V2-Lite", "wo", 2048, 2048, 1],
          ["V3", "wq_b", 24576, 1536, 64], ["V3", "wo", 7168, 16384, 64], ["V2-Lite", "wq", 3072, 2048, 64], ["V2-Lite", "wkv_b", 4096, 512, 64],
        ];
    for (const [model, name, N, K, M] of projections) {
      const w = k.packNK(fillUniform(new Float32Array(N * K), N + K, Math.sqrt(3 / K)), N, K);
      const x = k.alloc(M * K, fillUniform(new Float32Array(M * K), 3, 1)), y1 = k.alloc(M * N), y2 = k.alloc(M * N);
      k.linear(M, x, w, y1);
      pool.linearSplit(M, x, w, y2, {}, 2);
      if (!bitsEqual(y1.toArray(), y2.toArray())) throw new Error(`threads ${model} ${name}: the panel split is not bit for bit the one-thread result`);
      const what = `${name} ${N}x${K}, M=${M}`, mem = M === 1 ? flush : undefined;
      const t = timed(what, () => k.linear(M, x, w, y1), () => void pool.linearSplit(M, x, w, y2, {}, 2), mem);
      const kind = M === 1 ? "gemv" : "gemm";
      pair(model, what, `${kind} (linear), 1 thread`, `${kind} (linear), 2 threads over output panels`, t, 2 * M * N * K, 4 * N * K, "bit for bit the one-thread result", M === 1 ? "weights from DRAM (L3 evicted before each call)" : undefined);
      for (const b of [w.buf, x, y1, y2]) b.free();
    }
    out.push(...ortThreadsPeer(probe, plan, projections.filter((p) => p[4] > 1), out, isa, log));
    return { figures: out, peak2over1, build };
  } finally {
    void pool.terminate();
  }
}

/**
 * onnxruntime-web on 1 and on 2 threads (a child process each: its thread count is fixed per
 * process) for the prefill GEMMs: its 2-thread figure against its own 1-thread run, and against
 * mlakit's 2-thread figure of the same shape (ratio2 = its ms / mlakit's).
 */
function ortThreadsPeer(probe: ProbeResult, plan: TimingPlan, shapes: [string, string, number, number, number][], figures: Figure[], isa: "relaxed" | "simd128", log: (s: string) => void): Figure[] {
  const child = fileURLToPath(new URL("./peers/ort-threads.js", import.meta.url));
  const spec: OrtThreadsShape[] = shapes.map(([, , N, K, M], i) => ({ N, K, M, seed: 900 + i }));
  let runs: OrtThreadsResult[];
  try {
    runs = [1, 2].map((t) => JSON.parse(execFileSync(process.execPath, [child, String(t), JSON.stringify(spec), String(plan.iterations), String(plan.time)], { encoding: "utf8", timeout: 600_000, stdio: ["ignore", "pipe", "pipe"] }).trim().split("\n").pop()!) as OrtThreadsResult);
  } catch (e) {
    log(`threads: onnxruntime-web peer not measured (${String(e).split("\n")[0]})`);
    return [];
  }
  const out: Figure[] = [];
  shapes.forEach(([model, name, N, K, M], i) => {
    const [one, two] = runs.map((r) => r.shapes[i]);
    for (const r of [one, two]) if (!(r.maxRelErr <= 1e-5)) throw new Error(`onnxruntime-web ${name}: output off by ${r.maxRelErr} (relative) from float64`);
    const what = `${name} ${N}x${K}, M=${M}`, flop = 2 * M * N * K, bytes = 4 * N * K;
    const ours = figures.find((f) => f.group === "threads" && f.model === model && f.what === what && f.threads === 2);
    const f1 = makeFigure(probe, { group: "threads", model, what, impl: `onnxruntime-web ${runs[0].version} MatMul, 1 thread`, isa, ms: one.medianMs, flop, bytes, check: `8 outputs vs float64, rel. err ${one.maxRelErr.toExponential(1)}` });
    const f2 = makeFigure(probe, {
      group: "threads", model, what, impl: `onnxruntime-web ${runs[0].version} MatMul, 2 threads`, isa, ms: two.medianMs, flop, bytes, check: `8 outputs vs float64, rel. err ${two.maxRelErr.toExponential(1)}`, threads: 2,
      peer: { impl: "onnxruntime-web, 1 thread", ms: f1.ms, gflops: f1.gflops, gbs: f1.gbs },
      ...(ours && { peer2: { impl: "mlakit, 2 threads", ms: ours.ms, gflops: ours.gflops, gbs: ours.gbs } }),
      note: "the peer's own pthread build (numThreads 2), in a process of its own; ratio2 = mlakit's 2-thread ms / its",
    });
    out.push(f1, f2);
    log(`threads onnxruntime-web ${model} ${what}: 1 thread ${f1.ms.toFixed(2)} ms, 2 threads ${f2.ms.toFixed(2)} ms (x${(f2.ratio ?? 0).toFixed(2)}); mlakit 2 threads ${ours ? ours.ms.toFixed(2) : "-"} ms`);
  });
  return out;
}

/**
 * The whole absorbed decode step of one layer (WasmMla.forward, one token, batch 1, S cached
 * latents written straight into both caches) at V3 and V2-Lite with createWasmBackend({ threads: 2 })
 * against { threads: 1 }: every split the layer makes (projections by panels, q-absorption and W_UV
 * by heads, attention split-KV), compression and the norms on one thread. The 2-thread output is
 * checked against the 1-thread one by cal_diff (the 1-thread step is checked against float64 in the
 * step group).
 */
export async function runThreadedStep(probe: ProbeResult, plan: TimingPlan, quick: boolean, log: (s: string) => void): Promise<Figure[]> {
  const two = await createWasmBackend({ threads: 2 });
  if (two.threads.count < 2) {
    log(`threaded step: not measured (${two.threads.reason})`);
    return [];
  }
  const one = await createWasmBackend({ build: two.build });
  const probePool = await ThreadPool.create({ threads: 2, core: await loadThreadedCoreNode("auto"), spawn: nodeSpawner() });
  const peak = peakProbe(probePool);
  const out: Figure[] = [];
  try {
    for (const [model, preset] of (quick ? [["V3", "deepseek-v3"]] : [["V2-Lite", "deepseek-v2-lite"], ["V3", "deepseek-v3"]]) as [string, "deepseek-v3" | "deepseek-v2-lite"][]) {
      const cfg = makeConfig({ ...PRESETS[preset], max_seq_len: 16384 + 16, max_batch_size: 1 });
      const w = benchWeights(cfg, 101);
      const layers = [await one.createMla(cfg, w, { path: "absorbed" }), await two.createMla(cfg, w, { path: "absorbed" })] as WasmMla[];
      const { kv_lora_rank: C, qk_rope_head_dim: dr } = cfg;
      try {
        for (const S of quick ? [1024] : [1024, 4096, 16384]) {
          const { kv, pe, x } = stepInputs(cfg, S);
          const opts = { batch: 1, seqlen: 1, startPos: S };
          const ys = layers.map((l) => (fillWasmCache(l, S, kv, pe), l.forward(x, opts)));
          const chk = checkCalDiff(ys[1], Float64Array.from(ys[0]), "2-thread step output vs 1-thread");
          assertOk(`threaded step ${model} S=${S}`, chk);
          const t = timePaired(`step ${model} S=${S}`, () => void layers[0].forward(x, opts), () => void layers[1].forward(x, opts), plan, peak);
          const flop = stepFlop(cfg, S), bytes = weightBytes(cfg) + 4 * (S + 1) * (C + dr);
          out.push(...pairFigures(probe, { model, what: `step S=${S}`, impl1: "WasmMla absorbed forward, 1 thread", impl2: "WasmMla absorbed forward, 2 threads", isa: two.build, t, flop, bytes, check: chk.detail, note: "projections, q-absorption, W_UV and attention on 2 threads; compression (wkv_a), the norms and RoPE on one" }, log));
        }
      } finally {
        for (const l of layers) l.dispose();
      }
    }
  } finally {
    void probePool.terminate();
  }
  return out;
}
