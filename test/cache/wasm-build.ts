// The WASM codecs for the tests, from two places:
//  - "core-simd128" / "core-relaxed": the core module (build/mla-*.wasm, assembly/index.ts re-exports
//    assembly/codecs.ts), loaded through src/wasm/node.ts; `npm test` builds it first.
//  - "standalone": assembly/codecs.ts compiled alone with the AssemblyScript compiler API (about
//    3 s), so the codec tests also run on a tree whose build/ is missing or stale.
import asc from "assemblyscript/asc";
import { readFileSync } from "node:fs";
import { type CodecExports, WasmCodecs } from "../../src/cache/wasm-codecs.js";
import { loadCoreNode } from "../../src/wasm/node.js";

export type CodecSource = "core-simd128" | "core-relaxed" | "standalone";

const built = new Map<CodecSource, Promise<WasmCodecs>>();

async function standalone(): Promise<WasmCodecs> {
  const source = readFileSync(new URL("../../assembly/codecs.ts", import.meta.url), "utf8");
  const r = await asc.compileString({ "codecs.ts": source }, { optimizeLevel: 3, runtime: "stub", noAssert: true, enable: ["simd"] });
  if (r.error || !r.binary) throw new Error(`asc failed: ${r.error?.message}\n${r.stderr.toString()}`);
  const instance = await WebAssembly.instantiate(new WebAssembly.Module(r.binary as Uint8Array<ArrayBuffer>), {});
  return new WasmCodecs(instance.exports as unknown as CodecExports);
}

async function core(build: "simd128" | "relaxed"): Promise<WasmCodecs> {
  const compiled = await loadCoreNode(build);
  const instance = await WebAssembly.instantiate(compiled.module, {});
  const ex = instance.exports as unknown as CodecExports;
  if (typeof ex.codec_encode !== "function") throw new Error(`build/mla-${build}.wasm has no codec_encode: stale build, run \`npm run build\``);
  return new WasmCodecs(ex); // scratch starts at the memory's current end: pages grown later are ours
}

export function wasmCodecs(source: CodecSource = "standalone"): Promise<WasmCodecs> {
  let p = built.get(source);
  if (!p) {
    p = source === "standalone" ? standalone() : core(source === "core-simd128" ? "simd128" : "relaxed");
    built.set(source, p);
  }
  return p;
}
