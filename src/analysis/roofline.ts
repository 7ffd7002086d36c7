// Roofline: a kernel that does F FLOPs and moves M bytes takes at least max(F / peak, M / bandwidth)
// (Williams, Waterman, Patterson, "Roofline", CACM 2009). It is compute-bound when its arithmetic
// intensity F/M exceeds the machine's ridge point peak/bandwidth, memory-bound otherwise.

import type { MlaConfig } from "../config.js";
import { ConfigError } from "../errors.js";
import { type CostOptions, decodeShape, modelCost, prefillShape } from "./cost.js";
import type { ModelPath } from "./work.js";

export interface Machine {
  /** Peak FLOP/s, in GFLOP/s. */
  gflops: number;
  /** Memory bandwidth, in GB/s (1e9 bytes). */
  gbps: number;
  /** Where the figures come from. */
  source: string;
}

export function checkMachine(m: Machine, field = "machine"): Machine {
  if (!(Number.isFinite(m.gflops) && m.gflops > 0)) throw new ConfigError(`${field}.gflops`, m.gflops, "a finite number > 0");
  if (!(Number.isFinite(m.gbps) && m.gbps > 0)) throw new ConfigError(`${field}.gbps`, m.gbps, "a finite number > 0");
  return m;
}

export type Bound = "compute" | "memory";

export interface Roofline {
  flops: number;
  bytes: number;
  /** FLOPs per byte. */
  intensity: number;
  bound: Bound;
  /** Lower bound on the time, seconds. */
  seconds: number;
}

export function roofline(flops: number, bytes: number, m: Machine): Roofline {
  const tc = flops / (m.gflops * 1e9), tm = bytes / (m.gbps * 1e9);
  return { flops, bytes, intensity: bytes > 0 ? flops / bytes : Infinity, bound: tc >= tm ? "compute" : "memory", seconds: Math.max(tc, tm) };
}

/**
 * The same bound for kernels that run one after another (no overlap between terms): the sum over
 * terms of each term's own roofline. >= the overlapped bound; closer to a real decode step, where
 * memory-bound projections and compute-bound attention take turns.
 */
export function sequentialSeconds(terms: Record<string, { flops: number; bytes: number }>, m: Machine): number {
  let t = 0;
  for (const c of Object.values(terms)) t += Math.max(c.flops / (m.gflops * 1e9), c.bytes / (m.gbps * 1e9));
  return t;
}

/** The machine's ridge point, FLOPs per byte. */
export function ridge(m: Machine): number {
  return m.gflops / m.gbps;
}

export type Phase = "decode" | "prefill";

/** Roofline of the whole model's attention layers for one decode step (per step, all rows) or one prefill. */
export function pathRoofline(cfg: MlaConfig, path: ModelPath, phase: Phase, context: number, batch: number, opts: CostOptions, m: Machine): Roofline {
  const shape = phase === "decode" ? decodeShape(context, batch) : prefillShape(context, batch);
  const c = modelCost(cfg, path, shape, opts);
  return roofline(c.flops, c.bytes, m);
}

// ---------------------------------------------------------------------------------------------
// Crossovers

export interface Crossover {
  /** The varied quantity where the order changes: the first value at which `faster` is faster. */
  at: number;
  faster: ModelPath;
  slower: ModelPath;
}

/**
 * Integer points in [lo, hi] where the strict sign of f changes (f < 0: a faster, f > 0: b faster;
 * ties, f = 0, are neither, so leaving a tie is not a crossover). Returns the first integer with the
 * new sign. Times are piecewise linear in the context (a max of two lines), so a fine geometric scan
 * (64 points per octave) plus bisection finds every change that spans more than one grid cell.
 */
export function signChanges(f: (x: number) => number, lo: number, hi: number): number[] {
  const xs: number[] = [];
  for (let x = lo; x <= hi; x = Math.max(x + 1, Math.floor(x * 2 ** (1 / 64)))) xs.push(x);
  if (xs[xs.length - 1] !== hi) xs.push(hi);
  const sgn = (x: number) => Math.sign(f(x));
  const out: number[] = [];
  let a = xs[0], sa = sgn(a);
  for (let i = 1; i < xs.length; i++) {
    const sb = sgn(xs[i]);
    if (sb === 0) continue;
    if (sa !== 0 && sb !== sa) {
      // first integer in (a, xs[i]] whose sign is sb
      let l = a, r = xs[i];
      while (r - l > 1) {
        const mid = Math.floor((l + r) / 2);
        if (sgn(mid) === sb) r = mid;
        else l = mid;
      }
      out.push(r);
    }
    a = xs[i];
    sa = sb;
  }
  return out;
}

/** Contexts in [1, maxContext] where `a` and `b` swap order (roofline time of the whole model). */
export function contextCrossovers(cfg: MlaConfig, a: ModelPath, b: ModelPath, phase: Phase, batch: number, opts: CostOptions, m: Machine, maxContext = cfg.max_seq_len): Crossover[] {
  const t = (path: ModelPath, L: number) => pathRoofline(cfg, path, phase, L, batch, opts, m).seconds;
  const f = (L: number) => t(a, L) - t(b, L);
  return signChanges(f, 1, maxContext).map((at) => (f(at) < 0 ? { at, faster: a, slower: b } : { at, faster: b, slower: a }));
}

/** Head counts in [1, maxHeads] where `a` and `b` swap order at a fixed context (other sizes fixed). */
export function headCrossovers(cfg: MlaConfig, a: ModelPath, b: ModelPath, phase: Phase, context: number, batch: number, opts: CostOptions, m: Machine, maxHeads = 512): Crossover[] {
  const withHeads = (H: number): MlaConfig => ({ ...cfg, n_heads: H });
  // GQA's groups must divide H: let them follow H (default rule) rather than a fixed count.
  const o = { ...opts, groups: undefined };
  const f = (H: number) => pathRoofline(withHeads(H), a, phase, context, batch, o, m).seconds - pathRoofline(withHeads(H), b, phase, context, batch, o, m).seconds;
  return signChanges(f, 1, maxHeads).map((at) => (f(at) < 0 ? { at, faster: a, slower: b } : { at, faster: b, slower: a }));
}

/** Contexts where a path's bound flips (memory <-> compute). */
export function boundChanges(cfg: MlaConfig, path: ModelPath, phase: Phase, batch: number, opts: CostOptions, m: Machine, maxContext = cfg.max_seq_len): { at: number; bound: Bound }[] {
  const r = (L: number) => pathRoofline(cfg, path, phase, L, batch, opts, m);
  const f = (L: number) => (r(L).bound === "compute" ? 1 : -1);
  return signChanges(f, 1, maxContext).map((at) => ({ at, bound: r(at).bound }));
}
