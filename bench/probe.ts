// The machine probe: SIMD peak FLOP/s (both builds) and read bandwidth (DRAM-streaming and
// L2-resident). Every other figure is reported as a fraction of these, measured in the same run.
import { readFileSync } from "node:fs";
import { availableIsas, instantiateFile, rootPath, type Isa } from "./lib/env.js";
import { timeIt, type TimingPlan } from "./lib/timing.js";

interface ProbeExports {
  memory: WebAssembly.Memory;
  scratch(bytes: number): number;
  peak(iters: number): number;
  read(ptr: number, bytes: number, reps: number): number;
  read4(ptr: number, bytes: number, reps: number): number;
  fill(ptr: number, n: number): void;
  relaxed(): number;
}

export interface ProbeResult {
  /**
   * GFLOP/s of 12 independent f32x4 acc*m+c chains (simd128 build). Each chain waits for mul then
   * add, so this is a latency-shaped bound: a GEMM's c += a*b keeps the mul off the chain and can
   * pass it (figures above 100% of this peak say so, they are not errors).
   */
  peakSimd128Gflops: number;
  /** GFLOP/s of 12 independent f32x4.relaxed_madd chains; null when the engine lacks relaxed SIMD. */
  peakRelaxedGflops: number | null;
  /** GB/s reading a 256 MiB buffer once with v128 loads from DRAM: the better of one and four streams. */
  streamGBs: number;
  /** The two forms separately. */
  stream1GBs?: number;
  stream4GBs?: number;
  /** GB/s reading a 256 KiB buffer repeatedly (L2-resident: lscpu reports 1 MiB of L2 per core here). */
  l2GBs: number;
}

export const STREAM_BYTES = 256 * 1024 * 1024;
export const L2_BYTES = 256 * 1024;
const PEAK_ITERS = 4_000_000; // 12 chains x 8 FLOP x 4M = 384 MFLOP, ~10 ms at 40 GFLOP/s
const PEAK_FLOP = 12 * 8 * PEAK_ITERS;

async function load(isa: Isa): Promise<ProbeExports> {
  return (await instantiateFile(`build/probe-${isa}.wasm`)).exports as unknown as ProbeExports;
}

/**
 * The probe measures ceilings, so it reports each limit's FASTEST sample (as STREAM does) over at
 * least 9 calls even under --quick (its calls take 2-15 ms): other processes on this shared
 * machine can only slow a sample down, never speed it up.
 */
export async function runProbe(runPlan: TimingPlan): Promise<ProbeResult> {
  const plan: TimingPlan = { ...runPlan, iterations: Math.max(9, runPlan.iterations), time: Math.min(runPlan.time, 300) };
  const isas = availableIsas();
  const simd = await load("simd128");
  const gflops = (m: ProbeExports, isa: Isa) => PEAK_FLOP / (timeIt(`peak ${isa}`, () => void m.peak(PEAK_ITERS), plan).minMs * 1e6);
  const peakSimd128Gflops = gflops(simd, "simd128");
  let peakRelaxedGflops: number | null = null;
  if (isas.includes("relaxed")) {
    const rel = await load("relaxed");
    if (rel.relaxed() !== 1) throw new Error("build/probe-relaxed.wasm was not built with relaxed-simd");
    peakRelaxedGflops = gflops(rel, "relaxed");
  }
  // Bandwidth: its own instance, so the 256 MiB stays out of the peak instances.
  const bw = await load("simd128");
  const ptr = bw.scratch(STREAM_BYTES);
  bw.fill(ptr, STREAM_BYTES / 4);
  // The sum is checked so a broken read loop cannot report a fantasy bandwidth.
  const want = (STREAM_BYTES / 4 / 8) * (0 + 1 + 2 + 3 + 4 + 5 + 6 + 7) * 0.125;
  for (const got of [bw.read(ptr, STREAM_BYTES, 1), bw.read4(ptr, STREAM_BYTES, 1)])
    if (Math.abs(got - want) > 1e-3 * want) throw new Error(`probe read sum ${got}, expected ${want}`);
  // Each timed read starts with the L3 (32 MiB here) holding other data, as a decode step's
  // weights would: without it the buffer's last 32 MiB come from L3 and inflate the figure.
  const flush = await makeL3Flusher();
  const dram = { ...plan, time: 0 };
  const stream1GBs = STREAM_BYTES / (timeIt("read 256 MiB", () => void bw.read(ptr, STREAM_BYTES, 1), dram, flush).minMs * 1e6);
  const stream4GBs = STREAM_BYTES / (timeIt("read 256 MiB, 4 streams", () => void bw.read4(ptr, STREAM_BYTES, 1), dram, flush).minMs * 1e6);
  const streamGBs = Math.max(stream1GBs, stream4GBs);
  const reps = 512; // 128 MiB per call from a 256 KiB buffer
  const l2GBs = (L2_BYTES * reps) / (timeIt("read L2", () => void bw.read(ptr, L2_BYTES, reps), plan).minMs * 1e6);
  return { peakSimd128Gflops, peakRelaxedGflops, streamGBs, stream1GBs, stream4GBs, l2GBs };
}

/** Bytes read to evict the last-level cache: 2x the 32 MiB L3 lscpu reports here. */
export const FLUSH_BYTES = 64 * 1024 * 1024;

/** A function that reads FLUSH_BYTES of unrelated memory (its own wasm instance) to evict L3. */
export async function makeL3Flusher(): Promise<() => void> {
  const m = await load("simd128");
  const p = m.scratch(FLUSH_BYTES);
  m.fill(p, FLUSH_BYTES / 4);
  return () => void m.read(p, FLUSH_BYTES, 1);
}

/**
 * Bandwidth of reading [ptr, ptr + bytes) of `memory` (another instance's, e.g. a kernel's packed
 * weights) with the probe's own loops: the better of one and four streams, best sample, L3
 * evicted first. Measured next to a memory-bound figure, it is that figure's denominator: on this
 * VM the same read loop gets 22-29 GB/s depending on WHICH buffer it reads (physical placement).
 */
export async function makeBufferReader(memory: WebAssembly.Memory, plan: TimingPlan): Promise<(ptr: number, bytes: number) => number> {
  const { instance } = await WebAssembly.instantiate(readFileSync(rootPath("build", "probe-import-simd128.wasm")), {
    env: { memory, abort: () => { throw new Error("probe-import abort"); } },
  });
  const m = instance.exports as unknown as ProbeExports;
  const flush = await makeL3Flusher();
  const p = { ...plan, time: 0, iterations: Math.max(3, Math.min(plan.iterations, 5)) };
  return (ptr, bytes) => {
    const n = Math.floor(bytes / 256) * 256;
    const one = n / (timeIt("buffer read 1", () => void m.read(ptr, n, 1), p, flush).minMs * 1e6);
    const four = n / (timeIt("buffer read 4", () => void m.read4(ptr, n, 1), p, flush).minMs * 1e6);
    return Math.max(one, four);
  };
}
