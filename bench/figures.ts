// One measured figure and how it is judged: GFLOP/s and GB/s, % of the probe's limits, the
// bound (roofline: arithmetic intensity vs the ridge peak/bandwidth), the ratio to the peer.
import type { ProbeResult } from "./probe.js";
import type { Isa } from "./lib/env.js";
import type { CoreShare } from "./lib/timing.js";

export type Group = "gemm" | "gemv" | "attn-absorbed" | "attn-naive" | "attn-recompute" | "attn-mha" | "attn-gqa" | "attn-mqa" | "attn-seed" | "dsa" | "threads" | "weights" | "step";

export interface Figure {
  group: Group;
  model: string;
  /** e.g. "wq_a M=64" or "S=4096". */
  what: string;
  impl: string;
  isa: Isa | "js-f64";
  ms: number;
  flop: number;
  /** Bytes that must come from memory at least once per call (weights, cache). */
  bytes: number;
  gflops: number;
  gbs: number;
  /** gflops / the probe's peak of the same ISA (relaxed figures against the relaxed peak). */
  pctPeak: number;
  /** gbs / DRAM streaming bandwidth: the sample taken next to this figure (bwGBs) if any, else the probe's. */
  pctBw: number;
  /** The probe's read bandwidth over this figure's own buffer, sampled next to it (memory-bound figures only). */
  bwGBs?: number;
  bound: "compute" | "memory";
  peer?: { impl: string; ms: number; gflops: number; gbs: number };
  /** peer.ms / ms: > 1 means ours is faster. */
  ratio?: number;
  /** A second peer (onnxruntime-web for the projections) and peer2.ms / ms. */
  peer2?: { impl: string; ms: number; gflops: number; gbs: number };
  ratio2?: number;
  /** What the correctness gate measured before timing. */
  check: string;
  /** Threads the call ran on (default 1): its roofline divides the FLOPs by this many cores' peak. */
  threads?: number;
  /** A 2-thread figure's share of the second core while it was timed (bench/lib/timing.ts timePaired). */
  cores?: CoreShare;
  note?: string;
}

export function peakFor(p: ProbeResult, isa: Figure["isa"]): number {
  return isa === "relaxed" ? p.peakRelaxedGflops ?? p.peakSimd128Gflops : p.peakSimd128Gflops;
}

export function makeFigure(p: ProbeResult, f: Omit<Figure, "gflops" | "gbs" | "pctPeak" | "pctBw" | "bound" | "ratio" | "ratio2"> & { bound?: Figure["bound"]; bwGBs?: number }): Figure {
  const gflops = f.flop / (f.ms * 1e6), gbs = f.bytes / (f.ms * 1e6);
  const ridge = peakFor(p, "relaxed") / p.streamGBs; // FLOP per byte where the roofline bends
  const bound = f.bound ?? (f.flop / f.bytes >= ridge ? "compute" : "memory");
  const out: Figure = { ...f, gflops, gbs, pctPeak: (100 * gflops) / peakFor(p, f.isa), pctBw: (100 * gbs) / (f.bwGBs ?? p.streamGBs), bound };
  if (f.peer) out.ratio = f.peer.ms / f.ms;
  if (f.peer2) out.ratio2 = f.peer2.ms / f.ms;
  return out;
}
