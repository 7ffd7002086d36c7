// `npm run bench` (full) / `npm run bench -- --quick` (every figure once, < 2 minutes).
// One process, one run: the probe, then every figure with its peer right after it, so every ratio
// compares numbers taken minutes apart on the same machine state. Writes bench/results/latest.json
// and latest.md. Run under `flock /tmp/mlakit-heavy.lock` on the shared 2-core machine.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { availableIsas, rootPath, sourceState, type Isa } from "./lib/env.js";
import { timeIt, timeItAsync, QUICK, FULL } from "./lib/timing.js";
import { randomMatrix, randomVector, fillUniform } from "./lib/data.js";
import { checkLinear, checkCalDiff, assertOk, absorbedAttention64, naiveAttention64, pickRows } from "./lib/check.js";
import { coreBuilt, loadCore, corePack, coreLinearOn, coreAbsorbedCase, type CoreModule } from "./lib/core.js";
import { runProbe, makeL3Flusher, makeBufferReader, type ProbeResult } from "./probe.js";
import { tfjsReady, tfjsInfo, TfjsLinear, transpose } from "./peers/tfjs.js";
import { OrtLinear, ortInfo } from "./peers/ort.js";
import { V3, V2_LITE, projections, DECODE_S, type ModelShape } from "./shapes.js";
import { makeFigure, type Figure } from "./figures.js";
import { dramCeilingGBs, evaluateTargets, toMarkdown, type BenchResults } from "./report.js";
import { weightCostRows } from "./weight-cost.js";
import { runDecodeStep } from "./step.js";
import { runPathAttention } from "./paths.js";
import { runDsaDecode } from "./dsa.js";
import { runThreadedStep, runThreads } from "./threads.js";
import { runWeightFormats } from "./weight-formats.js";
import { runCacheFormats, cacheFormatsMarkdown } from "./cache-formats.js";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const plan = quick ? QUICK : FULL;
const PREFILL_M = [64, 128];
// Figures that evict the L3 before every call (64 MiB read, ~3 ms) count samples, not time:
// a 1.5 s budget of 0.3 ms GEMVs would mean 5000 evictions.
const dramPlan = { ...plan, time: 0, iterations: quick ? plan.iterations : 15 };
const t0 = performance.now();
const loadAtStart = loadavg(); // how quiet the machine was (other sessions share its 2 cores)
const log = (s: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${s}`);

if (!coreBuilt()) throw new Error("build/mla-simd128.wasm is missing: run `npm run build` first");
const isas = availableIsas();
const best: Isa = isas[0];

const probe: ProbeResult = await runProbe(plan);
log(`probe: peak ${probe.peakSimd128Gflops.toFixed(1)} (simd128) / ${probe.peakRelaxedGflops?.toFixed(1)} (relaxed) GFLOP/s, DRAM ${probe.streamGBs.toFixed(1)} GB/s, L2 ${probe.l2GBs.toFixed(1)} GB/s`);
const flush = await makeL3Flusher();

await tfjsReady();
const cores = {} as Record<Isa, CoreModule>;
for (const isa of isas) cores[isa] = await loadCore(isa);
// Memory-bound figures divide by the probe's read of THE SAME buffer (weights, cache), taken right
// before and right after the figure: on this VM one read loop gets 22-29 GB/s depending on the buffer.
const readers = {} as Record<Isa, (ptr: number, bytes: number) => number>;
for (const isa of isas) readers[isa] = await makeBufferReader(cores[isa].ex.memory, plan);
const figures: Figure[] = [];
const push = (f: Figure) => {
  figures.push(f);
  log(`${f.group} ${f.model} ${f.what} ${f.impl}/${f.isa}: ${f.ms.toFixed(2)} ms, ${f.gflops.toFixed(1)} GFLOP/s, ${f.gbs.toFixed(1)} GB/s, ${f.pctPeak.toFixed(0)}% peak, ${f.pctBw.toFixed(0)}% BW${f.ratio ? `, x${f.ratio.toFixed(2)} vs ${f.peer!.impl}` : ""}${f.ratio2 ? `, x${f.ratio2.toFixed(2)} vs ${f.peer2!.impl}` : ""}`);
};

// Projections: prefill GEMMs (M tokens) and decode GEMVs (1 token), each against XNNPACK.
for (const model of [V3, V2_LITE]) {
  for (const lin of projections(model)) {
    const { N, K } = lin;
    const w = randomMatrix(N, K, N * 31 + K);
    const wT = transpose(w, N, K); // both peers take B = W^T [K, N] (XNNPACK only without transposes)
    const peer = new TfjsLinear(wT, N, K);
    const ort = await OrtLinear.create(wT, K, N);
    const packed = {} as Record<Isa, number>;
    for (const isa of isas) packed[isa] = corePack(cores[isa], w, N, K);
    for (const M of [...PREFILL_M, 1]) {
      const x = randomVector(M * K, M + K);
      const decode = M === 1;
      const before = decode ? flush : undefined; // decode: weights come from DRAM, as in a real step
      const p = decode ? dramPlan : plan;
      peer.setInput(x, M);
      const peerCheck = checkLinear(peer.output(), x, w, M, N, K);
      assertOk(`tfjs ${lin.name} M=${M}`, peerCheck);
      const tp = timeIt(`tfjs ${lin.name} ${M}`, () => peer.run(), p, before);
      const flop = 2 * M * N * K, bytes = 4 * (N * K + M * K + M * N);
      const peerFig = { impl: "tfjs-wasm (XNNPACK)", ms: tp.medianMs, gflops: flop / (tp.medianMs * 1e6), gbs: bytes / (tp.medianMs * 1e6) };
      ort.setInput(x, M);
      const ortCheck = checkLinear(await ort.run(), x, w, M, N, K);
      assertOk(`onnxruntime-web ${lin.name} M=${M}`, ortCheck);
      const to = await timeItAsync(`ort ${lin.name} ${M}`, () => ort.run(), p, before);
      const peer2 = { impl: "onnxruntime-web (wasm, 1 thread)", ms: to.medianMs, gflops: flop / (to.medianMs * 1e6), gbs: bytes / (to.medianMs * 1e6) };
      for (const isa of isas) {
        const wBytes = cores[isa].ex.packed_size_8(N, K) * 4;
        let bwGBs = decode ? readers[isa](packed[isa], wBytes) : undefined;
        const kc = coreLinearOn(cores[isa], packed[isa], x, M, N, K);
        kc.run();
        const chk = checkLinear(kc.output(), x, w, M, N, K);
        assertOk(`core ${lin.name} M=${M} ${isa}`, chk);
        const t = timeIt(`core ${lin.name} ${M} ${isa}`, kc.run, p, before);
        if (decode) bwGBs = Math.max(bwGBs!, readers[isa](packed[isa], wBytes)); // drifts: before and after, keep the better
        push(makeFigure(probe, {
          group: decode ? "gemv" : "gemm", model: model.model, what: `${lin.name} ${N}x${K}, M=${M}`, impl: decode ? "core gemv_1x8" : "core gemm_4x8", isa,
          ms: t.medianMs, flop, bytes, peer: peerFig, peer2, bound: decode ? "memory" : undefined, bwGBs,
          check: `spot max err/tol ${chk.worst.toFixed(3)}; XNNPACK ${peerCheck.worst.toFixed(3)}; onnxruntime-web ${ortCheck.worst.toFixed(3)}`,
        }));
      }
    }
    peer.dispose();
    await ort.dispose();
  }
}

// Decode attention at S cached tokens: absorbed (fused, latent cache, + W_UV) vs naive (K/V).
for (const model of [V3, V2_LITE]) {
  const { H, C, dr, dn, dv } = model;
  const scale = 1 / Math.sqrt(dn + dr);
  const wuv = randomMatrix(H * dv, C, 7);
  for (const S of DECODE_S) {
    const q = randomVector(H * (C + dr), S + 1, 0.2), kv = randomVector(S * C, S + 2), pe = randomVector(S * dr, S + 3);
    const heads = [0, 5, H - 1];
    // Naive first (its cache is the biggest allocation), best build only: it is memory-bound.
    const naive = naiveDecode(cores[best], model, S, scale, heads);
    for (const isa of isas) {
      const kc = coreAbsorbedCase(cores[isa], q, kv, pe, wuv, H, S, C, dr, dn, dv, scale);
      kc.run();
      const lat64 = absorbedAttention64(q, kv, pe, H, S, C, dr, scale, heads);
      const chk = checkCalDiff(pickRows(kc.latent(), C, heads), lat64, "o_lat");
      assertOk(`core absorbed ${model.model} S=${S} ${isa}`, chk);
      const o64 = new Float64Array(heads.length * dv);
      heads.forEach((h, i) => {
        for (let d = 0; d < dv; d++) {
          let a = 0;
          for (let c = 0; c < C; c++) a += lat64[i * C + c] * wuv[(h * dv + d) * C + c];
          o64[i * dv + d] = a;
        }
      });
      const chkO = checkCalDiff(pickRows(kc.output(), dv, heads), o64, "o");
      assertOk(`core absorbed ${model.model} S=${S} ${isa} (o)`, chkO);
      const t = timeIt(`absorbed ${model.model} ${S} ${isa}`, kc.run, dramPlan, flush);
      push(makeFigure(probe, {
        group: "attn-absorbed", model: model.model, what: `H=${H} S=${S}`, impl: "core attn_absorbed_paged (f32 pool)", isa,
        ms: t.medianMs, flop: 2 * H * S * (2 * C + dr) + 2 * H * dv * C, bytes: 4 * (S * (C + dr) + H * dv * C),
        peer: { impl: "naive decode (core)", ms: naive.ms, gflops: naive.gflops, gbs: naive.gbs },
        check: `${chk.detail}; ${chkO.detail}`, note: "includes o = o_lat W_UV^T per head",
      }));
    }
    figures.push(naive);
    log(`attn-naive ${model.model} S=${S}: ${naive.ms.toFixed(2)} ms, ${naive.gbs.toFixed(1)} GB/s (${naive.pctBw.toFixed(0)}% BW)`);
  }
}

/** Naive decode over a decompressed K/V cache written straight into wasm memory (V3 S=16k is 2.7 GB). */
function naiveDecode(c: CoreModule, model: ModelShape, S: number, scale: number, heads: number[]): Figure {
  const { H, dn, dr, dv } = model, qk = dn + dr;
  const a = c.arena;
  a.reset();
  const kp = a.alloc(S * H * qk * 4), vp = a.alloc(S * H * dv * 4), qp = a.alloc(H * qk * 4), o = a.alloc(H * dv * 4);
  const scratch = a.alloc(c.ex.attend_scratch_floats(H) * 4); // naive decode: scores [H, KB] + m, l, alpha [H]
  fillUniform(a.f32(kp, S * H * qk), S + 11);
  fillUniform(a.f32(vp, S * H * dv), S + 12);
  fillUniform(a.f32(qp, H * qk), S + 13, 0.2);
  a.f32(o, H * dv).fill(NaN);
  const f = c.ex.attn_decode_naive;
  const run = () => void f(H, qk, dv, S - 1, qp, kp, vp, scale, o, scratch);
  run();
  const chk = checkCalDiff(pickRows(a.f32(o, H * dv), dv, heads), naiveAttention64(a.f32(qp, H * qk), a.f32(kp, S * H * qk), a.f32(vp, S * H * dv), H, S, qk, dv, scale, heads), "o");
  assertOk(`core naive ${model.model} S=${S}`, chk);
  const cacheBytes = vp + S * H * dv * 4 - kp; // K then V, adjacent in the arena
  const bwGBs = readers[c.isa](kp, cacheBytes);
  const t = timeIt(`naive ${model.model} ${S}`, run, dramPlan, flush);
  const bwAfter = readers[c.isa](kp, cacheBytes);
  a.reset();
  return makeFigure(probe, {
    group: "attn-naive", model: model.model, what: `H=${H} S=${S}`, impl: "core attn_decode_naive", isa: c.isa,
    ms: t.medianMs, flop: 2 * H * S * (qk + dv), bytes: 4 * S * H * (qk + dv), check: chk.detail, bwGBs: Math.max(bwGBs, bwAfter),
  });
}

// Decode attention of the other paths (recompute, MHA, GQA, MQA, the seed's scheme), best build:
// the naive kernel above already gives the memory-bound side, these are the seed's claims.
const slowPlan = { ...plan, iterations: quick ? 1 : 3, time: 0, warmupIterations: 1 };
for (const f of await runPathAttention(probe, cores, best, dramPlan, slowPlan, flush, quick, log)) push(f);

// DeepSeek-V3.2's sparse decode against dense absorbed attention (bench/dsa.ts), both builds.
for (const f of await runDsaDecode(probe, isas, plan, quick, log)) push(f);

// Decode attention on 2 threads against 1 (bench/threads.ts), the threaded build that validates.
const threads = await runThreads(probe, plan, quick, log, flush);
for (const f of threads.figures) push(f);
for (const f of await runThreadedStep(probe, plan, quick, log)) push(f);

// Compressed projection weights against float32 weights (bench/weight-formats.ts), the best build.
const weightsRun = await runWeightFormats(probe, plan, dramPlan, flush, best, quick, log);
for (const f of weightsRun.figures) push(f);

// The whole absorbed decode step: the wasm layer against the float64 reference.
for (const f of await runDecodeStep(probe, plan, isas, quick, log)) push(f);

// Latent cache formats: the paged absorbed decode per format next to bytes/token and accuracy (bench/cache-formats.ts).
const cacheFormats = await runCacheFormats(cores, isas, dramPlan, flush, log);

// The probe again at the end: a limit is its fastest sample, and this shared machine's bandwidth
// drifts over a run (the report takes the run's fastest large read as its DRAM ceiling).
const probeEnd = await runProbe(plan);
log(`probe at the end: DRAM ${probeEnd.streamGBs.toFixed(1)} GB/s, peak ${probeEnd.peakRelaxedGflops?.toFixed(1)} (relaxed) GFLOP/s`);

const results: BenchResults = {
  schema: "mlakit-bench/1",
  date: new Date().toISOString(),
  mode: quick ? "quick" : "full",
  plan,
  machine: { node: process.version, cpu: cpus()[0]?.model ?? "?", cores: cpus().length, isas, tfjs: tfjsInfo(), ort: ortInfo(), source: sourceState(), loadavg: { start: loadAtStart, end: loadavg() } },
  probe: { ...probe, streamEndGBs: probeEnd.streamGBs, ...(threads.peak2over1 !== null && { threadsPeak2over1: threads.peak2over1, threadsBuild: threads.build }) },
  figures,
  targets: [],
  seconds: (performance.now() - t0) / 1000,
  weightFormats: weightsRun.memory,
  weightAccuracy: weightsRun.accuracy,
};
results.weightCost = weightCostRows(figures, results.probe, dramCeilingGBs(results), weightsRun.memory);
results.targets = evaluateTargets(results);
mkdirSync(rootPath("bench", "results"), { recursive: true });
writeFileSync(rootPath("bench", "results", "latest.json"), JSON.stringify({ ...results, cacheFormats }, null, 2) + "\n");
writeFileSync(rootPath("bench", "results", "latest.md"), toMarkdown(results) + cacheFormatsMarkdown(cacheFormats));
log(`wrote bench/results/latest.json and latest.md (${results.seconds.toFixed(0)} s)`);
for (const t of results.targets) log(`target ${t.met ? "MET   " : "MISSED"} ${t.target}: ${t.value}`);

