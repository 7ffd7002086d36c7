// The paired 1-thread / 2-thread timer of the threads bench, on a fake clock: which pairs count as
// "with both cores", what the medians are, and that `before` runs before every timed call.
import { describe, expect, it } from "vitest";
import { timePaired } from "../../bench/lib/timing.js";

describe("timePaired", () => {
  it("medians each function's calls, and takes the pairs whose peak readings before and after are both >= 1.7 as the pairs with both cores", () => {
    let clock = 0, calls = 0, befores = 0;
    const now = () => clock;
    // one thread: 4 ms per call; two threads: 2 ms while both cores are there, 4 ms while not
    let shared = false;
    const one = () => void ((clock += 4), calls++);
    const two = () => void ((clock += shared ? 4 : 2), calls++);
    // readings around the pairs (after the first, one per pair): pairs 3 and 4 touch the 1.0 reading
    const readings = [2.0, 1.9, 1.8, 1.0, 1.95, 1.9, 1.85, 1.9, 2.0, 1.9, 1.9, 1.9];
    let r = 0;
    const peak = () => {
      const v = readings[Math.min(r++, readings.length - 1)];
      shared = v < 1.7; // the next pair runs in the state this reading saw
      return v;
    };
    const t = timePaired("fake", one, two, { iterations: 8, time: 0, warmupIterations: 1, warmupTime: 0 }, peak, () => void befores++, now);
    expect(t.cores.pairs).toBe(8);
    expect(befores).toBe(calls);
    // pair i is bracketed by readings i and i+1: pairs 2 (1.8, 1.0) and 3 (1.0, 1.95) are excluded
    expect(t.cores.withBoth).toBe(6);
    expect(t.cores.ratioWithBoth).toBe(2);
    expect(t.one.medianMs).toBe(4);
    expect(t.two.medianMs).toBe(2);
    // the pairs' lower readings: 1.9 1.8 1.0 1.0 1.9 1.85 1.85 1.9 -> median 1.85
    expect(t.cores.peakMedian).toBeCloseTo(1.85, 12);
  });
  it("keeps sampling until plan.time ms of each function have been timed", () => {
    let clock = 0;
    const t = timePaired("fake", () => void (clock += 50), () => void (clock += 30), { iterations: 1, time: 1000, warmupIterations: 0, warmupTime: 0 }, () => 2, undefined, () => clock);
    expect(t.two.samples * 30).toBeGreaterThanOrEqual(1000);
    expect(t.one.samples).toBe(t.two.samples);
    expect(t.cores.ratioWithBoth).toBeCloseTo(50 / 30, 12);
  });
});
