// checkBackend: run every conformance property against any Backend with fast-check, shrink each
// failure to a minimal case, and return a structured result plus a readable report. The
// tolerance follows backend.precision (src/numerics.ts toleranceFor) unless overridden.

import fc from "fast-check";
import type { Backend, MlaLayerPath } from "../backend.js";
import { yarnEnabled } from "../config.js";
import { toleranceFor } from "../numerics.js";
import type { BadCallCase, BadWeightsCase, CaseArbOptions, MlaCase, RollbackCase } from "./arbitraries.js";
import { PROPERTIES, PROPERTY_NAMES } from "./properties.js";
import { DSA_PROPERTY_NAMES, type DsaCase, checkDsaBackend, describeDsaCase } from "./dsa.js";

/** Every property checkBackend knows: the MLA ones, then the DeepSeek-V3.2 ones (run when the backend has createDsa). */
export const ALL_PROPERTY_NAMES: readonly string[] = [...PROPERTY_NAMES, ...DSA_PROPERTY_NAMES];
import { type Measurement, type Tolerance, convertingBackend, fmt } from "./run-case.js";
import { type WeightFormat, checkWeightFormat } from "../weight-formats.js";

export interface CheckOptions {
  /** Cases per property (default 50). Shrinking adds runs only when a property fails. */
  numRuns?: number;
  /** fast-check seed; default a fresh random one (always reported, so any run can be replayed). */
  seed?: number;
  /** fast-check replay path of a reported failure (use with `seed` and `properties: [name]`). */
  path?: string;
  /** Run only these properties (names from PROPERTY_NAMES). */
  properties?: readonly string[];
  /** The paths the backend implements (default both). Properties needing another path are skipped; absorbed==naive needs both. */
  paths?: readonly MlaLayerPath[];
  /** Override the precision-derived tolerance |a-b| <= atol + rtol*|ref|. */
  tolerance?: Tolerance;
  /** Compare cache snapshots with the oracle's (default true); turn off for lossy cache formats. */
  compareCaches?: boolean;
  /** Sizes and features of the drawn configs. */
  cases?: CaseArbOptions;
  /** A case whose measurement (layer creation and calls) has not finished after this many ms fails (default 60 000): a backend that never answers cannot stall the run. A synchronous infinite loop still can. */
  timeoutMs?: number;
  /**
   * Give the backend every case's projections converted to this format ("bf16", "int8", "fp8":
   * src/weight-formats.ts's rules) and check it against the oracle on their exact dequantised
   * values, at the same tolerance. Default: the float weights.
   */
  weightFormat?: WeightFormat;
  /** Called after each property finishes (for progress output). */
  onProperty?: (r: PropertyResult) => void;
}

export interface Counterexample {
  /** The shrunk case, as plain data (config, batch, calls, seed, and rollback/bad-call fields). */
  case: MlaCase | RollbackCase | BadCallCase | BadWeightsCase | DsaCase;
  /** The measurement on that case: max abs error, where, and any problem. */
  measurement: Measurement;
  /** fast-check's seed and path: `checkBackend(b, { seed, path, properties: [name] })` replays it. */
  seed: number;
  path: string;
  /** Readable multi-line description. */
  text: string;
}

export interface PropertyResult {
  name: string;
  claim: string;
  pass: boolean;
  numRuns: number;
  numShrinks: number;
  counterexample?: Counterexample;
}

export interface CheckResult {
  backend: string;
  precision: Backend["precision"];
  tolerance: Tolerance;
  seed: number;
  pass: boolean;
  properties: PropertyResult[];
  /** Human-readable summary (the same text checkBackend's README example shows). */
  report: string;
}

/** Run the conformance properties against `backend`. Never throws for a failing backend: read `pass`. */
export async function checkBackend(backend: Backend, options: CheckOptions = {}): Promise<CheckResult> {
  const tolerance = options.tolerance ?? toleranceFor(backend.precision);
  const seed = options.seed ?? (Math.random() * 0x7fffffff) | 0;
  const wanted = options.properties ?? ALL_PROPERTY_NAMES;
  for (const n of wanted) if (!ALL_PROPERTY_NAMES.includes(n)) throw new RangeError(`checkBackend: unknown property "${n}"; properties are ${ALL_PROPERTY_NAMES.join(", ")}`);
  const wf = options.weightFormat === undefined ? undefined : checkWeightFormat(options.weightFormat, "options.weightFormat");
  const ctx = { backend: wf && wf !== "f32" ? convertingBackend(backend, wf) : backend, tol: tolerance, compareCaches: options.compareCaches ?? true, weightFormat: wf };
  const timeoutMs = options.timeoutMs ?? 60_000;
  const results: PropertyResult[] = [];
  const paths = options.paths ?? (["naive", "absorbed"] as const);
  const runnable = (name: string) => (name === "absorbed==naive" ? ["naive", "absorbed"] : [name.split("/")[1]]).every((p) => paths.includes(p as MlaLayerPath));
  for (const prop of PROPERTIES.filter((p) => wanted.includes(p.name) && runnable(p.name))) {
    const details = await fc.check(
      fc.asyncProperty(prop.arbitrary(options.cases ?? {}), async (c) => (await withTimeout(prop.measure(ctx, c), timeoutMs)).pass),
      { numRuns: options.numRuns ?? 50, seed, path: options.path, endOnFailure: false },
    );
    const r: PropertyResult = { name: prop.name, claim: prop.claim, pass: !details.failed, numRuns: details.numRuns, numShrinks: details.numShrinks };
    if (details.failed && details.counterexample) {
      const c = details.counterexample[0];
      const measurement = await withTimeout(prop.measure(ctx, c), timeoutMs); // re-measure the minimal case for the report
      const path = details.counterexamplePath ?? "";
      r.counterexample = { case: c, measurement, seed: details.seed, path, text: describeCase(c) };
    } else if (details.failed) {
      r.counterexample = { case: undefined as unknown as MlaCase, measurement: { pass: false, maxAbsErr: NaN, where: "", problem: String(details.errorInstance) }, seed: details.seed, path: details.counterexamplePath ?? "", text: "" };
    }
    results.push(r);
    options.onProperty?.(r);
  }
  // DeepSeek-V3.2 layers: their own cases (each replays the oracle per call: half the runs)
  const dsaWanted = DSA_PROPERTY_NAMES.filter((n) => wanted.includes(n));
  if (backend.createDsa && dsaWanted.length) {
    const d = await checkDsaBackend(backend, { numRuns: Math.max(1, Math.ceil((options.numRuns ?? 50) / 2)), seed, path: options.path, tolerance, properties: dsaWanted });
    for (const p of d.properties) {
      const ce = p.counterexample;
      const r: PropertyResult = { name: p.name, claim: p.claim, pass: p.pass, numRuns: p.numRuns, numShrinks: 0, ...(ce && { counterexample: { case: ce.case, measurement: ce.measurement, seed: ce.seed, path: ce.path, text: describeDsaCase(ce.case) } }) };
      results.push(r);
      options.onProperty?.(r);
    }
  }
  const pass = results.every((r) => r.pass);
  const result: CheckResult = { backend: backend.name, precision: backend.precision, tolerance, seed, pass, properties: results, report: "" };
  result.report = renderReport(result);
  return result;
}

/** The measurement, or a failed one if it has not settled after ms milliseconds. */
function withTimeout(m: Promise<Measurement>, ms: number): Promise<Measurement> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<Measurement>((resolve) => {
    timer = setTimeout(() => resolve({ pass: false, maxAbsErr: Infinity, where: "", problem: `no answer within ${ms} ms (createMla or forward never settled)` }), ms);
  });
  return Promise.race([m, late]).finally(() => clearTimeout(timer));
}

/** A case in a few lines: config, batch, calls (startPos+seqlen), seed, and the extra call if any. */
export function describeCase(c: MlaCase | RollbackCase | BadCallCase | BadWeightsCase | DsaCase): string {
  if ("split" in c) return describeDsaCase(c);
  const k = c.config;
  const hf = k.convention === "transformers" ? `, cos/sin x ${k.rope_attention_factor}${k.yarn_truncate ? "" : ", untruncated"}` : "";
  const yarn = yarnEnabled(k)
    ? `YaRN on (original_seq_len ${k.original_seq_len}, factor ${k.rope_factor}, mscale ${k.mscale}, beta ${k.beta_fast}/${k.beta_slow}${hf})`
    : "YaRN off";
  const lines = [
    `config: dim ${k.dim}, n_heads ${k.n_heads}, q_lora_rank ${k.q_lora_rank}, kv_lora_rank ${k.kv_lora_rank}, qk_nope_head_dim ${k.qk_nope_head_dim}, qk_rope_head_dim ${k.qk_rope_head_dim}, v_head_dim ${k.v_head_dim}`,
    `        ${k.convention} convention, rope ${k.rope_layout}, theta ${k.rope_theta}, max_seq_len ${k.max_seq_len}, ${yarn}, max_batch_size ${k.max_batch_size}`,
    `calls:  batch ${c.batch}; ${c.calls.map((x) => `forward(startPos ${x.startPos}, seqlen ${x.seqlen})`).join(", ")}; weights/inputs seed ${c.seed}`,
  ];
  if ("rollbackTo" in c) lines.push(`then:   forward(startPos ${c.rollbackTo}, seqlen ${c.rollbackSeqlen}) — a rollback below the ${c.calls.at(-1)!.startPos + c.calls.at(-1)!.seqlen} cached tokens`);
  if ("badWeights" in c) lines.push(`weights: spoiled by "${c.badWeights}" (weight index ${c.which}, element ${c.where}) before createMla`);
  if ("bad" in c) lines.push(`then:   an invalid call "${c.bad}" (index ${c.where}), then forward(startPos ${c.calls.at(-1)!.startPos + c.calls.at(-1)!.seqlen}, seqlen 1)`);
  return lines.join("\n");
}

const tolText = (t: Tolerance) => `|got - want| <= ${t.atol} + ${t.rtol}*|want|`;

/** The readable report of a CheckResult. */
export function renderReport(r: CheckResult): string {
  const held = r.properties.filter((p) => p.pass).length;
  const out = [`checkBackend("${r.backend}", ${r.precision}): ${held}/${r.properties.length} properties hold — seed ${r.seed}, tolerance ${tolText(r.tolerance)}`];
  for (const p of r.properties) {
    out.push(`  ${p.pass ? "ok  " : "FAIL"}  ${p.name.padEnd(32)} ${p.pass ? `${p.numRuns} cases` : `after ${p.numRuns} case(s), shrunk ${p.numShrinks} times`}`);
    const ce = p.counterexample;
    if (!ce) continue;
    const m = ce.measurement;
    out.push(`        claim:  ${p.claim}`);
    out.push(...ce.text.split("\n").map((l) => `        ${l}`));
    if (m.problem) out.push(`        problem: ${m.problem}`);
    if (Number.isFinite(m.maxAbsErr) || !m.problem) out.push(`        max abs error ${fmt(m.maxAbsErr)}${m.where ? ` at ${m.where}` : ""}`);
    out.push(`        replay: checkBackend(backend, { seed: ${ce.seed}, path: "${ce.path}", properties: ["${p.name}"] })`);
  }
  out.push(r.pass ? "PASS" : `FAIL: ${r.properties.length - held} propert${r.properties.length - held === 1 ? "y" : "ies"} violated`);
  return out.join("\n");
}
