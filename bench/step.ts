// The whole absorbed decode step (one token, batch 1): the wasm layer (src/wasm WasmMla) against
// the float64 reference (src/reference ReferenceMla), same float32 weights, same cache contents
// (S cached tokens written straight into both caches, no prefill: a V3 prefill of 4096 tokens
// takes minutes in wasm and hours in the reference). Each timed call is forward(x, startPos S),
// which rolls the cache back to S first (layer.ts), so every call does the same work.
import { makeConfig, PRESETS, type MlaConfig } from "../src/config.js";
import { mlaWeightShapes, type MlaWeights } from "../src/weights.js";
import { ReferenceMla } from "../src/reference/mla.js";
import { WasmKernels, WasmMla, type WasmPagedCache } from "../src/wasm/index.js";
import { loadCoreNode } from "../src/wasm/node.js";
import { fillUniform } from "./lib/data.js";
import { uniformWeights } from "../src/wasm/decode-cases.js";
import { checkCalDiff, assertOk } from "./lib/check.js";
import { timeIt, type TimingPlan } from "./lib/timing.js";
import type { Isa } from "./lib/env.js";
import type { ProbeResult } from "./probe.js";
import { makeFigure, type Figure } from "./figures.js";

/** The official recipe's scales (src/weights.ts randomWeights), from the fast uniform generator the demo uses too. */
export function benchWeights(cfg: MlaConfig, seed: number): MlaWeights {
  return uniformWeights(mlaWeightShapes(cfg) as Record<string, number[]>, seed, ["q_norm", "kv_norm"]) as unknown as MlaWeights;
}

/** MACs of one absorbed decode step at cache length S (after appending: S+1 keys). */
export function stepFlop(cfg: MlaConfig, S: number): number {
  const { dim: D, n_heads: H, q_lora_rank: Q, kv_lora_rank: C, qk_nope_head_dim: dn, qk_rope_head_dim: dr, v_head_dim: dv } = cfg;
  const qk = dn + dr, T = S + 1;
  const proj = (Q > 0 ? D * Q + Q * H * qk : D * H * qk) + D * (C + dr) + H * dv * D;
  const absorb = H * dn * C + H * C * dv;
  const attn = H * T * (C + dr) + H * T * C;
  return 2 * (proj + absorb + attn);
}

export function weightBytes(cfg: MlaConfig): number {
  const shapes = mlaWeightShapes(cfg) as Record<string, number[]>;
  return 4 * Object.values(shapes).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
}

/** A decode step's inputs at cache length S: S random latent and k_pe rows, and the token's x (the seeds every step figure uses). */
export function stepInputs(cfg: MlaConfig, S: number): { kv: Float32Array; pe: Float32Array; x: Float32Array } {
  const { kv_lora_rank: C, qk_rope_head_dim: dr, dim: D } = cfg;
  return { kv: fillUniform(new Float32Array(S * C), S + 5), pe: fillUniform(new Float32Array(S * dr), S + 6), x: fillUniform(new Float32Array(D), S + 7) };
}

/** Make a wasm layer's cache hold exactly those S rows (its f32 pool stores float32 rows as they are), room for one more. */
export function fillWasmCache(layer: WasmMla, S: number, kv: Float32Array, pe: Float32Array): void {
  const cache = layer.cache as WasmPagedCache;
  cache.latent.truncate(0, 0);
  cache.reserve([{ seq: 0, startPos: 0, n: S + 1 }]);
  cache.latent.append(0, kv, pe);
}

/** Write the same S rows into a reference layer's cache. */
export function fillReferenceCache(ref: ReferenceMla, cfg: MlaConfig, S: number, kv: Float32Array, pe: Float32Array): void {
  const { kv_lora_rank: C, qk_rope_head_dim: dr } = cfg;
  ref.cache.reserve(1, S + 1);
  for (let t = 0; t < S; t++) (ref.cache.write(0, 0, t, kv, t * C), ref.cache.write(1, 0, t, pe, t * dr));
  ref.cache.commit(1, S);
}

/** The float64 oracle's absorbed step over those rows, on (exact) float weights. */
export function referenceStep(cfg: MlaConfig, w: MlaWeights, S: number, kv: Float32Array, pe: Float32Array, x: Float32Array): Float64Array {
  const ref = new ReferenceMla(cfg, w, { path: "absorbed" });
  fillReferenceCache(ref, cfg, S, kv, pe);
  return Float64Array.from(ref.forward(x, { batch: 1, seqlen: 1, startPos: S }));
}

export interface StepCase { preset: "deepseek-v3" | "deepseek-v2-lite"; model: string; S: number }

export function stepCases(quick: boolean): StepCase[] {
  const v3 = (S: number): StepCase => ({ preset: "deepseek-v3", model: "V3", S });
  const lite = (S: number): StepCase => ({ preset: "deepseek-v2-lite", model: "V2-Lite", S });
  return quick ? [v3(1024), lite(1024), lite(4096)] : [v3(1024), v3(4096), v3(16384), lite(1024), lite(4096), lite(16384)];
}

export async function runDecodeStep(probe: ProbeResult, plan: TimingPlan, isas: Isa[], quick: boolean, log: (s: string) => void): Promise<Figure[]> {
  const out: Figure[] = [];
  // The reference is float64 JS: one timed call after one warm-up is all its budget allows.
  const refPlan: TimingPlan = { iterations: 1, time: 0, warmupIterations: quick ? 0 : 1, warmupTime: 0 };
  let current = "";
  let cfg!: MlaConfig, weights!: MlaWeights;
  const layers = new Map<Isa, WasmMla>();
  let ref!: ReferenceMla;
  for (const c of stepCases(quick)) {
    if (c.preset !== current) {
      for (const l of layers.values()) l.dispose();
      layers.clear();
      current = c.preset;
      cfg = makeConfig({ ...PRESETS[c.preset], max_seq_len: 16384 + 16, max_batch_size: 1 });
      weights = benchWeights(cfg, 101);
      ref = new ReferenceMla(cfg, weights, { path: "absorbed" });
      for (const isa of isas) {
        const k = await WasmKernels.create(await loadCoreNode(isa));
        layers.set(isa, new WasmMla(cfg, weights, k, { path: "absorbed" }));
      }
    }
    const { kv_lora_rank: C, qk_rope_head_dim: dr } = cfg;
    const S = c.S;
    const { kv, pe, x } = stepInputs(cfg, S);
    fillReferenceCache(ref, cfg, S, kv, pe); // same cache contents in both layers
    const opts = { batch: 1, seqlen: 1, startPos: S };
    let y64: Float64Array = new Float64Array(0);
    const tr = timeIt(`reference step ${c.model} S=${S}`, () => void (y64 = ref.forward(x, opts) as Float64Array), refPlan);
    for (const isa of isas) {
      const layer = layers.get(isa)!;
      fillWasmCache(layer, S, kv, pe);
      const y = layer.forward(x, opts);
      const chk = checkCalDiff(y, y64, `step output vs float64`);
      assertOk(`wasm decode step ${c.model} S=${S} ${isa}`, chk);
      const t = timeIt(`wasm step ${c.model} S=${S} ${isa}`, () => void layer.forward(x, opts), plan);
      out.push(makeFigure(probe, {
        group: "step", model: c.model, what: `S=${S}`, impl: "WasmMla absorbed forward", isa, ms: t.medianMs,
        flop: stepFlop(cfg, S), bytes: weightBytes(cfg) + 4 * (S + 1) * (C + dr),
        peer: { impl: "ReferenceMla absorbed (float64 JS)", ms: tr.medianMs, gflops: stepFlop(cfg, S) / (tr.medianMs * 1e6), gbs: 0 },
        check: chk.detail, note: "weights not evicted: in-cache figures for V2-Lite, DRAM-bound for V3",
      }));
    }
  }
  for (const l of layers.values()) l.dispose();
  return out;
}
