// @ts-check
// The one place the runtime checks meet the backends: which backend, which WASM build, and the
// probes of what a runtime may lack. Everything else in checks.js is backend-agnostic.

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
 * @param {typeof import("../../dist/index.js")} lib
 * @param {"wasm" | "reference"} name
 * @param {WasmSources | undefined} wasm
 * @returns {Promise<{ backend: import("../../dist/index.js").Backend, build: string, relaxedValid: boolean }>}
 */
export async function selectBackend(lib, name, wasm) {
  const relaxedValid = relaxedSimdValid();
  if (name === "reference") return { backend: lib.referenceBackend, build: "-", relaxedValid };
  throw new Error(`backend "${name}" is not available in this build of mlakit (wasm sources: ${Object.keys(wasm ?? {}).join(", ") || "none"})`);
}

/**
 * Probes of what a runtime may lack, for the chosen backend.
 * @param {typeof import("../../dist/index.js")} lib
 * @param {"wasm" | "reference"} name
 * @param {WasmSources | undefined} wasm
 * @param {Record<string, unknown>} env
 * @returns {Promise<import("./checks.js").Probe[]>}
 */
export async function runBackendProbes(lib, name, wasm, env) {
  void lib, wasm, env;
  if (name === "reference") return [];
  return [];
}
