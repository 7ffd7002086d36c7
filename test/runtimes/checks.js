// @ts-check
// What every runtime runs (bundled with mlakit's browser-safe entry into one ES module): the
// official vectors through both paths, one absorbed decode step, and the capability probes.
// It only computes and reports raw numbers; the Node harness (run.mjs) judges them against the
// official outputs and against the oracle run in Node, so a runtime cannot pass by mis-comparing.

import * as mlakit from "mlakit";
import * as kit from "mlakit/conformance";
import { decodeCase, PREFILL } from "./decode-case.js";
import { selectBackend, runBackendProbes, runThreadsCheck } from "./backend-select.js";
import { encodeTensor } from "./tensor-text.js";

export { encodeTensor };

/** @typedef {{ name: string, ok: boolean, detail: string }} Probe */

/**
 * @param {{
 *   runtime: string,
 *   backend: "wasm" | "reference",
 *   vectors: { name: string, text: string }[],
 *   wasm?: import("./backend-select.js").WasmSources,
 *   env?: Record<string, unknown>,
 *   makeThreaded?: (threads: number) => Promise<import("../../dist/index.js").WasmBackend>,
 *   threadedKit?: typeof import("../../dist/conformance/index.js"),
 * }} o
 */
export async function runChecks(o) {
  const started = Date.now();
  const chosen = await selectBackend(mlakit, o.backend, o.wasm);
  const backend = chosen.backend;
  const cases = [];
  for (const { name, text } of o.vectors) {
    const c = mlakit.parseVectorCaseText(text, name);
    /** @type {Record<string, { outputs: string[], cache: Record<string, string> }>} */
    const paths = {};
    for (const path of /** @type {const} */ (["naive", "absorbed"])) {
      const layer = await backend.createMla(c.config, c.weights, { path });
      try {
        const outputs = c.calls.map((call) => encodeTensor(layer.forward(call.input.data, { batch: c.batch, seqlen: call.seqlen, startPos: call.startPos })));
        const last = c.calls[c.calls.length - 1];
        const snap = layer.cache.snapshot(c.batch, last.startPos + last.seqlen);
        /** @type {Record<string, string>} */
        const cache = {};
        for (const [k, t] of Object.entries(snap)) cache[k] = encodeTensor(t.data);
        paths[path] = { outputs, cache };
      } finally {
        layer.dispose();
      }
    }
    cases.push({ name: c.name, naive: paths.naive, absorbed: paths.absorbed });
  }

  // One absorbed decode step after a prefill, at DeepSeek's head geometry.
  const d = decodeCase(mlakit);
  const layer = await backend.createMla(d.config, d.weights, { path: "absorbed" });
  let decode;
  try {
    layer.forward(d.prefill, { batch: 1, seqlen: PREFILL, startPos: 0 });
    const y = layer.forward(d.step, { batch: 1, seqlen: 1, startPos: PREFILL });
    decode = { output: encodeTensor(y), bytesPerToken: layer.cache.bytesPerToken(), tokens: layer.cache.length(0), bytesInUse: layer.cache.bytesInUse() };
  } finally {
    layer.dispose();
  }

  /** @type {Probe[]} */
  const probes = [await typedErrorProbe(backend, d), ...(await runBackendProbes(mlakit, o.backend, o.wasm, o.env ?? {}, d))];
  const threads = await runThreadsCheck(mlakit, o.threadedKit ?? kit, o.backend, o.wasm, o.makeThreaded);
  return { runtime: o.runtime, backend: backend.name, build: chosen.build, relaxedValid: chosen.relaxedValid, cases, decode, threads, probes, ms: Date.now() - started };
}

/**
 * Bad input in this runtime gives the library's typed error (instanceof survives bundling) and a
 * failed call leaves the cache as it was.
 * @param {import("../../dist/index.js").Backend} backend
 * @param {ReturnType<typeof decodeCase>} d
 * @returns {Promise<Probe>}
 */
async function typedErrorProbe(backend, d) {
  const layer = await backend.createMla(d.config, d.weights, { path: "absorbed" });
  try {
    layer.forward(d.step, { batch: 1, seqlen: 1, startPos: 0 });
    const before = layer.cache.length(0);
    try {
      layer.forward(new Float32Array(d.config.dim + 1), { batch: 1, seqlen: 1, startPos: 1 });
      return { name: "typed error", ok: false, detail: "a wrong-length input was accepted" };
    } catch (e) {
      const ok = e instanceof mlakit.ShapeError && /** @type {any} */ (e).field === "x.length" && layer.cache.length(0) === before;
      return { name: "typed error", ok, detail: `${/** @type {Error} */ (e).name}: ${/** @type {Error} */ (e).message}; cache length ${before} -> ${layer.cache.length(0)}` };
    }
  } finally {
    layer.dispose();
  }
}
