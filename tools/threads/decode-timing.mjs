#!/usr/bin/env node
// Times absorbed decode attention (the kernel API's attn_mla_decode: one token, H = 128 heads over a
// paged f32 latent cache of C = 512 + dr = 64 floats per token) on 1 and on 2 threads of the
// thread pool (split-KV: 64-aligned key ranges, all heads per thread, the core's combine), at
// S = 1k, 4k and 16k cached tokens, in one run, and prints the ratios. A timing tool, not a test.
// Samples alternate 1 thread, 2 threads (the same pool, build and memory) after a warm-up of at
// least 1.5 s (V8 first runs the module's Liftoff code, 2-3x slower, until TurboFan's code
// arrives); each figure is the median of the samples, the spread the min..max of the per-pair
// ratios (a neighbour on the other vCPU of a shared 2-core machine slows 2-thread samples most).
// Each sample is bracketed by a short peak probe (below); the last column keeps only the pairs
// taken while the machine had both vCPUs. "half" is one thread over the first S/2 keys: what each thread of the 2-thread run has to do, so
// half / (2 threads) says how much of the ideal split the pool delivers (1.00 = no overhead).
//
//   npm run build:ts && node tools/threads/decode-timing.mjs [--reps 9] [--build relaxed-threads|simd128-threads]

import { ThreadPool } from "../../dist/wasm/threads/index.js";
import { loadThreadedCoreNode, nodeSpawner } from "../../dist/wasm/threads/node.js";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const REPS = Number(arg("reps", 9));
const H = 128, C = 512, dr = 64, W = C + dr, KB = 64;
const SIZES = [1024, 4096, 16384];

const core = await loadThreadedCoreNode(arg("build", "auto"));
const pool = await ThreadPool.create({ threads: 2, core, spawn: nodeSpawner() });
const k = pool.kernels;

// The machine's own 2-thread ceiling at the moment of each sample: the core's FMA peak kernel
// (probe_peak: 12 chains in registers, no memory) on the caller alone, then on both threads at
// once. On a shared VM the second vCPU is sometimes not there (the host runs someone else on it):
// then this ratio drops to ~1 and so does every 2-thread figure taken at that moment.
const ITERS = 2_000_000;
const peakRatio = () => {
  const t = (n) => {
    const t0 = performance.now();
    pool.run(Array.from({ length: n }, () => ["probe_peak", [ITERS]]));
    return performance.now() - t0;
  };
  const one = t(1), two = t(2);
  return (2 * one) / two;
};

let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(`absorbed decode attention, H=${H} C=${C} dr=${dr}, f32 cache, 1 token; build ${core.variant}; ${REPS} samples each; node ${process.version}`);
console.log("S       1 thread ms  GFLOP/s   2 threads ms  GFLOP/s   ratio (medians)  per-pair ratio min..max   half ms  half / 2 threads   FMA-peak 2/1 median   pairs with peak >= 1.7: n, median ratio");
for (const S of SIZES) {
  const nb = Math.ceil(S / KB);
  const pool_ = k.alloc(nb * KB * W);
  { const v = pool_.view(); for (let i = 0; i < v.length; i++) v[i] = rand(); }
  const blocks = Int32Array.from({ length: nb }, (_, i) => i);
  const table = k.alloc(nb);
  const q = k.alloc(H * W);
  { const v = q.view(); for (let i = 0; i < v.length; i++) v[i] = rand() * 0.1; }
  const o = k.alloc(H * C), lse = k.alloc(H);
  const a = { format: "f32", sq: 1, H, C, dr, len: S, q, pool: { ptr: pool_.ptr, bytes: nb * KB * W * 4 }, blocks, table, scale: 1 / Math.sqrt(W), o, lse };
  const time = (threads) => {
    const t0 = performance.now();
    pool.attnMlaDecodeSplit(a, { threads });
    return performance.now() - t0;
  };
  const half = { ...a, len: S / 2 };
  const timeHalf = () => {
    const t0 = performance.now();
    pool.attnMlaDecodeSplit(half, { threads: 1 });
    return performance.now() - t0;
  };
  for (const t0 = performance.now(); performance.now() - t0 < 1500; ) (time(1), time(2), timeHalf()); // warm-up
  const t1 = [], t2 = [], th = [], pair = [], pk = [];
  for (let r = 0; r < REPS; r++) {
    const before = peakRatio();
    const x = time(1), y = time(2), h = timeHalf();
    const after = peakRatio();
    t1.push(x); t2.push(y); pair.push(x / y); th.push(h); pk.push(Math.min(before, after));
  }
  const free = pair.filter((_, r) => pk[r] >= 1.7); // samples with both vCPUs there before and after
  const flop = 2 * H * S * (W + C);
  const m1 = median(t1), m2 = median(t2), mh = median(th);
  console.log(`${String(S).padEnd(7)} ${m1.toFixed(2).padStart(11)}  ${(flop / m1 / 1e6).toFixed(1).padStart(7)}   ${m2.toFixed(2).padStart(12)}  ${(flop / m2 / 1e6).toFixed(1).padStart(7)}   ${(m1 / m2).toFixed(2).padStart(15)}  ${(Math.min(...pair).toFixed(2) + ".." + Math.max(...pair).toFixed(2)).padStart(23)}   ${mh.toFixed(2).padStart(7)}  ${(mh / m2).toFixed(2).padStart(16)}   ${median(pk).toFixed(2).padStart(19)}   ${String(free.length).padStart(2)}, ${free.length ? median(free).toFixed(2) : "-"}`);
  for (const b of [pool_, table, q, o, lse]) b.free();
}
await pool.terminate();
