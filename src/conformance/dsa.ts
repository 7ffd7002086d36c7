// checkDsaBackend: the conformance properties of a DeepSeek-V3.2 layer (Backend.createDsa)
// against the float64 oracle, with fast-check, shrinking each failure to a minimal case:
//   dsa/oracle       every call's output, and after each call the caches, equal the oracle's
//                    conditioned on the backend's bf16/FP8 decisions and selections, each of
//                    them checked first (./dsa-conditioned.ts: rounding, score bound, float32
//                    top-k rule); quantised caches (kv_cache, the indexer's) bit for bit.
//   dsa/failed-call  a call with a non-finite input throws an MlaError and changes nothing: the
//                    cache's lengths and snapshot stay as they were.

import fc from "fast-check";
import type { Backend, DsaLayer } from "../backend.js";
import { type DsaConfig, makeConfig } from "../config.js";
import { MlaError } from "../errors.js";
import { type DsaWeights, randomDsaWeights } from "../io/dsa-weights.js";
import { toleranceFor } from "../numerics.js";
import { Rng } from "../weights.js";
import { type TracedCall, runConditioned } from "./dsa-conditioned.js";
import { type Measurement, type Tolerance, PASS, compare, worstOf } from "./run-case.js";

/** A drawn V3.2 case: config sizes, the call schedule (tokens per call, batch 2), and the seed of weights and inputs. */
export interface DsaCase {
  config: DsaConfig;
  split: number[];
  seed: number;
}

/** Small V3.2 configs (DI = 128 and C a multiple of 128, as the config requires), odd sizes elsewhere, one head, YaRN on and off, both scale formats. */
export function arbDsaCase(): fc.Arbitrary<DsaCase> {
  return fc
    .record({
      D: fc.integer({ min: 3, max: 20 }), H: fc.integer({ min: 1, max: 3 }), Q: fc.integer({ min: 1, max: 12 }), C: fc.constantFrom(128, 256),
      dn: fc.integer({ min: 1, max: 4 }).map((v) => 2 * v), dr: fc.integer({ min: 1, max: 4 }).map((v) => 2 * v), dv: fc.integer({ min: 1, max: 6 }),
      HI: fc.integer({ min: 1, max: 4 }), topk: fc.integer({ min: 1, max: 9 }), fmt: fc.constantFrom(null, "ue8m0" as const), yarn: fc.boolean(),
      split: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 5 }), seed: fc.integer({ min: 1, max: 2 ** 30 }),
    })
    .map((a) => ({
      config: makeConfig({
        dim: a.D, n_heads: a.H, q_lora_rank: a.Q, kv_lora_rank: a.C, qk_nope_head_dim: a.dn, qk_rope_head_dim: a.dr, v_head_dim: a.dv,
        max_seq_len: a.yarn ? 64 : 32, original_seq_len: 32, rope_factor: 4, max_batch_size: 2,
        index_n_heads: a.HI, index_head_dim: 128, index_topk: a.topk, scale_fmt: a.fmt,
      }) as DsaConfig,
      split: a.split,
      seed: a.seed,
    }));
}

const BATCH = 2;

function caseData(c: DsaCase): { w: DsaWeights; inputs: Float32Array[] } {
  const rng = new Rng(c.seed);
  const w = randomDsaWeights(c.config, rng);
  return { w, inputs: c.split.map((s) => rng.normalArray(BATCH * s * c.config.dim)) };
}

async function withDsaLayer(backend: Backend, c: DsaCase, w: DsaWeights, body: (l: DsaLayer) => Measurement): Promise<Measurement> {
  if (!backend.createDsa) return { pass: false, maxAbsErr: Infinity, where: "", problem: `backend "${backend.name}" has no createDsa` };
  let layer: DsaLayer;
  try {
    layer = await backend.createDsa(c.config, w);
  } catch (e) {
    return { pass: false, maxAbsErr: Infinity, where: "createDsa", problem: `createDsa threw ${String(e)}` };
  }
  try {
    return body(layer);
  } catch (e) {
    return { pass: false, maxAbsErr: Infinity, where: "", problem: `threw ${String(e)}` };
  } finally {
    layer.dispose();
  }
}

/** dsa/oracle: outputs and caches against the conditioned oracle, call by call. */
export async function measureDsaOracle(backend: Backend, c: DsaCase, tol: Tolerance): Promise<Measurement> {
  const { w, inputs } = caseData(c);
  return withDsaLayer(backend, c, w, (layer) => {
    const calls: TracedCall[] = [], ms: Measurement[] = [];
    let p = 0;
    for (const [i, s] of c.split.entries()) {
      const { output, trace } = layer.forwardTrace(inputs[i], { batch: BATCH, seqlen: s, startPos: p });
      calls.push({ x: inputs[i], batch: BATCH, seqlen: s, startPos: p, trace });
      const problems: string[] = [];
      const ref = runConditioned(c.config, w, calls, problems);
      if (problems.length) return { pass: false, maxAbsErr: NaN, where: `call ${i}`, problem: problems.slice(0, 3).join("; ") };
      ms.push(compare(`call ${i} (startPos ${p}) output`, output, ref.output, tol));
      p += s;
      const mine = layer.cache.snapshot(BATCH, p), theirs = ref.layer.cache.snapshot(BATCH, p);
      for (const name of ["kv_cache", "indexer.k_cache", "indexer.k_scale_cache", "pe_cache"]) {
        ms.push(compare(`after call ${i}: ${name}`, mine[name]?.data, theirs[name].data, name === "pe_cache" ? tol : { atol: 0, rtol: 0 }));
      }
    }
    return worstOf(ms);
  });
}

/** dsa/failed-call: a NaN input throws and changes nothing. */
export async function measureDsaFailedCall(backend: Backend, c: DsaCase, tol: Tolerance): Promise<Measurement> {
  const { w, inputs } = caseData(c);
  return withDsaLayer(backend, c, w, (layer) => {
    let p = 0;
    for (const [i, s] of c.split.entries()) {
      layer.forward(inputs[i], { batch: BATCH, seqlen: s, startPos: p });
      p += s;
    }
    if (p >= c.config.max_seq_len) return PASS;
    const before = layer.cache.snapshot(BATCH, p);
    const bad = new Float32Array(BATCH * c.config.dim).fill(0.5);
    bad[c.config.dim + 1] = Number.NaN;
    try {
      layer.forward(bad, { batch: BATCH, seqlen: 1, startPos: p });
      return { pass: false, maxAbsErr: Infinity, where: `call at ${p}`, problem: "a NaN input did not throw" };
    } catch (e) {
      if (!(e instanceof MlaError)) return { pass: false, maxAbsErr: Infinity, where: `call at ${p}`, problem: `a NaN input threw ${String(e)}, not an MlaError` };
    }
    const ms: Measurement[] = [];
    for (let b = 0; b < BATCH; b++) if (layer.cache.length(b) !== p) return { pass: false, maxAbsErr: Infinity, where: `row ${b}`, problem: `the failed call changed the cached length to ${layer.cache.length(b)} (was ${p})` };
    const after = layer.cache.snapshot(BATCH, p);
    for (const name of Object.keys(before)) ms.push(compare(`after the failed call: ${name}`, after[name]?.data, before[name].data, { atol: 0, rtol: 0 }));
    return worstOf(ms);
  });
}

export interface DsaCheckOptions {
  /** Cases per property (default 20). */
  numRuns?: number;
  seed?: number;
  /** fast-check replay path of a reported failure (with `seed` and one property). */
  path?: string;
  tolerance?: Tolerance;
  /** Only these (names from DSA_PROPERTY_NAMES). */
  properties?: readonly string[];
}

export interface DsaPropertyResult {
  name: string;
  claim: string;
  pass: boolean;
  numRuns: number;
  counterexample?: { case: DsaCase; measurement: Measurement; seed: number; path: string };
}

const DSA_PROPERTIES = [
  { name: "dsa/oracle", claim: "every output and cache equals the float64 oracle's, conditioned on the backend's bf16/FP8 decisions and selections (each checked)", measure: measureDsaOracle },
  { name: "dsa/failed-call", claim: "a call with a non-finite input throws an MlaError and changes nothing", measure: measureDsaFailedCall },
] as const;

export const DSA_PROPERTY_NAMES: readonly string[] = DSA_PROPERTIES.map((p) => p.name);

/** A case in a few lines (checkBackend's report). */
export function describeDsaCase(c: DsaCase): string {
  const k = c.config;
  return [
    `config: dim ${k.dim}, n_heads ${k.n_heads}, q_lora_rank ${k.q_lora_rank}, kv_lora_rank ${k.kv_lora_rank}, qk_nope_head_dim ${k.qk_nope_head_dim}, qk_rope_head_dim ${k.qk_rope_head_dim}, v_head_dim ${k.v_head_dim}`,
    `        index_n_heads ${k.index_n_heads}, index_head_dim ${k.index_head_dim}, index_topk ${k.index_topk}, scale_fmt ${k.scale_fmt}, max_seq_len ${k.max_seq_len}`,
    `calls:  batch ${BATCH}; tokens per call ${c.split.join(", ")}; weights/inputs seed ${c.seed}`,
  ].join("\n");
}

/** Run the V3.2 properties against a backend with createDsa. Never throws for a failing backend: read each result's `pass`. */
export async function checkDsaBackend(backend: Backend, options: DsaCheckOptions = {}): Promise<{ pass: boolean; seed: number; tolerance: Tolerance; properties: DsaPropertyResult[] }> {
  const tol = options.tolerance ?? toleranceFor(backend.precision);
  const seed = options.seed ?? (Math.random() * 0x7fffffff) | 0;
  const properties: DsaPropertyResult[] = [];
  for (const prop of DSA_PROPERTIES.filter((p) => !options.properties || options.properties.includes(p.name))) {
    const d = await fc.check(fc.asyncProperty(arbDsaCase(), async (c) => (await prop.measure(backend, c, tol)).pass), { numRuns: options.numRuns ?? 20, seed, path: options.path, endOnFailure: false });
    const r: DsaPropertyResult = { name: prop.name, claim: prop.claim, pass: !d.failed, numRuns: d.numRuns };
    if (d.failed && d.counterexample) r.counterexample = { case: d.counterexample[0], measurement: await prop.measure(backend, d.counterexample[0], tol), seed: d.seed, path: d.counterexamplePath ?? "" };
    properties.push(r);
  }
  return { pass: properties.every((p) => p.pass), seed, tolerance: tol, properties };
}
