// @ts-check
// Judging a runtime's raw numbers in Node: against the official outputs in the vector files and
// against the float64 oracle (src/reference, from dist/) run here, with the tolerance `mlakit
// verify` applies (VECTOR_ATOL, derived in src/numerics.ts).
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import * as lib from "../../dist/index.js";
import { decodeCase, PREFILL, PREFILL_THREADS } from "./decode-case.js";

/** @param {string} b64 */
export function decodeTensor(b64) {
  const buf = Buffer.from(b64, "base64");
  return new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/**
 * What a runtime must reproduce: per case and path, every call's output and the final caches,
 * as the official file has them and as the oracle computes them in Node.
 * @param {string[]} files
 */
export async function expectations(files) {
  const cases = new Map();
  for (const f of files) {
    const c = lib.parseVectorCaseText(readFileSync(f, "utf8"), basename(f));
    /** @type {Record<string, { official: { outputs: ArrayLike<number>[], cache: Record<string, ArrayLike<number>> }, oracle: { outputs: ArrayLike<number>[], cache: Record<string, ArrayLike<number>> } }>} */
    const paths = {};
    for (const path of /** @type {const} */ (["naive", "absorbed"])) {
      const layer = await lib.referenceBackend.createMla(c.config, c.weights, { path });
      const outputs = c.calls.map((call) => layer.forward(call.input.data, { batch: c.batch, seqlen: call.seqlen, startPos: call.startPos }));
      const last = c.calls[c.calls.length - 1];
      /** @type {Record<string, ArrayLike<number>>} */
      const cache = {};
      for (const [k, t] of Object.entries(layer.cache.snapshot(c.batch, last.startPos + last.seqlen))) cache[k] = t.data;
      layer.dispose();
      const want = path === "naive" ? c.caches.naive : c.caches.absorb;
      /** @type {Record<string, ArrayLike<number>>} */
      const officialCache = {};
      for (const [k, t] of Object.entries(want)) officialCache[k] = t.data;
      paths[path] = {
        official: { outputs: c.calls.map((call) => (path === "naive" ? call.outputNaive.data : call.outputAbsorb.data)), cache: officialCache },
        oracle: { outputs, cache },
      };
    }
    cases.set(c.name, paths);
  }
  const oracleDecode = async (/** @type {number} */ tokens) => {
    const d = decodeCase(lib, tokens);
    const layer = await lib.referenceBackend.createMla(d.config, d.weights, { path: "absorbed" });
    layer.forward(d.prefill, { batch: 1, seqlen: tokens, startPos: 0 });
    const y = layer.forward(d.step, { batch: 1, seqlen: 1, startPos: tokens });
    layer.dispose();
    return { y, config: d.config };
  };
  const { y: decode, config } = await oracleDecode(PREFILL);
  const { y: decodeThreads } = await oracleDecode(PREFILL_THREADS);
  // Bytes per cached token of the absorbed path: latent C plus rope key dr, in the backend's precision.
  const latentWidth = config.kv_lora_rank + config.qk_rope_head_dim;
  return { cases, decode, decodeThreads, latentWidth };
}

/**
 * @param {any} res one runtime's result (checks.js)
 * @param {Awaited<ReturnType<typeof expectations>>} exp
 */
export function judge(res, exp) {
  const tol = lib.VECTOR_ATOL;
  /** @type {string[]} */
  const failures = [];
  let vsOfficial = 0, vsOracle = 0, casesPassed = 0;
  for (const [name, paths] of exp.cases) {
    const got = res.cases.find((/** @type {any} */ c) => c.name === name);
    if (!got) {
      failures.push(`${name}: missing`);
      continue;
    }
    let caseOfficial = 0, caseOracle = 0;
    for (const path of /** @type {const} */ (["naive", "absorbed"])) {
      const g = got[path];
      const e = paths[path];
      if (g.outputs.length !== e.official.outputs.length) {
        failures.push(`${name} ${path}: ${g.outputs.length} outputs, expected ${e.official.outputs.length}`);
        caseOfficial = caseOracle = Infinity;
        continue;
      }
      g.outputs.forEach((/** @type {string} */ b64, /** @type {number} */ i) => {
        const y = decodeTensor(b64);
        caseOfficial = Math.max(caseOfficial, lib.maxAbsDiff(y, e.official.outputs[i]));
        caseOracle = Math.max(caseOracle, lib.maxAbsDiff(y, e.oracle.outputs[i]));
      });
      for (const k of Object.keys(e.official.cache)) {
        const y = g.cache[k] ? decodeTensor(g.cache[k]) : new Float64Array(0);
        caseOfficial = Math.max(caseOfficial, lib.maxAbsDiff(y, e.official.cache[k]));
        caseOracle = Math.max(caseOracle, lib.maxAbsDiff(y, e.oracle.cache[k]));
      }
    }
    if (caseOfficial <= tol && caseOracle <= tol) casesPassed++;
    else failures.push(`${name}: max abs error ${caseOfficial.toExponential(2)} vs official, ${caseOracle.toExponential(2)} vs oracle (tolerance ${tol})`);
    vsOfficial = Math.max(vsOfficial, caseOfficial);
    vsOracle = Math.max(vsOracle, caseOracle);
  }
  const decodeErr = lib.maxAbsDiff(decodeTensor(res.decode.output), exp.decode);
  if (!(decodeErr <= tol)) failures.push(`decode step: max abs error ${decodeErr} vs oracle (tolerance ${tol})`);
  const bytesPerElement = res.backend === "reference" ? 8 : 4;
  if (res.decode.bytesPerToken !== exp.latentWidth * bytesPerElement) {
    failures.push(`decode step: cache bytesPerToken ${res.decode.bytesPerToken}, expected (C + dr) x ${bytesPerElement} = ${exp.latentWidth * bytesPerElement}`);
  }
  if (res.backend === "wasm") {
    const want = res.relaxedValid ? "relaxed" : "simd128";
    if (res.build !== want) failures.push(`build: chose ${res.build}, but relaxed SIMD ${res.relaxedValid ? "validates" : "does not validate"} here, so expected ${want}`);
  }
  for (const p of res.probes) if (!p.ok) failures.push(`probe "${p.name}": ${p.detail}`);
  const threads = judgeThreads(res, exp, tol, failures);
  return { pass: failures.length === 0, failures, vsOfficial, vsOracle, decodeErr, casesPassed, cases: exp.cases.size, tol, threads };
}

/** Runtimes that must run two threads when asked (they have shared memory and Workers); the others report what they got. */
export const THREADED_RUNTIMES = /** @type {const} */ (["node", "deno"]);

/**
 * The threaded check: a count and a reason always; with more than one thread, the split-KV decode
 * step after PREFILL_THREADS tokens within the vectors' tolerance of the oracle.
 * @param {any} res @param {Awaited<ReturnType<typeof expectations>>} exp @param {number} tol @param {string[]} failures
 * @returns {{ count: number, reason: string, err: number | null, kit?: string | null } | null}
 */
function judgeThreads(res, exp, tol, failures) {
  if (res.backend !== "wasm") return null;
  const t = res.threads;
  if (!t || !Number.isInteger(t.count) || typeof t.reason !== "string" || !t.reason.startsWith(`${t.count}: `)) {
    failures.push(`threads: no count and reason reported (${JSON.stringify(t)})`);
    return null;
  }
  const must = THREADED_RUNTIMES.some((r) => String(res.runtime).startsWith(`${r} `));
  if (must && t.count !== 2) failures.push(`threads: asked for 2, got ${t.reason} (this runtime has shared memory and Workers)`);
  if (t.count === 1) return { count: 1, reason: t.reason, err: null };
  if (typeof t.output !== "string") {
    failures.push(`threads: ${t.count} threads but no decode output`);
    return { count: t.count, reason: t.reason, err: null };
  }
  const err = lib.maxAbsDiff(decodeTensor(t.output), exp.decodeThreads);
  if (!(err <= tol)) failures.push(`threads: ${t.count}-thread decode step after ${PREFILL_THREADS} tokens: max abs error ${err} vs oracle (tolerance ${tol})`);
  if (!t.kit || !(t.kit.properties > 0)) failures.push(`threads: the conformance kit did not run on ${t.count} threads`);
  else if (!t.kit.pass) failures.push(`threads: the conformance kit failed on ${t.count} threads (${t.kit.failed.join(", ")}; seed ${t.kit.seed})\n${t.kit.report ?? ""}`);
  return { count: t.count, reason: t.reason, err, kit: t.kit ? `${t.kit.properties - t.kit.failed.length}/${t.kit.properties}` : null };
}
