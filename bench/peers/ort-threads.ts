// The threaded peer, in a process of its own: onnxruntime-web's WASM backend with numThreads = N
// (its pthread build, on worker_threads in Node) running y = x W^T as one MatMul node. numThreads
// is fixed once per process when onnxruntime-web first loads, so bench/threads.ts starts this
// script once per thread count. Prints one JSON line: per shape, the median ms and an output check.
//   node build/bench-js/bench/peers/ort-threads.js <threads> '<[{"N":..,"K":..,"M":..,"seed":..}]>' <iterations> <timeMs>
import * as ort from "onnxruntime-web";
import { matMulModel } from "./ort.js";
import { fillUniform } from "../lib/data.js";

export interface OrtThreadsShape {
  N: number;
  K: number;
  M: number;
  seed: number;
}
export interface OrtThreadsResult {
  threads: number;
  version: string;
  shapes: { N: number; K: number; M: number; medianMs: number; samples: number; maxRelErr: number }[];
}

async function main(): Promise<void> {
  const [threadsArg, shapesArg, itArg, timeArg] = process.argv.slice(2);
  const threads = Number(threadsArg), shapes = JSON.parse(shapesArg) as OrtThreadsShape[], iterations = Number(itArg), timeMs = Number(timeArg);
  ort.env.wasm.numThreads = threads;
  const out: OrtThreadsResult = { threads, version: ort.env.versions.web ?? "?", shapes: [] };
  for (const s of shapes) {
    const wT = fillUniform(new Float32Array(s.K * s.N), s.seed, Math.sqrt(3 / s.K)); // W^T [K, N]
    const x = fillUniform(new Float32Array(s.M * s.K), s.seed + 1, 1);
    const session = await ort.InferenceSession.create(matMulModel(s.K, s.N, wT), { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
    const feeds = { A: new ort.Tensor("float32", x, [s.M, s.K]) };
    const run = async () => {
      const r = await session.run(feeds);
      const y = r.Y.data as Float32Array;
      r.Y.dispose();
      return y;
    };
    const y = await run();
    // a few outputs in float64 (row i, column j), relative to the row's scale
    let maxRelErr = 0;
    for (let c = 0; c < 8; c++) {
      const i = (c * 7) % s.M, j = (c * 977) % s.N;
      let acc = 0, mag = 0;
      for (let k = 0; k < s.K; k++) (acc += x[i * s.K + k] * wT[k * s.N + j]), (mag += Math.abs(x[i * s.K + k] * wT[k * s.N + j]));
      maxRelErr = Math.max(maxRelErr, Math.abs(y[i * s.N + j] - acc) / Math.max(mag, 1e-30));
    }
    for (let i = 0; i < 2; i++) await run();
    const t: number[] = [];
    const t0 = performance.now();
    while (t.length < iterations || (performance.now() - t0 < timeMs && t.length < 200)) {
      const a = performance.now();
      await run();
      t.push(performance.now() - a);
    }
    t.sort((a, b) => a - b);
    out.shapes.push({ N: s.N, K: s.K, M: s.M, medianMs: t[t.length >> 1], samples: t.length, maxRelErr });
    await session.release();
  }
  process.stdout.write(JSON.stringify(out) + "\n");
  process.exit(0); // the pthread workers would keep the process alive
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) void main().catch((e: unknown) => {
  process.stderr.write(String((e as Error)?.stack ?? e) + "\n");
  process.exit(1);
});
