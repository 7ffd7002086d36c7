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
import { mlaSoftmaxScale, ropeFrequencies } from "./derived.js";

/**
 * derived.softmax_scale against mlakit's mlaSoftmaxScale, relative: 2^-23, one float32 ulp. The
 * official MLA.__init__ computes it in Python floats (float64; the bundled files agree to the
 * bit), a producer that keeps it as a float32 tensor rounds it by <= 2^-24 relative, and pow/log
 * of two libm's differ by a few float64 ulps (~1e-16). Every known scale bug is >= 1e5 times
 * larger: YaRN's m^2 left out (factor 4, mscale 1: 30%), m once instead of twice (14%), the
 * nope dim alone instead of dn+dr (>= 10%).
 */
export const SOFTMAX_SCALE_RTOL = 2 ** -23;

export interface CaseResult {
  name: string;
  pass: boolean;
  /** Largest error of each compared quantity. */
  maxAbsErr: { naive: number; absorbed: number; naiveCache: number; absorbedCache: number; freqs: number };
  /** |derived.softmax_scale - mlaSoftmaxScale(config)| / mlaSoftmaxScale(config); passes at <= SOFTMAX_SCALE_RTOL. */
  softmaxScaleRelErr: number;
  tolerance: number;
}

/** |cos/sin(pos * f_i) - official freqs_cis| over the file's table ([end_pos, dr/2]: the reader checked the shape). */
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
  const scale = mlaSoftmaxScale(c.config), softmaxScaleRelErr = Math.abs(c.softmaxScale - scale) / scale;
  const pass = Object.values(maxAbsErr).every((e) => e <= tolerance) && softmaxScaleRelErr <= SOFTMAX_SCALE_RTOL;
  return { name: c.name, pass, maxAbsErr, softmaxScaleRelErr, tolerance };
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

// ---------------------------------------------------------------------------------------------
// DeepSeek-V3.2 vectors (mla-vectors/2): every call through a V3.2 layer that reports its
// intermediates, the quantised stages and the caches bit for bit, the indexer's scores, the top-k
// sets, the outputs. (Imports of this block kept here, beside it.)

import type { DsaVectorCase } from "./io/mla-vectors-v2.js";
import { DSA_EXACT_INDEXER, DSA_EXACT_KV_QUANT } from "./io/mla-vectors-v2.js";
import type { DsaWeights } from "./io/dsa-weights.js";
import type { DsaLayer } from "./backend.js";
import { type DsaTrace, ReferenceDsa } from "./reference/dsa/layer.js";
import { indexScores } from "./reference/dsa/indexer.js";
import { topkRow } from "./reference/dsa/topk.js";
import { indexScoreBound, topkSetsAgree } from "./dsa-numerics.js";
import { deriveDsa, mlaSoftmaxScale as mlaScaleOf } from "./derived.js";
import { f32Bits } from "./cache/scalar.js";

/** A V3.2 layer whose calls also return their intermediates (ReferenceDsa.forwardTrace). */
export type DsaTraceLayer = DsaLayer;

/**
 * Tolerances of a float64 V3.2 layer against the official vectors (vectors/deepseek-v3.2-dsa/README.md).
 * - output, pe_cache (absolute): 1e-5. The official run is float32 with O(1) outputs; a float64
 *   re-check lands within 2.2e-6 of its outputs and 1.2e-6 of pe_cache (README "Re-check"), so
 *   1e-5 is >= 4x above that, and >= 5000x below the smallest bug the README lists (0.056, no bf16
 *   rounding; FP8 KV simulation skipped 0.059).
 * - weights, index_score (relative to the max |ref| of the call's weights and of each score row):
 *   1e-5. The official values are float32 products and sums (re-check: <= 5.9e-7 weights,
 *   <= 4.8e-7 scores); bugs that only the scores show move them by >= 0.03 (no bf16 rounding,
 *   README "Bugs"), n_heads^-0.5 left out by 0.41.
 * - freqs (absolute): 1e-5 (float32 cos/sin of the official table vs float64: <= 4.8e-7).
 * - constants (softmax_scale, index_softmax_scale, weights_scale, hadamard_scale; relative):
 *   2^-23, one float32 ulp (Python floats in model.py; a float32 producer rounds by <= 2^-24).
 * - quantised values (bf16 inputs and outputs of the Hadamard, e4m3 values, act_quant scales, the
 *   dequantised latent, the indexer caches) and top-k sets: exact. A correct float64 oracle
 *   reproduces all of them on these files (README: seeds were chosen so, no top-k gap < 2e-3).
 */
export const DSA_VECTOR_TOL = { output: 1e-5, scoreRel: 1e-5, freqs: 1e-5, constantsRel: 2 ** -23 } as const;

/**
 * A float32 backend on the same files: outputs and pe_cache within 1e-4 (absolute). The official
 * run is float32 too, so two float32 computations of O(1) outputs differ by a few float32 ulps
 * of their sums plus what a bf16 boundary flip upstream moves (measured on this set: <= 3e-6 with
 * the f32 record); 1e-4 is 560x below the smallest bug the README lists that moves outputs
 * (0.056). Scores and weights are checked against float64 on the layer's own inputs instead
 * (verifyDsaCase, precision "float32").
 */
export const DSA_VECTOR_TOL_F32 = { output: 1e-4, scoreRel: 1e-4, freqs: 1e-5, constantsRel: 2 ** -23 } as const;
export type DsaTolerance = { output: number; scoreRel: number; freqs: number; constantsRel: number };

export interface DsaCaseResult {
  name: string;
  pass: boolean;
  /** Largest error per compared quantity (weights and index_score relative, the rest absolute; constants relative). */
  maxErr: { output: number; pe_cache: number; weights: number; index_score: number; freqs: number; constants: number };
  /** Per quantised stage ("kv_quant.fp8", "indexer.q_rot", ..., "kv_cache", "indexer.k_cache", "indexer.k_scale_cache"): elements compared and differing. */
  exact: Record<string, { compared: number; differing: number }>;
  /** Sums of `exact`. */
  quantised: { compared: number; differing: number };
  /** Query rows whose selected set of visible keys differs from torch.topk's. */
  topk: { rows: number; differing: number };
  tolerance: DsaTolerance;
  /**
   * "float64": quantised values, head weights and index scores must match the file; "float32" (a
   * float32 backend): they are reported (bf16 rounding boundaries may fall either side), and the
   * indexer is checked against float64 on its own quantised inputs instead (`float32`).
   */
  precision: "float64" | "float32";
  /** float32 only: top-k rows checked against float64 on the layer's own inputs, rows that disagree by topkSetsAgree, scores outside indexScoreBound. */
  float32?: { rows: number; differing: number; scoresOutside: number };
  /** The first quantised value or top-k row that differs, in words (undefined when none). */
  firstMismatch?: string;
}

/** Same float32 bits (and a value that is a float32 at all): the exact comparison of quantised stages. */
function sameF32(a: number, ref: number): boolean {
  return Math.fround(a) === a && f32Bits(a) === f32Bits(ref);
}

/** max |a - b| / max |ref| over rows of width w (a row of zeros: absolute). */
function rowRelErr(a: ArrayLike<number>, ref: ArrayLike<number>, w: number): number {
  if (a.length !== ref.length) return Infinity;
  let worst = 0;
  for (let r = 0; r * w < ref.length; r++) {
    let d = 0, m = 0;
    for (let i = r * w; i < (r + 1) * w; i++) {
      d = Math.max(d, Math.abs(a[i] - ref[i]));
      m = Math.max(m, Math.abs(ref[i]));
    }
    const e = m === 0 ? d : d / m;
    worst = Number.isNaN(e) ? Infinity : Math.max(worst, e);
  }
  return worst;
}

function dsaFreqsError(c: DsaVectorCase): number {
  const f = ropeFrequencies(c.config), half = f.length;
  let err = 0;
  for (let p = 0; p < c.freqs.cos.shape[0]; p++)
    for (let i = 0; i < half; i++) err = Math.max(err, Math.abs(Math.cos(p * f[i]) - c.freqs.cos.data[p * half + i]), Math.abs(Math.sin(p * f[i]) - c.freqs.sin.data[p * half + i]));
  return err;
}

/** The reference V3.2 layer (the float64 oracle) for a case. */
export const referenceDsaLayer = (config: DsaVectorCase["config"], weights: DsaWeights): DsaTraceLayer => new ReferenceDsa(config, weights);

/**
 * Run every call of a case through a fresh layer (`make`, default the oracle) and compare every
 * intermediate the file dumps: the quantised stages bit for bit, the head weights and index
 * scores relatively, the top-k sets of visible keys exactly (torch's entries for masked keys in
 * prefill rows are arbitrary: only keys the query can see are compared), every output, and after
 * the last call the four caches (pe_cache within the output tolerance, the others exactly).
 */
export function verifyDsaCase(c: DsaVectorCase, make: (config: DsaVectorCase["config"], weights: DsaWeights) => DsaTraceLayer = referenceDsaLayer, tol: DsaTolerance = DSA_VECTOR_TOL, precision: "float64" | "float32" = "float64"): DsaCaseResult {
  const exact: DsaCaseResult["exact"] = {};
  let firstMismatch: string | undefined;
  const countExact = (stage: string, got: ArrayLike<number>, ref: ArrayLike<number>, where: string) => {
    const e = (exact[stage] ??= { compared: 0, differing: 0 });
    e.compared += ref.length;
    if (got.length !== ref.length) {
      e.differing += ref.length;
      firstMismatch ??= `${where} ${stage}: ${got.length} values, the file has ${ref.length}`;
      return;
    }
    for (let i = 0; i < ref.length; i++) {
      if (sameF32(got[i], ref[i])) continue;
      e.differing++;
      firstMismatch ??= `${where} ${stage}[${i}] = ${got[i]}, the file has ${ref[i]}`;
    }
  };
  const maxErr = { output: 0, pe_cache: 0, weights: 0, index_score: 0, freqs: dsaFreqsError(c), constants: 0 };
  const d = deriveDsa(c.config);
  const rel = (a: number, ref: number) => Math.abs(a - ref) / Math.abs(ref);
  maxErr.constants = Math.max(rel(c.softmaxScale, mlaScaleOf(c.config)), rel(c.dsa.indexSoftmaxScale, d.indexSoftmaxScale), rel(c.dsa.weightsScale, d.weightsScale), rel(c.dsa.hadamardScale, d.hadamardScale));
  const topk = { rows: 0, differing: 0 };
  const f32 = precision === "float32" ? { rows: 0, differing: 0, scoresOutside: 0, keys: Array.from({ length: c.batch }, () => ({ k8: [] as number[], ks: [] as number[] })) } : null;
  const layer = make(c.config, c.weights);
  try {
    c.calls.forEach((call, ci) => {
      const where = `call ${ci} (start_pos ${call.startPos}, seqlen ${call.seqlen})`;
      const { output, trace } = layer.forwardTrace(call.input.data, { batch: c.batch, seqlen: call.seqlen, startPos: call.startPos });
      maxErr.output = Math.max(maxErr.output, maxAbsDiff(output, call.output.data));
      for (const k of DSA_EXACT_KV_QUANT) countExact(`kv_quant.${k}`, trace.kv_quant[k], call.kv_quant[k].data, where);
      for (const k of DSA_EXACT_INDEXER) countExact(`indexer.${k}`, trace.indexer[k], call.indexer[k].data, where);
      maxErr.weights = Math.max(maxErr.weights, rowRelErr(trace.indexer.weights, call.indexer.weights.data, call.indexer.weights.data.length));
      maxErr.index_score = Math.max(maxErr.index_score, rowRelErr(trace.indexer.index_score, call.indexer.index_score.data, call.endPos));
      const K = call.topkK, ours = trace.indexer.topk_indices, theirs = call.indexer.topk_indices.data;
      if (f32) {
        const m = checkFloat32Indexer(c, call, trace, f32, where); // always run: it also extends the key history
        firstMismatch ??= m;
      }
      for (let r = 0; r < c.batch * call.seqlen; r++) {
        const last = call.startPos + (r % call.seqlen); // the query's position: keys 0..last are visible
        const mine = Array.from(ours.subarray(r * K, (r + 1) * K)).filter((j) => j >= 0 && j <= last).sort((a, b) => a - b);
        const want = Array.from(theirs.subarray(r * K, (r + 1) * K)).filter((j) => j <= last).sort((a, b) => a - b);
        topk.rows++;
        if (ours.length !== theirs.length || mine.length !== want.length || mine.some((j, i) => j !== want[i])) {
          topk.differing++;
          firstMismatch ??= `${where} top-k row ${r}: selected [${mine.join(", ")}], torch.topk [${want.join(", ")}]`;
        }
      }
    });
    const end = c.calls[c.calls.length - 1].endPos;
    const snap = layer.cache.snapshot(c.batch, end);
    for (const name of ["kv_cache", "indexer.k_cache", "indexer.k_scale_cache"] as const) countExact(name, snap[name]?.data ?? [], c.caches[name].data, "after the last call");
    maxErr.pe_cache = snap.pe_cache ? maxAbsDiff(snap.pe_cache.data, c.caches.pe_cache.data) : Infinity;
  } finally {
    layer.dispose();
  }
  const quantised = { compared: 0, differing: 0 };
  for (const e of Object.values(exact)) {
    quantised.compared += e.compared;
    quantised.differing += e.differing;
  }
  const common = topk.differing === 0 && maxErr.output <= tol.output && maxErr.pe_cache <= tol.output && maxErr.freqs <= tol.freqs && maxErr.constants <= tol.constantsRel;
  const pass = f32
    ? common && f32.differing === 0 && f32.scoresOutside === 0
    : common && quantised.differing === 0 && maxErr.weights <= tol.scoreRel && maxErr.index_score <= tol.scoreRel;
  const float32 = f32 ? { rows: f32.rows, differing: f32.differing, scoresOutside: f32.scoresOutside } : undefined;
  return { name: c.name, pass, maxErr, exact, quantised, topk, tolerance: tol, precision, ...(float32 && { float32 }), firstMismatch };
}

/**
 * A float32 layer's indexer against float64 on its OWN quantised inputs (its q8, head weights and
 * cached keys: the selection kernel's check, apart from bf16 boundary flips upstream): every
 * visible score within indexScoreBound of the exact score, and every top-k row agreeing with the
 * exact selection by topkSetsAgree. Appends the call's keys to each row's history. Returns the
 * first failure in words.
 */
function checkFloat32Indexer(c: DsaVectorCase, call: DsaVectorCase["calls"][number], trace: DsaTrace, st: { rows: number; differing: number; scoresOutside: number; keys: { k8: number[]; ks: number[] }[] }, where: string): string | undefined {
  const HI = c.config.index_n_heads, DI = c.config.index_head_dim, s = call.seqlen, T = call.endPos, K = call.topkK, p = call.startPos;
  const ix = trace.indexer;
  let first: string | undefined;
  for (let b = 0; b < c.batch; b++) {
    const hist = st.keys[b];
    for (let i = 0; i < s * DI; i++) hist.k8.push(ix.k_fp8[b * s * DI + i]);
    for (let i = 0; i < s; i++) hist.ks.push(ix.k_scale[b * s + i]);
    const q8 = ix.q_fp8.subarray(b * s * HI * DI, (b + 1) * s * HI * DI), w = ix.weights.subarray(b * s * HI, (b + 1) * s * HI);
    const exact = indexScores(q8, w, hist.k8, hist.ks, s, T, HI, DI);
    for (let t = 0; t < s; t++) {
      const r = b * s + t, visible = p + t + 1;
      const bound = indexScoreBound(q8, t * HI * DI, w, t * HI, hist.k8, hist.ks, T, HI, DI, exact, t * T);
      for (let j = 0; j < visible; j++) {
        const d = Math.abs(ix.index_score[r * T + j] - exact[t * T + j]);
        if (d <= bound[j]) continue;
        st.scoresOutside++;
        first ??= `${where} index score [${b}, ${t}, ${j}] = ${ix.index_score[r * T + j]}: ${d} from float64 on the same quantised inputs, beyond the float32 bound ${bound[j]}`;
      }
      st.rows++;
      const agree = topkSetsAgree(exact, t * T, visible, K, ix.topk_indices.subarray(r * K, (r + 1) * K), topkRow(exact, t * T, visible, K), bound);
      if (!agree.agree) {
        st.differing++;
        first ??= `${where} top-k row ${r} against float64 on the same inputs: ${agree.reason}`;
      }
    }
  }
  return first;
}
