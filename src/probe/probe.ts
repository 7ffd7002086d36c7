// The machine probe: this machine's SIMD peak FLOP/s and streaming read bandwidth, the limits the
// cost model's roofline and every benchmark figure are a fraction of. Browser-safe: it takes the
// compiled WASM core (whose probe_* exports are assembly/probe.ts) and times with performance.now;
// src/probe/node.ts loads the package's builds. Each limit is its FASTEST sample (as STREAM
// reports its best time): other processes on a shared machine can only slow a sample down.

/** The core's probe exports (assembly/probe.ts through assembly/index.ts). */
interface ProbeExports {
  memory: WebAssembly.Memory;
  probe_scratch(bytes: number): number;
  probe_peak(iters: number): number;
  probe_read(ptr: number, bytes: number, reps: number): number;
  probe_read4(ptr: number, bytes: number, reps: number): number;
  probe_read8(ptr: number, bytes: number, reps: number): number;
  probe_fill(ptr: number, n: number): void;
  probe_relaxed(): number;
}

export interface ProbeResult {
  /** The best build's peak (relaxed FMA when measured, else simd128): the roofline's compute limit. */
  peakGflops: number;
  /**
   * GFLOP/s of 12 independent f32x4 acc*m+c chains (simd128 build). Each chain waits for mul then
   * add, so this is a latency-shaped bound: a GEMM's c += a*b keeps the mul off the chain and can
   * pass it (figures above 100% of this peak say so, they are not errors).
   */
  peakSimd128Gflops: number;
  /** The same with f32x4.relaxed_madd (FMA); null when not measured (the runtime lacks relaxed SIMD, or simd128 was asked for). */
  peakRelaxedGflops: number | null;
  /** GB/s reading a streamBytes buffer once with v128 loads from DRAM: the best of one, four and eight streams (the naive decode walks K and V four streams each). */
  streamGBs: number;
  stream1GBs: number;
  stream4GBs: number;
  stream8GBs: number;
  /** GB/s reading a 256 KiB buffer repeatedly (L2-resident on current x86 and ARM cores). */
  l2GBs: number;
  /** Timed calls per figure (at least). */
  samples: number;
  /** Wall time of the whole probe. */
  seconds: number;
}

/** Times fn (synchronous) at least `minSamples` times and for at least `budgetMs`; returns the fastest call in ms. `before` runs untimed before each call. */
export type Sampler = (label: string, fn: () => void, plan: { minSamples: number; budgetMs: number; before?: () => void }) => number;

export interface ProbeProgress {
  /** What is being measured, e.g. "peak FLOP/s (relaxed)". */
  stage: string;
  /** Stages done before this one, and how many there are. */
  index: number;
  total: number;
}

export interface ProbeOptions {
  /** The compiled core: simd128 always; relaxed to measure FMA too. */
  cores: { simd128: WebAssembly.Module; relaxed?: WebAssembly.Module };
  /** Minimum timed calls per figure (default 9: the probe's calls take 2-25 ms). */
  samples?: number;
  /** Minimum time per compute or cache figure in ms (default 300; the DRAM reads take `samples` calls only). */
  budgetMs?: number;
  /** Bytes streamed from DRAM per call (default 256 MiB: far above any last-level cache). */
  streamBytes?: number;
  /** Bytes read before each DRAM sample to evict the last-level cache (default 64 MiB). */
  flushBytes?: number;
  onProgress?: (p: ProbeProgress) => void;
  /** The timer (default: performance.now, one warm-up call); the benchmarks pass their harness's. */
  sample?: Sampler;
}

export const STREAM_BYTES = 256 * 2 ** 20;
export const FLUSH_BYTES = 64 * 2 ** 20;
export const L2_BYTES = 256 * 2 ** 10;
const PEAK_ITERS = 4_000_000; // 12 chains x 8 FLOP x 4M = 384 MFLOP, ~10 ms at 40 GFLOP/s
const PEAK_FLOP = 12 * 8 * PEAK_ITERS;
const L2_REPS = 512; // 128 MiB per call from a 256 KiB buffer

/** One warm-up call, then calls until both minimums are met; the fastest. */
export const defaultSampler: Sampler = (_label, fn, { minSamples, budgetMs, before }) => {
  before?.();
  fn();
  let best = Infinity, n = 0;
  const t0 = performance.now();
  while (n < minSamples || performance.now() - t0 < budgetMs) {
    before?.();
    const t = performance.now();
    fn();
    best = Math.min(best, performance.now() - t);
    n++;
  }
  return best;
};

async function instance(m: WebAssembly.Module): Promise<ProbeExports> {
  const ex = (await WebAssembly.instantiate(m, {})).exports as unknown as ProbeExports;
  if (typeof ex.probe_peak !== "function") throw new Error("this WASM core has no probe_* exports (built before the probe joined the core)");
  return ex;
}

/** Measure this machine. Takes about 2 s with the defaults. */
export async function runProbe(o: ProbeOptions): Promise<ProbeResult> {
  const t0 = performance.now();
  const samples = o.samples ?? 9, budgetMs = o.budgetMs ?? 300;
  const streamBytes = o.streamBytes ?? STREAM_BYTES, flushBytes = o.flushBytes ?? FLUSH_BYTES;
  if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`samples = ${samples}: expected an integer >= 1`);
  if (streamBytes % 512 !== 0 || streamBytes < L2_BYTES) throw new RangeError(`streamBytes = ${streamBytes}: expected a multiple of 512, >= ${L2_BYTES}`);
  const sample = o.sample ?? defaultSampler;
  const stages = ["peak FLOP/s (simd128)", ...(o.cores.relaxed ? ["peak FLOP/s (relaxed)"] : []), `streaming read of ${streamBytes / 2 ** 20} MiB`, "L2-resident read"];
  let index = 0;
  const stage = () => o.onProgress?.({ stage: stages[index], index: index++, total: stages.length });
  const plan = { minSamples: samples, budgetMs };

  const gflops = (m: ProbeExports, label: string) => PEAK_FLOP / (sample(label, () => void m.probe_peak(PEAK_ITERS), plan) * 1e6);
  stage();
  const peakSimd128Gflops = gflops(await instance(o.cores.simd128), "peak simd128");
  let peakRelaxedGflops: number | null = null;
  if (o.cores.relaxed) {
    stage();
    const rel = await instance(o.cores.relaxed);
    if (rel.probe_relaxed() !== 1) throw new Error("the relaxed core was not built with relaxed-simd");
    peakRelaxedGflops = gflops(rel, "peak relaxed");
  }

  // Bandwidth: its own instance, so the big buffer stays out of the peak instances.
  stage();
  const bw = await instance(o.cores.simd128);
  const ptr = bw.probe_scratch(streamBytes);
  bw.probe_fill(ptr, streamBytes / 4);
  // The sum is checked so a broken read loop cannot report a fantasy bandwidth.
  const want = (streamBytes / 4 / 8) * (0 + 1 + 2 + 3 + 4 + 5 + 6 + 7) * 0.125;
  for (const got of [bw.probe_read(ptr, streamBytes, 1), bw.probe_read4(ptr, streamBytes, 1), bw.probe_read8(ptr, streamBytes, 1)])
    if (Math.abs(got - want) > 1e-3 * want) throw new Error(`probe read sum ${got}, expected ${want}`);
  // Each timed read starts with the last-level cache holding other data, as a decode step's
  // weights would: without it the buffer's tail comes from L3 and inflates the figure.
  const flush = await makeFlusher(o.cores.simd128, flushBytes);
  const dram = { minSamples: samples, budgetMs: 0, before: flush };
  const stream1GBs = streamBytes / (sample("read 1 stream", () => void bw.probe_read(ptr, streamBytes, 1), dram) * 1e6);
  const stream4GBs = streamBytes / (sample("read 4 streams", () => void bw.probe_read4(ptr, streamBytes, 1), dram) * 1e6);
  const stream8GBs = streamBytes / (sample("read 8 streams", () => void bw.probe_read8(ptr, streamBytes, 1), dram) * 1e6);
  stage();
  const l2GBs = (L2_BYTES * L2_REPS) / (sample("read L2", () => void bw.probe_read(ptr, L2_BYTES, L2_REPS), plan) * 1e6);
  const peakGflops = Math.max(peakSimd128Gflops, peakRelaxedGflops ?? 0);
  return { peakGflops, peakSimd128Gflops, peakRelaxedGflops, streamGBs: Math.max(stream1GBs, stream4GBs, stream8GBs), stream1GBs, stream4GBs, stream8GBs, l2GBs, samples, seconds: (performance.now() - t0) / 1000 };
}

/** A function that reads `bytes` of unrelated memory (its own instance) to evict the last-level cache. */
export async function makeFlusher(core: WebAssembly.Module, bytes = FLUSH_BYTES): Promise<() => void> {
  const m = await instance(core);
  const p = m.probe_scratch(bytes);
  m.probe_fill(p, bytes / 4);
  return () => void m.probe_read(p, bytes, 1);
}
