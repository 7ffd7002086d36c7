// One timing harness for every figure: tinybench 6, synchronous tasks, medians.
import { Bench } from "tinybench";

export interface TimingPlan {
  /** Minimum timed iterations per task. */
  iterations: number;
  /** Time budget per task in ms (iterations stop when both limits are reached). */
  time: number;
  warmupIterations: number;
  warmupTime: number;
}

/** --quick: every figure once, after one warm-up call (JIT tiers, page faults, caches). */
export const QUICK: TimingPlan = { iterations: 1, time: 0, warmupIterations: 1, warmupTime: 0 };
export const FULL: TimingPlan = { iterations: 7, time: 1500, warmupIterations: 2, warmupTime: 200 };

export interface Timing {
  /** Median latency of one call, ms. */
  medianMs: number;
  /** Median absolute deviation, ms. */
  madMs: number;
  /** Fastest sample, ms (the probe's ceilings use it, as STREAM reports its best time). */
  minMs: number;
  samples: number;
}

/**
 * Median time of fn() under the plan; fn must be synchronous. `before` runs before every call
 * outside the timed region (e.g. evicting the L3 so weights come from DRAM).
 */
export function timeIt(name: string, fn: () => void, plan: TimingPlan, before?: () => void): Timing {
  const bench = new Bench({
    iterations: plan.iterations,
    time: plan.time,
    warmup: plan.warmupIterations > 0,
    warmupIterations: plan.warmupIterations,
    warmupTime: plan.warmupTime,
    throws: true,
  });
  bench.add(name, fn, before ? { beforeEach: before } : undefined);
  const [task] = bench.runSync();
  const r = task.result;
  if (r.state !== "completed") throw new Error(`${name}: tinybench ended in state ${r.state}${"error" in r ? `: ${r.error}` : ""}`);
  return { medianMs: r.latency.p50, madMs: r.latency.mad, minMs: r.latency.min, samples: r.latency.samplesCount };
}

/** timeIt for an async fn (onnxruntime-web's session.run): the same plan and statistics. */
export async function timeItAsync(name: string, fn: () => Promise<unknown>, plan: TimingPlan, before?: () => void | Promise<void>): Promise<Timing> {
  const bench = new Bench({
    iterations: plan.iterations,
    time: plan.time,
    warmup: plan.warmupIterations > 0,
    warmupIterations: plan.warmupIterations,
    warmupTime: plan.warmupTime,
    throws: true,
  });
  bench.add(name, async () => void (await fn()), before ? { beforeEach: before } : undefined);
  const [task] = await bench.run();
  const r = task.result;
  if (r.state !== "completed") throw new Error(`${name}: tinybench ended in state ${r.state}${"error" in r ? `: ${r.error}` : ""}`);
  return { medianMs: r.latency.p50, madMs: r.latency.mad, minMs: r.latency.min, samples: r.latency.samplesCount };
}

/**
 * How much of the second core a 1-thread vs 2-thread comparison had. On this shared VM the second
 * vCPU is sometimes busy with another tenant (the hypervisor reports almost no steal time then, so
 * only a measurement shows it): the FMA-peak kernel on 2 threads over 1 runs before and after each
 * pair of samples, and a pair counts as "with both cores" when both readings are >= BOTH_CORES.
 */
export interface CoreShare {
  pairs: number;
  /** Median of the pairs' lower peak reading (2.0 = two whole cores). */
  peakMedian: number;
  withBoth: number;
  /** Median of one-thread / two-thread time over the pairs with both cores; null when there were none. */
  ratioWithBoth: number | null;
}

export const BOTH_CORES = 1.7;

export interface PairedTiming {
  one: Timing;
  two: Timing;
  cores: CoreShare;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function stats(xs: number[]): Timing {
  const m = median(xs);
  return { medianMs: m, madMs: median(xs.map((x) => Math.abs(x - m))), minMs: Math.min(...xs), samples: xs.length };
}

/** Calls per block so that one block of samples takes about this long: the probe is ~10 ms. */
const BLOCK_MS = 40;

/**
 * fnOne and fnTwo timed in alternating blocks (the same memory and code, the machine in the same
 * state), each block pair bracketed by `peak2over1()`; stops once there are plan.iterations pairs
 * and plan.time ms of timed calls per function. `before` runs untimed before every call; `now` is
 * the clock (tests pass a fake one).
 */
export function timePaired(name: string, fnOne: () => void, fnTwo: () => void, plan: TimingPlan, peak2over1: () => number, before?: () => void, now: () => number = () => performance.now()): PairedTiming {
  const timeOnce = (fn: () => void): number => {
    before?.();
    const t0 = now();
    fn();
    return now() - t0;
  };
  try {
    let warm = 0;
    for (let i = 0; i < plan.warmupIterations || warm < plan.warmupTime; i++) warm += timeOnce(fnOne) + timeOnce(fnTwo);
    const first = Math.max(timeOnce(fnOne), 1e-3);
    const perBlock = Math.max(1, Math.min(64, Math.round(BLOCK_MS / first)));
    const one: number[] = [], two: number[] = [], lows: number[] = [], cleanRatios: number[] = [];
    let spentOne = 0, spentTwo = 0, peakBefore = peak2over1();
    while (lows.length < Math.max(1, plan.iterations) || spentOne < plan.time || spentTwo < plan.time) {
      const a: number[] = [], b: number[] = [];
      for (let i = 0; i < perBlock; i++) a.push(timeOnce(fnOne));
      for (let i = 0; i < perBlock; i++) b.push(timeOnce(fnTwo));
      const peakAfter = peak2over1(), low = Math.min(peakBefore, peakAfter), r = median(a) / median(b);
      one.push(...a); two.push(...b); lows.push(low);
      if (low >= BOTH_CORES) cleanRatios.push(r);
      spentOne += a.reduce((s, x) => s + x, 0); spentTwo += b.reduce((s, x) => s + x, 0);
      peakBefore = peakAfter;
    }
    return { one: stats(one), two: stats(two), cores: { pairs: lows.length, peakMedian: median(lows), withBoth: cleanRatios.length, ratioWithBoth: cleanRatios.length ? median(cleanRatios) : null } };
  } catch (e) {
    throw new Error(`${name}: ${String(e)}`);
  }
}
