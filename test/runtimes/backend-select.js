// @ts-check
// The one place the runtime checks meet the backends: which backend, which WASM build, and the
// probes of what a runtime may lack. Everything else in checks.js is backend-agnostic.
import { decodeCase, PREFILL_THREADS } from "./decode-case.js";
import { encodeTensor } from "./tensor-text.js";

/**
 * WASM as a runtime can hand it over: bytes (Node, Deno, Bun) or precompiled modules (workerd,
 * where compiling from bytes is disallowed and a deployment ships modules).
 * @typedef {{ simd128?: Uint8Array | WebAssembly.Module, relaxed?: Uint8Array | WebAssembly.Module }} WasmSources
 */

/**
 * Does this engine accept relaxed-SIMD opcodes? Independent of the library's own detection: a
 * hand-assembled module whose one function is `f32x4.relaxed_madd` of three v128 constants
 * (opcode 0xfd 0x105, LEB128 0x85 0x02). A twin with `f32x4.add` (0xfd 0xe4 0x01) must validate
 * everywhere, so a malformed probe cannot pass for "no relaxed SIMD".
 */
export function relaxedSimdValid() {
  /** @param {number} operands @param {number[]} op */
  const mod = (operands, op) => {
    const body = [0x00]; // no locals
    for (let k = 0; k < operands; k++) body.push(0xfd, 0x0c, ...new Array(16).fill(0)); // v128.const 0
    body.push(0xfd, ...op, 0x0b);
    // magic, version, type () -> v128, one function of that type, its code
    return new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7b, 3, 2, 1, 0, 10, body.length + 2, 1, body.length, ...body]);
  };
  if (!WebAssembly.validate(mod(2, [0xe4, 0x01]))) throw new Error("relaxed-SIMD probe: the simd128 twin does not validate (malformed probe or no SIMD at all)");
  return WebAssembly.validate(mod(3, [0x85, 0x02]));
}

/**
 * The wasm backend from whatever the runtime handed over: precompiled modules (workerd) or bytes.
 * @param {typeof import("../../dist/index.js")} lib
 * @param {WasmSources} wasm
 * @param {"auto" | "simd128" | "relaxed"} build
 * @param {{ memoryLimitBytes?: number, threads?: number, threadMinWork?: number }} [options]
 */
export async function makeWasmBackend(lib, wasm, build, options = {}) {
  if (wasm.simd128 instanceof WebAssembly.Module) return lib.createWasmBackendFromModules(/** @type {any} */ (wasm), build, options);
  return lib.createWasmBackendFromBytes(/** @type {any} */ (wasm), build, options);
}

/**
 * @param {typeof import("../../dist/index.js")} lib
 * @param {"wasm" | "reference"} name
 * @param {WasmSources | undefined} wasm
 * @returns {Promise<{ backend: import("../../dist/index.js").Backend, build: string, relaxedValid: boolean }>}
 */
export async function selectBackend(lib, name, wasm) {
  const relaxedValid = relaxedSimdValid();
  if (name === "reference") return { backend: lib.referenceBackend, build: "-", relaxedValid };
  if (!wasm?.simd128) throw new Error("the wasm backend needs the WASM builds (none were handed over)");
  const backend = await makeWasmBackend(lib, wasm, "auto");
  return { backend, build: backend.build, relaxedValid };
}

/** The kit's properties the threaded check runs (the weight checks never reach a thread). */
const THREADED_KIT = (/** @type {typeof import("../../dist/conformance/index.js")} */ kit) => kit.PROPERTY_NAMES.filter((n) => !n.startsWith("bad-weights"));
const KIT_SEED = 20261202;

/**
 * Two threads asked for (every call split as far as it goes: threadMinWork 0): what the backend
 * got and why, and (when it got them) one absorbed decode step after PREFILL_THREADS tokens, whose
 * split-KV output the harness judges against the oracle, and the conformance kit on the backend.
 * @param {typeof import("../../dist/index.js")} lib
 * @param {typeof import("../../dist/conformance/index.js")} kit
 * @param {"wasm" | "reference"} name
 * @param {WasmSources | undefined} wasm
 * @param {((threads: number) => Promise<import("../../dist/index.js").WasmBackend>) | undefined} makeThreaded
 *   how this runtime's row makes a threaded backend (Node's: createWasmBackend of mlakit/wasm-node, worker_threads); default the bytes/modules entry
 */
export async function runThreadsCheck(lib, kit, name, wasm, makeThreaded) {
  if (name === "reference" || !wasm) return null;
  const backend = makeThreaded ? await makeThreaded(2) : /** @type {import("../../dist/index.js").WasmBackend} */ (await makeWasmBackend(lib, wasm, "auto", { threads: 2, threadMinWork: 0 }));
  const { count, reason } = backend.threads;
  if (count === 1) return { count, reason, build: backend.build };
  const d = decodeCase(lib, PREFILL_THREADS);
  const layer = await backend.createMla(d.config, d.weights, { path: "absorbed" });
  try {
    layer.forward(d.prefill, { batch: 1, seqlen: PREFILL_THREADS, startPos: 0 });
    const y = layer.forward(d.step, { batch: 1, seqlen: 1, startPos: PREFILL_THREADS });
    const r = await kit.checkBackend(backend, { numRuns: 4, seed: KIT_SEED, properties: THREADED_KIT(kit) });
    const failed = r.properties.filter((p) => !p.pass).map((p) => p.name);
    return { count, reason, build: backend.build, output: encodeTensor(y), kit: { pass: r.pass, properties: r.properties.length, failed, seed: r.seed, ...(r.pass ? {} : { report: r.report }) } };
  } finally {
    layer.dispose();
  }
}

/** @param {unknown} e */
const describe = (e) => `${/** @type {Error} */ (e)?.name}: ${/** @type {Error} */ (e)?.message}`;

/**
 * Probes of what a runtime may lack, for the wasm backend (none for the reference).
 * @param {typeof import("../../dist/index.js")} lib
 * @param {"wasm" | "reference"} name
 * @param {WasmSources | undefined} wasm
 * @param {Record<string, unknown>} env runtime extras (workerd: SIMD128_BYTES, the simd128 build as plain bytes)
 * @param {{ config: import("../../dist/index.js").MlaConfig, weights: import("../../dist/index.js").MlaWeights, prefill: Float32Array, step: Float32Array }} d the decode case
 * @returns {Promise<import("./checks.js").Probe[]>}
 */
export async function runBackendProbes(lib, name, wasm, env, d) {
  if (name === "reference" || !wasm) return [];
  const probes = [await forcedRelaxedProbe(lib, wasm), await memoryCapProbe(lib, wasm), await sharedBudgetProbe(lib, wasm, d)];
  if (env.SIMD128_BYTES) probes.push(await bytesRefusedProbe(lib, env.SIMD128_BYTES));
  return probes;
}

/**
 * Ask for the relaxed build outright. Where relaxed SIMD validates it must be used; where it
 * does not (Node 20 without its flag) the loader must refuse with a ConfigError naming "build".
 * @param {typeof import("../../dist/index.js")} lib @param {WasmSources} wasm
 */
async function forcedRelaxedProbe(lib, wasm) {
  const name = "forced relaxed build";
  const valid = relaxedSimdValid();
  try {
    const b = await makeWasmBackend(lib, wasm, "relaxed");
    return { name, ok: valid && b.build === "relaxed", detail: `relaxed SIMD ${valid ? "validates" : "does NOT validate"} here; the loader gave build ${b.build}` };
  } catch (e) {
    const ok = !valid && e instanceof lib.ConfigError && e.field === "build";
    return { name, ok, detail: `relaxed SIMD ${valid ? "validates" : "does not validate"} here; the loader refused: ${describe(e)}` };
  }
}

/**
 * A cache bigger than the 128 MiB Workers cap: workerd must apply the cap by itself (detected),
 * the others take it as an option. One prefill asks for 4200 tokens x (8192 + 64) x 4 B = 139 MB
 * of cache: a typed CacheError before any compute, the cache unchanged, the layer still usable.
 * @param {typeof import("../../dist/index.js")} lib @param {WasmSources} wasm
 */
async function memoryCapProbe(lib, wasm) {
  const name = "cache past the 128 MiB cap";
  const cap = lib.WORKERS_MEMORY_LIMIT_BYTES;
  const detected = (await makeWasmBackend(lib, wasm, "auto")).memoryLimitBytes;
  const inWorkers = lib.isCloudflareWorkers();
  if (detected !== (inWorkers ? cap : undefined)) return { name, ok: false, detail: `default memory limit ${detected} in ${inWorkers ? "Workers" : "a runtime without a known cap"}` };
  const backend = await makeWasmBackend(lib, wasm, "auto", inWorkers ? {} : { memoryLimitBytes: cap });
  const config = lib.makeConfig({ dim: 32, n_heads: 1, q_lora_rank: 0, kv_lora_rank: 8192, qk_nope_head_dim: 16, qk_rope_head_dim: 64, v_head_dim: 16, max_seq_len: 8192, original_seq_len: 8192, max_batch_size: 1 });
  const layer = await backend.createMla(config, lib.randomMlaWeights(config, new lib.Rng(7)), { path: "absorbed" });
  try {
    const T = 4200;
    try {
      layer.forward(new Float32Array(T * config.dim).fill(0.5), { batch: 1, seqlen: T, startPos: 0 });
      return { name, ok: false, detail: `a ${T}-token cache (${(T * layer.cache.bytesPerToken()) / 2 ** 20} MiB) was accepted under a ${cap / 2 ** 20} MiB cap` };
    } catch (e) {
      const unchanged = layer.cache.length(0) === 0;
      const y = layer.forward(new Float32Array(8 * config.dim).fill(0.5), { batch: 1, seqlen: 8, startPos: 0 });
      const usable = layer.cache.length(0) === 8 && y.every(Number.isFinite);
      const ok = e instanceof lib.CacheError && unchanged && usable;
      return { name, ok, detail: `limit ${inWorkers ? "detected" : "given"}: ${describe(e)}; cache length after it ${unchanged ? "0 (unchanged)" : "CHANGED"}; then 8 tokens ${usable ? "ok" : "FAILED"}` };
    }
  } finally {
    layer.dispose();
  }
}

/**
 * The cap covers all live layers of a backend and a disposed layer gives its memory back.
 * @param {typeof import("../../dist/index.js")} lib @param {WasmSources} wasm
 * @param {{ config: import("../../dist/index.js").MlaConfig, weights: import("../../dist/index.js").MlaWeights, prefill: Float32Array }} d
 */
async function sharedBudgetProbe(lib, wasm, d) {
  const name = "shared memory budget";
  const free = await makeWasmBackend(lib, wasm, "auto", { memoryLimitBytes: 2 ** 31 });
  const l0 = await free.createMla(d.config, d.weights, { path: "absorbed" });
  const one = l0.kernels.arena.bytesReserved(); // a fresh layer's memory
  l0.dispose();
  const tight = await makeWasmBackend(lib, wasm, "auto", { memoryLimitBytes: one });
  const steps = [];
  const l1 = await tight.createMla(d.config, d.weights, { path: "absorbed" });
  steps.push("layer 1 fits");
  let ok = true;
  try {
    l1.forward(d.prefill, { batch: 1, seqlen: d.prefill.length / d.config.dim, startPos: 0 });
    ok = false;
    steps.push("prefill past the limit ACCEPTED");
  } catch (e) {
    ok &&= e instanceof lib.CacheError && l1.cache.length(0) === 0;
    steps.push(`prefill past the limit: ${/** @type {Error} */ (e).name}, cache length ${l1.cache.length(0)}`);
  }
  try {
    (await tight.createMla(d.config, d.weights, { path: "absorbed" })).dispose();
    ok = false;
    steps.push("layer 2 beside layer 1 ACCEPTED");
  } catch (e) {
    ok &&= e instanceof lib.CacheError;
    steps.push(`layer 2 beside layer 1: ${/** @type {Error} */ (e).name}`);
  }
  l1.dispose();
  try {
    (await tight.createMla(d.config, d.weights, { path: "absorbed" })).dispose();
    steps.push("layer 2 after disposing layer 1 fits");
  } catch (e) {
    ok = false;
    steps.push(`layer 2 after disposing layer 1 FAILED: ${describe(e)}`);
  }
  return { name, ok, detail: `limit ${one} B (one layer): ${steps.join("; ")}` };
}

/**
 * workerd only: bytes handed to the loader (instead of modules) must give a clear typed error,
 * since the runtime refuses to compile WASM at run time.
 * @param {typeof import("../../dist/index.js")} lib @param {unknown} bytes
 */
async function bytesRefusedProbe(lib, bytes) {
  const name = "bytes refused in workerd";
  try {
    const b = await lib.createWasmBackendFromBytes({ simd128: new Uint8Array(/** @type {ArrayBuffer} */ (bytes)) }, "simd128");
    return { name, ok: false, detail: `compiled from bytes (build ${b.build}): this runtime allows code generation after all` };
  } catch (e) {
    const ok = e instanceof lib.ConfigError && /Module/.test(e.message) && /createWasmBackendFromModules/.test(e.message);
    return { name, ok, detail: describe(e) };
  }
}
