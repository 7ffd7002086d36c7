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
export async function timeItAsync(name: string, fn: () => Promise<unknown>, plan: TimingPlan, before?: () => void): Promise<Timing> {
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
