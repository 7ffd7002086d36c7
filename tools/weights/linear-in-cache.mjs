#!/usr/bin/env node
// What the compressed projections' instructions allow, with no DRAM in the way: y = x W^T for a
// weight small enough to stay in L2/L3, per format and build, as multiply-adds per nanosecond and
// as the share of the float32 kernel's rate. M = 1 is the decode GEMV, M > 1 the prefill GEMM.
// A timing tool, not a test.
//   npm run build && node tools/weights/linear-in-cache.mjs [M N K]

import { WasmKernels } from "../../dist/wasm/kernels.js";
import { loadCoreNode } from "../../dist/wasm/node.js";
import { quantiseWeight } from "../../dist/weight-formats.js";

const M = Number(process.argv[2] ?? 1), N = Number(process.argv[3] ?? 1024), K = Number(process.argv[4] ?? 512);
const median = (a) => a.sort((x, y) => x - y)[a.length >> 1];
function ms(f) {
  for (let i = 0; i < 20; i++) f();
  const samples = [];
  for (let r = 0; r < 31; r++) {
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) f();
    samples.push((performance.now() - t0) / 20);
  }
  return median(samples);
}
let seed = 7;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const src = Float32Array.from({ length: N * K }, () => rand() * 0.05);
const xs = Float32Array.from({ length: M * K }, rand);
for (const build of ["simd128", "relaxed"]) {
  const k = await WasmKernels.create(await loadCoreNode(build));
  const x = k.alloc(M * K, xs), y = k.alloc(M * N);
  let base = 0;
  const row = [];
  for (const format of ["f32", "bf16", "int8", "fp8"]) {
    const w = format === "f32" ? k.packNK(src, N, K) : k.packQuantised({ w: quantiseWeight(format, src, [N, K]), N, K, r0: 0, c0: 0, kn: false });
    const t = ms(() => k.linear(M, x, w, y));
    if (format === "f32") base = t;
    row.push(`${format} ${((M * N * K) / (t * 1e6)).toFixed(2)} madd/ns (x${(base / t).toFixed(2)})`);
  }
  console.log(`${build} M=${M} ${N}x${K} in cache: ${row.join(", ")}`);
}
