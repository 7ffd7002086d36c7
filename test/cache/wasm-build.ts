// The WASM codecs for the tests, from the core module (assembly/index.ts re-exports
// assembly/codecs.ts) in each kernel build, including the asserting one (test/wasm/helpers.ts);
// `npm test` builds them first.
import { WasmCodecs } from "../../src/wasm/codecs.js";
import { type KernelBuild, kernels } from "../wasm/helpers.js";

export type CodecSource = KernelBuild;

export async function wasmCodecs(source: CodecSource): Promise<WasmCodecs> {
  return new WasmCodecs(await kernels(source));
}
