// Check a backend against golden vectors: the official ones (every call through the naive and the
// absorbed path, every output and both caches, against the numbers DeepSeek's model.py produced)
// and the Hugging Face ones (transformers' outputs, through the public HF import).

import type { Backend, MlaLayerPath } from "./backend.js";
import { VECTOR_ATOL, maxAbsDiff } from "./numerics.js";
import type { VectorCase } from "./io/mla-vectors.js";
import type { HfVectorCase } from "./io/hf-vectors.js";
import { type MlaConfig, importHfConfig } from "./config.js";
import { ConfigError } from "./errors.js";
import type { MlaWeights } from "./weights.js";
import { ropeFrequencies } from "./derived.js";

export interface CaseResult {
  name: string;
  pass: boolean;
  /** Largest error of each compared quantity. */
  maxAbsErr: { naive: number; absorbed: number; naiveCache: number; absorbedCache: number; freqs: number };
  tolerance: number;
}

/** |cos/sin(pos * f_i) - official freqs_cis| over the file's table. */
function freqsError(c: VectorCase): number {
  const f = ropeFrequencies(c.config);
  const half = f.length;
  const rows = c.freqs.cos.shape[0];
  let err = 0;
  for (let p = 0; p < rows; p++)
    for (let i = 0; i < half; i++) {
      err = Math.max(err, Math.abs(Math.cos(p * f[i]) - c.freqs.cos.data[p * half + i]), Math.abs(Math.sin(p * f[i]) - c.freqs.sin.data[p * half + i]));
    }
  return err;
}

async function runPath(backend: Backend, c: VectorCase, path: MlaLayerPath): Promise<{ out: number; cache: number }> {
  const layer = await backend.createMla(c.config, c.weights, { path });
  try {
    let out = 0;
    for (const call of c.calls) {
      const y = layer.forward(call.input.data, { batch: c.batch, seqlen: call.seqlen, startPos: call.startPos });
      out = Math.max(out, maxAbsDiff(y, path === "naive" ? call.outputNaive.data : call.outputAbsorb.data));
    }
    const last = c.calls[c.calls.length - 1];
    const snap = layer.cache.snapshot(c.batch, last.startPos + last.seqlen);
    const want = path === "naive" ? c.caches.naive : c.caches.absorb;
    let cache = 0;
    for (const [name, t] of Object.entries(want)) {
      const got = snap[name];
      cache = Math.max(cache, got ? maxAbsDiff(got.data, t.data) : Infinity);
    }
    return { out, cache };
  } finally {
    layer.dispose();
  }
}

export async function verifyCase(backend: Backend, c: VectorCase, tolerance = VECTOR_ATOL): Promise<CaseResult> {
  const naive = await runPath(backend, c, "naive");
  const absorbed = await runPath(backend, c, "absorbed");
  const maxAbsErr = { naive: naive.out, absorbed: absorbed.out, naiveCache: naive.cache, absorbedCache: absorbed.cache, freqs: freqsError(c) };
  const pass = Object.values(maxAbsErr).every((e) => e <= tolerance);
  return { name: c.name, pass, maxAbsErr, tolerance };
}

// ---------------------------------------------------------------------------------------------
// Hugging Face vectors: transformers' own outputs, reached through the public HF path.

export interface HfCaseResult {
  name: string;
  pass: boolean;
  tolerance: number;
  /** Largest |output - transformers| per path (NaN when the case expects a refusal or the import failed). */
  maxAbsErr: { naive: number; absorbed: number };
  /** What transformers did: computed outputs, or refused the config (its error). */
  expected: "outputs" | "refusal";
  /** mlakit's ConfigError message when it refused the config. */
  refused?: string;
  /** importHfConfig's semantics and notes. */
  notes: string[];
}

/**
 * Run a case: importHfConfig(config.json) (a case transformers refused must be refused with a
 * ConfigError, and a case it ran must import), then `loadWeights(config)` (the caller reads the
 * case's model.safetensors with loadMlaWeights), then every call through both paths, each output
 * against transformers' within `tolerance`.
 */
export async function verifyHfCase(backend: Backend, c: HfVectorCase, configJson: Record<string, unknown>, loadWeights: (config: MlaConfig) => Promise<{ weights: MlaWeights; config: MlaConfig }>, tolerance: number): Promise<HfCaseResult> {
  const nan = { naive: NaN, absorbed: NaN };
  let imported;
  try {
    imported = importHfConfig(configJson);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return { name: c.name, pass: c.transformersError !== undefined, tolerance, maxAbsErr: nan, expected: c.transformersError ? "refusal" : "outputs", refused: e.message, notes: [] };
  }
  const notes = [`${imported.semantics} semantics`, ...imported.notes];
  if (c.transformersError !== undefined) return { name: c.name, pass: false, tolerance, maxAbsErr: nan, expected: "refusal", notes };
  const { weights, config } = await loadWeights(imported.config);
  const err = { naive: 0, absorbed: 0 };
  for (const path of ["naive", "absorbed"] as const) {
    const layer = await backend.createMla(config, weights, { path });
    try {
      for (const call of c.calls) {
        const y = layer.forward(call.input.data, { batch: c.batch, seqlen: call.seqlen, startPos: call.startPos });
        err[path] = Math.max(err[path], maxAbsDiff(y, call.output.data));
      }
    } finally {
      layer.dispose();
    }
  }
  return { name: c.name, pass: err.naive <= tolerance && err.absorbed <= tolerance, tolerance, maxAbsErr: err, expected: "outputs", notes };
}
