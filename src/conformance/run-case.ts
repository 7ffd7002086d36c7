// Running a case through any Backend and comparing results. A Measurement is what a property
// returns: pass or fail, the largest error seen, the bound it was held to, and where.

import type { Backend, MlaLayerPath } from "../backend.js";
import type { AttentionLayer, NamedTensor } from "../layer.js";
import { ReferenceMla } from "../reference/mla.js";
import { type WeightFormat, convertMlaWeights, hasQuantised } from "../weight-formats.js";
import type { MlaWeights } from "../weights.js";
import { type CallSpec, type MlaCase, caseInput, caseWeights } from "./arbitraries.js";

export interface Tolerance {
  atol: number;
  rtol: number;
}

export interface Measurement {
  pass: boolean;
  /** Largest |got - want| over everything compared (Infinity for a wrong shape, NaN, or a missing throw). */
  maxAbsErr: number;
  /** What was compared and where the worst element is, e.g. "call 1 output[0, 0, 3]: got 0.12, want 0.45". */
  where: string;
  /** An unexpected exception, a wrong error class, etc. */
  problem?: string;
}

export const PASS: Measurement = { pass: true, maxAbsErr: 0, where: "" };

/** Compare got against want (the trusted side) under |g - w| <= atol + rtol*|w|; shape [.., D] for messages. */
export function compare(label: string, got: ArrayLike<number> | undefined, want: ArrayLike<number>, tol: Tolerance, shape?: number[]): Measurement {
  if (!got || typeof got.length !== "number") return { pass: false, maxAbsErr: Infinity, where: label, problem: `${label}: missing` };
  if (got.length !== want.length) return { pass: false, maxAbsErr: Infinity, where: label, problem: `${label}: length ${got.length}, expected ${want.length}` };
  let worst = 0, worstAt = -1, pass = true;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    const ok = d <= tol.atol + tol.rtol * Math.abs(want[i]);
    if (!ok) pass = false;
    const dd = Number.isNaN(d) ? Infinity : d;
    if (dd > worst || (!ok && worstAt < 0)) {
      worst = dd;
      worstAt = i;
    }
  }
  const at = shape ? unravelIndex(worstAt, shape).join(", ") : String(worstAt);
  const [g, w] = worstAt < 0 ? ["", ""] : fmtPair(got[worstAt], want[worstAt]);
  const where = worstAt < 0 ? label : `${label}, element [${at}]: got ${g}, want ${w}`;
  return { pass, maxAbsErr: worst, where };
}

/** Combine measurements: fails if any fails; reports the first failure, else the largest error. */
export function worstOf(ms: Measurement[]): Measurement {
  const failed = ms.find((m) => !m.pass);
  const maxAbsErr = ms.reduce((a, m) => Math.max(a, m.maxAbsErr), 0);
  if (failed) return { ...failed, maxAbsErr: Math.max(failed.maxAbsErr, maxAbsErr) };
  const top = ms.reduce<Measurement>((a, m) => (m.maxAbsErr > a.maxAbsErr ? m : a), PASS);
  return { pass: true, maxAbsErr, where: top.where };
}

export function fmt(v: number): string {
  if (v === undefined) return "undefined";
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? String(Number(v.toPrecision(6))) : v.toExponential(3);
}

/** Two numbers with enough significant digits to show that they differ. */
export function fmtPair(a: number, b: number): [string, string] {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return [String(a), String(b)];
  for (let p = 6; p < 17; p++) {
    const x = a.toPrecision(p), y = b.toPrecision(p);
    if (x !== y) return [String(Number(x)), String(Number(y))];
  }
  return [String(a), String(b)];
}

function unravelIndex(i: number, shape: number[]): number[] {
  const out: number[] = [];
  let rest = i;
  for (let d = shape.length - 1; d >= 0; d--) {
    out[d] = rest % shape[d];
    rest = Math.floor(rest / shape[d]);
  }
  return out;
}

/** Build a layer and always dispose it. */
export async function withLayer<T>(backend: Backend, c: MlaCase, path: MlaLayerPath, fn: (layer: AttentionLayer) => Promise<T> | T): Promise<T> {
  const layer = await backend.createMla(c.config, caseWeights(c), { path });
  try {
    return await fn(layer);
  } finally {
    layer.dispose();
  }
}

/** Run calls (with the case's inputs unless given) and collect the outputs as plain copies. */
export function runCalls(layer: AttentionLayer, c: MlaCase, calls: CallSpec[] = c.calls, inputs?: ArrayLike<number>[]): Float64Array[] {
  return calls.map((call, i) => Float64Array.from(layer.forward(inputs ? inputs[i] : caseInput(c, i, call), { batch: c.batch, seqlen: call.seqlen, startPos: call.startPos })));
}

/** The oracle (float64 reference) for the same case and path; with a weight format, on the exact values of the case's weights converted to it. */
export function oracleLayer(c: MlaCase, path: MlaLayerPath, weightFormat?: WeightFormat): ReferenceMla {
  const w = caseWeights(c);
  return new ReferenceMla(c.config, weightFormat ? convertMlaWeights(c.config, w, weightFormat) : w, { path });
}

/**
 * A backend that gets every layer's projections converted to `format` (convertMlaWeights; the
 * same conversion the oracle's weights go through): the inner backend must take QuantisedWeight
 * projections (its createMla typed MlaWeights | MlaWeightsInput); one that does not fails the properties.
 */
export function convertingBackend(backend: Backend, format: WeightFormat): Backend {
  return {
    ...backend,
    name: backend.name,
    precision: backend.precision,
    createMla: (config, weights, options) => backend.createMla(config, (hasQuantised(weights) ? weights : convertMlaWeights(config, weights, format)) as MlaWeights, options),
  };
}

/** Official cache buffer names per path. */
export function cacheNames(path: MlaLayerPath): string[] {
  return path === "naive" ? ["k_cache", "v_cache"] : ["kv_cache", "pe_cache"];
}

/** Compare two caches' snapshots (rows 0..batch-1, positions 0..endPos-1) under the official names. */
export function compareSnapshots(label: string, got: Record<string, NamedTensor>, want: Record<string, NamedTensor>, names: string[], tol: Tolerance): Measurement {
  return worstOf(
    names.map((n) => {
      const g = got[n], w = want[n];
      if (!g) return { pass: false, maxAbsErr: Infinity, where: `${label}.${n}`, problem: `${label}: snapshot has no "${n}" (official names: ${names.join(", ")})` };
      if (g.shape.join(",") !== w.shape.join(",")) return { pass: false, maxAbsErr: Infinity, where: `${label}.${n}`, problem: `${label}.${n}: shape [${g.shape.join(", ")}], expected [${w.shape.join(", ")}]` };
      return compare(`${label}.${n}`, g.data, w.data, tol, w.shape);
    }),
  );
}

/** Output shape of a call, for messages. */
export function outShape(c: MlaCase, seqlen: number): number[] {
  return [c.batch, seqlen, c.config.dim];
}

/** Run fn, turning an exception into a failed measurement that names it. */
export async function guard(fn: () => Promise<Measurement> | Measurement): Promise<Measurement> {
  try {
    return await fn();
  } catch (e) {
    const err = e as Error;
    return { pass: false, maxAbsErr: Infinity, where: "", problem: `threw ${err?.name ?? "exception"}: ${err?.message ?? String(e)}` };
  }
}
