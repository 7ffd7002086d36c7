// llm.c dev/cuda-style harness: every numbered variant in assembly/variants/ (both builds) is
// checked against a float64 reference at edge sizes and at a benchmark shape, then timed by the
// same tinybench harness. Prints a table and writes bench/results/variants.json.
//   npm run bench:variants -- [gemm|gemv|attn_absorbed|attn_naive] [--quick]
import { readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { availableIsas, rootPath, type Isa } from "./lib/env.js";
import { loadVariant, gemmCase, gemvCase, absorbedCase, naiveCase, type KernelCase, type VariantModule } from "./lib/kernels.js";
import { coreBuilt, loadCore, coreGemmCase, coreGemvCase, coreAbsorbedCase, coreNaiveCase, type CoreModule } from "./lib/core.js";
import { checkLinear, checkCalDiff, assertOk, absorbedAttention64, naiveAttention64, pickRows, type CheckResult } from "./lib/check.js";
import { randomMatrix, randomVector } from "./lib/data.js";
import { timeIt, QUICK, FULL, type TimingPlan } from "./lib/timing.js";
import { V3, V2_LITE } from "./shapes.js";
import { makeL3Flusher } from "./probe.js";

export const FAMILIES = ["gemm", "gemv", "attn_absorbed", "attn_naive"] as const;
export type Family = (typeof FAMILIES)[number];

export function variantNames(family: Family): string[] {
  return readdirSync(rootPath("assembly", "variants"))
    .filter((f) => f.startsWith(family + "_") && f.endsWith(".ts"))
    .map((f) => f.slice(0, -3))
    .sort();
}

/** A variant module, or the core's current kernel of the family (its row is named "core"). */
export type Impl = { variant: VariantModule } | { core: CoreModule };
interface Shape { label: string; flop: number; bytes: number; make(m: Impl): { kc: KernelCase; check(): CheckResult } }

function gemmShape(label: string, M: number, N: number, K: number): Shape {
  const x = randomVector(M * K, 11), w = randomMatrix(N, K, 12);
  return { label, flop: 2 * M * N * K, bytes: 4 * (N * K + M * K + M * N), make: (m) => {
    const kc = "core" in m ? coreGemmCase(m.core, x, w, M, N, K) : gemmCase(m.variant, x, w, M, N, K);
    return { kc, check: () => { kc.run(); return checkLinear(kc.output(), x, w, M, N, K, M * N <= 4096 ? M * N : 256); } };
  } };
}
function gemvShape(label: string, N: number, K: number): Shape {
  const x = randomVector(K, 21), w = randomMatrix(N, K, 22);
  return { label, flop: 2 * N * K, bytes: 4 * (N * K + K + N), make: (m) => {
    const kc = "core" in m ? coreGemvCase(m.core, x, w, N, K) : gemvCase(m.variant, x, w, N, K);
    return { kc, check: () => { kc.run(); return checkLinear(kc.output(), x, w, 1, N, K, N <= 4096 ? N : 256); } };
  } };
}
/** Below this many score multiply-adds the float64 attention checks every head (~10 ms in JS), else a spread subset. */
const CHEAP_REF = 1 << 21;
function absorbedShape(label: string, H: number, S: number, C: number, dr: number): Shape {
  const q = randomVector(H * (C + dr), 31, 0.2), kv = randomVector(S * C, 32), pe = randomVector(S * dr, 33);
  const scale = 1 / Math.sqrt(192);
  const heads = H <= 8 || H * S * (C + dr) <= CHEAP_REF ? [...Array(H).keys()] : [0, 1, 7, H >> 1, H - 1];
  return { label, flop: 2 * H * S * (2 * C + dr), bytes: 4 * S * (C + dr), make: (m) => {
    // The core's kernel also applies W_UV (o = o_lat W_UV^T, 2*H*dv*C more FLOP, ~2% at S 4096);
    // its latent output o_lat is what is checked and compared here.
    if ("core" in m) {
      const wuv = new Float32Array(H * 8 * C); // dv = 8: the smallest W_UV the kernel accepts
      const kc = coreAbsorbedCase(m.core, q, kv, pe, wuv, H, S, C, dr, 8, 8, scale);
      return { kc, check: () => { kc.run(); return checkCalDiff(pickRows(kc.latent(), C, heads), absorbedAttention64(q, kv, pe, H, S, C, dr, scale, heads), label); } };
    }
    const kc = absorbedCase(m.variant, q, kv, pe, H, S, C, dr, scale);
    return { kc, check: () => { kc.run(); return checkCalDiff(pickRows(kc.output(), C, heads), absorbedAttention64(q, kv, pe, H, S, C, dr, scale, heads), label); } };
  } };
}
function naiveShape(label: string, H: number, S: number, dqk: number, dv: number): Shape {
  const q = randomVector(H * dqk, 41, 0.2), k = randomVector(S * H * dqk, 42), v = randomVector(S * H * dv, 43);
  const scale = 1 / Math.sqrt(dqk);
  const heads = H <= 8 || H * S * dqk <= CHEAP_REF ? [...Array(H).keys()] : [0, 3, H - 1];
  return { label, flop: 2 * H * S * (dqk + dv), bytes: 4 * S * H * (dqk + dv), make: (m) => {
    const kc = "core" in m ? coreNaiveCase(m.core, q, k, v, H, S, dqk, dv, scale) : naiveCase(m.variant, q, k, v, H, S, dqk, dv, scale);
    return { kc, check: () => { kc.run(); return checkCalDiff(pickRows(kc.output(), dv, heads), naiveAttention64(q, k, v, H, S, dqk, dv, scale, heads), label); } };
  } };
}

/**
 * Small and odd sizes: rows < tile, one row, odd K, one head, s = 1, lengths not multiples of any
 * tile; gemv N 30 and 45 reach the 4-stream loop (>= 4 panels) with a partial panel inside a
 * stream or in the remainder; naive 36/20 reaches the 16-float unrolled loops and their tails.
 * The outputs are NaN-filled before the call, and every element of an edge case is compared.
 */
export function edgeShapes(family: Family): Shape[] {
  switch (family) {
    case "gemm": return [gemmShape("1x1x1", 1, 1, 1), gemmShape("1x13x33", 1, 13, 33), gemmShape("3x5x7", 3, 5, 7), gemmShape("5x9x33", 5, 9, 33), gemmShape("4x8x16", 4, 8, 16), gemmShape("13x17x129", 13, 17, 129)];
    case "gemv": return [gemvShape("1x1", 1, 1), gemvShape("5x7", 5, 7), gemvShape("9x33", 9, 33), gemvShape("17x130", 17, 130), gemvShape("30x19", 30, 19), gemvShape("45x19", 45, 19)];
    case "attn_absorbed": return [absorbedShape("H1 S1 C8 dr2", 1, 1, 8, 2), absorbedShape("H3 S5 C16 dr4", 3, 5, 16, 4), absorbedShape("H9 S37 C24 dr6", 9, 37, 24, 6), absorbedShape("H16 S300 C64 dr8", 16, 300, 64, 8)];
    case "attn_naive": return [naiveShape("H1 S1 4/4", 1, 1, 4, 4), naiveShape("H3 S5 12/8", 3, 5, 12, 8), naiveShape("H5 S33 20/12", 5, 33, 20, 12), naiveShape("H2 S7 36/20", 2, 7, 36, 20)];
  }
}

/** Checks one implementation at every edge shape of its family (no timing; npm test runs this for every variant). */
export function checkEdges(family: Family, m: Impl): { label: string; result: CheckResult }[] {
  return edgeShapes(family).map((e) => ({ label: e.label, result: e.make(m).check() }));
}

/** The shapes the variants are timed at (subsets of the main bench's, chosen to run in seconds). */
export function benchShapes(family: Family): Shape[] {
  switch (family) {
    case "gemm": return [gemmShape(`V3 wkv_a 64x${V3.C + V3.dr}x${V3.D}`, 64, V3.C + V3.dr, V3.D), gemmShape(`V3 wq_a 128x${V3.Q}x${V3.D}`, 128, V3.Q, V3.D), gemmShape(`V2-Lite wo 64x${V2_LITE.D}x${V2_LITE.H * V2_LITE.dv}`, 64, V2_LITE.D, V2_LITE.H * V2_LITE.dv)];
    case "gemv": return [gemvShape(`V3 wq_b ${V3.H * 192}x${V3.Q}`, V3.H * (V3.dn + V3.dr), V3.Q), gemvShape(`V3 wo ${V3.D}x${V3.H * V3.dv}`, V3.D, V3.H * V3.dv), gemvShape(`V2-Lite wq ${V2_LITE.H * 192}x${V2_LITE.D}`, V2_LITE.H * 192, V2_LITE.D)];
    case "attn_absorbed": return [absorbedShape("V3 H128 S4096", V3.H, 4096, V3.C, V3.dr), absorbedShape("V2-Lite H16 S4096", V2_LITE.H, 4096, V2_LITE.C, V2_LITE.dr)];
    case "attn_naive": return [naiveShape("V3 H128 S1024", V3.H, 1024, V3.dn + V3.dr, V3.dv)];
  }
}

export interface VariantRow { family: Family; variant: string; isa: Isa; shape: string; ms: number; gflops: number; gbs: number; vsCore: number | null }

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

/**
 * Every implementation of a family is checked, then timed in ROUNDS interleaved rounds (each round
 * times every implementation once with the plan): machine noise (other processes on the 2 cores)
 * then hits all of them alike, and each figure is the median over rounds.
 */
export async function runVariants(families: readonly Family[], plan: TimingPlan, rounds: number, log = console.log): Promise<VariantRow[]> {
  const rows: VariantRow[] = [];
  for (const family of families) {
    const impls: { name: string; isa: Isa; m: Impl }[] = [];
    for (const name of [...(coreBuilt() ? ["core"] : []), ...variantNames(family)])
      for (const isa of availableIsas()) impls.push({ name, isa, m: name === "core" ? { core: await loadCore(isa) } : { variant: await loadVariant(name, isa) } });
    for (const { name, isa, m } of impls) for (const { label, result } of checkEdges(family, m)) assertOk(`${name}-${isa} ${label}`, result);
    // Memory-bound families read from DRAM as in a decode step: the L3 is evicted before each call.
    const dram = family === "gemv" || family === "attn_naive";
    const before = dram ? await makeL3Flusher() : undefined;
    const p = dram ? { ...plan, time: 0, iterations: Math.max(plan.iterations, 5) } : plan;
    for (const sh of benchShapes(family)) {
      const cases = impls.map(({ name, isa, m }) => {
        const { kc, check } = sh.make(m);
        assertOk(`${name}-${isa} ${sh.label}`, check());
        return { name, isa, kc, times: [] as number[] };
      });
      for (let r = 0; r < rounds; r++) for (const c of cases) c.times.push(timeIt(`${c.name}-${c.isa}`, c.kc.run, p, before).medianMs);
      const coreMs = new Map(cases.filter((c) => c.name === "core").map((c) => [c.isa, median(c.times)]));
      for (const c of cases) {
        const ms = median(c.times);
        const core = coreMs.get(c.isa);
        const row: VariantRow = { family, variant: c.name, isa: c.isa, shape: sh.label, ms, gflops: sh.flop / (ms * 1e6), gbs: sh.bytes / (ms * 1e6), vsCore: core ? core / ms : null };
        rows.push(row);
        log(`${c.name.padEnd(34)} ${c.isa.padEnd(8)} ${sh.label.padEnd(28)} ${ms.toFixed(2).padStart(9)} ms ${row.gflops.toFixed(1).padStart(6)} GFLOP/s ${row.gbs.toFixed(1).padStart(6)} GB/s ${row.vsCore ? `x${row.vsCore.toFixed(2)} vs core` : ""}`);
      }
    }
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const fams = args.filter((a) => !a.startsWith("--")) as Family[];
  for (const f of fams) if (!FAMILIES.includes(f)) throw new Error(`unknown family ${f}; one of ${FAMILIES.join(", ")}`);
  const quick = args.includes("--quick");
  const rows = await runVariants(fams.length ? fams : FAMILIES, quick ? QUICK : { ...FULL, time: 300, iterations: 3 }, quick ? 1 : 5);
  mkdirSync(rootPath("bench", "results"), { recursive: true });
  writeFileSync(rootPath("bench", "results", "variants.json"), JSON.stringify({ date: new Date().toISOString(), node: process.version, rows }, null, 2) + "\n");
}
