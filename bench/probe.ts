// The machine probe of the benchmarks: src/probe (the same code `mlakit probe` runs, in the WASM
// core's build/mla-{simd128,relaxed}.wasm) timed by the bench's harness, so every figure of a run
// is a fraction of limits measured in that run. Plus the bench's own helpers around it: an L3
// flusher and a reader of another instance's buffer.
import { readFileSync } from "node:fs";
import { type ProbeResult as CoreProbeResult, FLUSH_BYTES, type Sampler, makeFlusher, runProbe as runCoreProbe } from "../src/probe/probe.js";
import { availableIsas, rootPath, type Isa } from "./lib/env.js";
import { timeIt, type TimingPlan } from "./lib/timing.js";

export { STREAM_BYTES, L2_BYTES, FLUSH_BYTES } from "../src/probe/probe.js";

/** The probe's figures as the bench records them (src/probe/probe.ts documents each). */
export type ProbeResult = Omit<CoreProbeResult, "peakGflops" | "samples" | "seconds" | "stream1GBs" | "stream4GBs" | "stream8GBs"> & Partial<Pick<CoreProbeResult, "stream1GBs" | "stream4GBs" | "stream8GBs">> & {
  /** The streaming read measured again at the end of the run (the bench probes twice). */
  streamEndGBs?: number;
};

function core(isa: Isa): WebAssembly.Module {
  const p = rootPath("build", `mla-${isa}.wasm`);
  try {
    return new WebAssembly.Module(readFileSync(p));
  } catch (e) {
    throw new Error(`${p}: ${(e as Error).message} (run \`npm run bench:build\` first)`);
  }
}

/** The bench's harness as the probe's timer: its plan's warm-up, at least minSamples calls and budgetMs, the fastest. */
function sampler(plan: TimingPlan): Sampler {
  return (label, fn, { minSamples, budgetMs, before }) => timeIt(label, fn, { ...plan, iterations: minSamples, time: budgetMs }, before).minMs;
}

/**
 * The probe measures ceilings, so it reports each limit's FASTEST sample (as STREAM does) over at
 * least 9 calls even under --quick (its calls take 2-15 ms): other processes on this shared
 * machine can only slow a sample down, never speed it up.
 */
export async function runProbe(plan: TimingPlan): Promise<ProbeResult> {
  const relaxed = availableIsas().includes("relaxed") ? core("relaxed") : undefined;
  const { peakGflops: _p, samples: _s, seconds: _t, ...r } = await runCoreProbe({ cores: { simd128: core("simd128"), relaxed }, samples: Math.max(9, plan.iterations), budgetMs: Math.min(plan.time, 300), sample: sampler(plan) });
  return r;
}

/** A function that reads FLUSH_BYTES (2x the 32 MiB L3 lscpu reports here) of unrelated memory to evict L3. */
export async function makeL3Flusher(): Promise<() => void> {
  return makeFlusher(core("simd128"), FLUSH_BYTES);
}

interface ReadExports {
  read(ptr: number, bytes: number, reps: number): number;
  read4(ptr: number, bytes: number, reps: number): number;
  read8(ptr: number, bytes: number, reps: number): number;
}

/**
 * Bandwidth of reading [ptr, ptr + bytes) of `memory` (another instance's, e.g. a kernel's packed
 * weights) with the probe's own loops: the best of one, four and eight streams, best sample, L3
 * evicted first. Measured next to a memory-bound figure, it is that figure's denominator: on this
 * VM the same read loop gets 22-29 GB/s depending on WHICH buffer it reads (physical placement).
 */
export async function makeBufferReader(memory: WebAssembly.Memory, plan: TimingPlan): Promise<(ptr: number, bytes: number) => number> {
  const { instance } = await WebAssembly.instantiate(readFileSync(rootPath("build", "probe-import-simd128.wasm")), {
    env: { memory, abort: () => { throw new Error("probe-import abort"); } },
  });
  const m = instance.exports as unknown as ReadExports;
  const flush = await makeL3Flusher();
  const p = { ...plan, time: 0, iterations: Math.max(3, Math.min(plan.iterations, 5)) };
  return (ptr, bytes) => {
    const n = Math.floor(bytes / 512) * 512;
    const one = n / (timeIt("buffer read 1", () => void m.read(ptr, n, 1), p, flush).minMs * 1e6);
    const four = n / (timeIt("buffer read 4", () => void m.read4(ptr, n, 1), p, flush).minMs * 1e6);
    const eight = n / (timeIt("buffer read 8", () => void m.read8(ptr, n, 1), p, flush).minMs * 1e6);
    return Math.max(one, four, eight);
  };
}
