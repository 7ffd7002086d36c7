#!/usr/bin/env node
// What a split costs and what a thread's work is worth, the two numbers behind the pool's split
// rule (MIN_WORK_PER_THREAD in src/wasm/threads/pool.ts). A timing tool, not a test.
//   - a step of tiny calls on 1 thread and on 2 (the difference is the step's cost), with the
//     worker spinning between steps (steps back to back, as a layer's calls follow each other)
//     and with it asleep (a pause longer than the spin before each step);
//   - one thread's GEMV (y = W x, the decode projection) per weight float at several K.
//   npm run build:ts && node tools/threads/split-overhead.mjs

import { MIN_WORK_PER_THREAD, ThreadPool } from "../../dist/wasm/threads/index.js";
import { loadThreadedCoreNode, nodeSpawner } from "../../dist/wasm/threads/node.js";

const pool = await ThreadPool.create({ threads: 2, core: await loadThreadedCoreNode("auto"), spawn: nodeSpawner(), minWorkPerThread: 0 });
const k = pool.kernels;
const median = (a) => a.sort((x, y) => x - y)[a.length >> 1];
/** Median over 15 samples of the mean of `reps` calls, in microseconds. */
function us(f, reps, pauseMs = 0) {
  for (let i = 0; i < Math.min(reps, 200); i++) f();
  const samples = [];
  for (let r = 0; r < 15; r++) {
    let total = 0;
    for (let i = 0; i < reps; i++) {
      if (pauseMs > 0) {
        const until = performance.now() + pauseMs;
        while (performance.now() < until);
      }
      const t0 = performance.now();
      f();
      total += performance.now() - t0;
    }
    samples.push((total / reps) * 1000);
  }
  return median(samples);
}

const src = k.alloc(8, [1, 2, 3, 4, 5, 6, 7, 8]), lse = k.alloc(1, [0.5]), o = k.alloc(8), l = k.alloc(1);
const tiny = ["attn_mla_combine", [1, 1, 1, 8, src.ptr, 8, lse.ptr, 1, o.ptr, l.ptr]];
const one = us(() => pool.run([tiny]), 2000), warm = us(() => pool.run([tiny, tiny]), 2000), cold = us(() => pool.run([tiny, tiny]), 50, 3);
console.log(`step of tiny calls: 1 thread ${one.toFixed(2)} us; 2 threads ${warm.toFixed(2)} us (worker spinning), ${cold.toFixed(2)} us (worker asleep)`);
console.log(`  a split costs ~${(warm - one).toFixed(1)} us back to back, ~${(cold - one).toFixed(1)} us after a pause`);
for (const K of [512, 2048, 7168, 16384]) {
  const N = 512, w = k.packNK(new Float32Array(N * K).fill(0.01), N, K), x = k.alloc(K).fill(1), y = k.alloc(N);
  const t1 = us(() => k.linear(1, x, w, y), 50), t2 = us(() => pool.linearSplit(1, x, w, y, {}, 2), 50);
  console.log(`GEMV N ${N} K ${K}: 1 thread ${t1.toFixed(1)} us = ${((t1 * 1000) / (N * K)).toFixed(3)} ns per weight float; 2 threads ${t2.toFixed(1)} us (x${(t1 / t2).toFixed(2)})`);
  w.buf.free(), x.free(), y.free();
}
console.log(`MIN_WORK_PER_THREAD = ${MIN_WORK_PER_THREAD} floats`);
await pool.terminate();
