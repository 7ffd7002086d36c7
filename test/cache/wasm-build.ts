// Builds assembly/codecs.ts alone with the AssemblyScript compiler API (about 3 s), for the codec
// tests. Switch to the core module's loader (src/wasm/) once it re-exports the codecs.
import asc from "assemblyscript/asc";
import { readFileSync } from "node:fs";
import { type CodecExports, WasmCodecs } from "../../src/cache/wasm-codecs.js";

let built: Promise<WasmCodecs> | undefined;

export function wasmCodecs(): Promise<WasmCodecs> {
  built ??= (async () => {
    const source = readFileSync(new URL("../../assembly/codecs.ts", import.meta.url), "utf8");
    const r = await asc.compileString({ "codecs.ts": source }, { optimizeLevel: 3, runtime: "stub", noAssert: true, enable: ["simd"] });
    if (r.error || !r.binary) throw new Error(`asc failed: ${r.error?.message}\n${r.stderr.toString()}`);
    const { instance } = await WebAssembly.instantiate(r.binary, {});
    return new WasmCodecs(instance.exports as unknown as CodecExports);
  })();
  return built;
}
