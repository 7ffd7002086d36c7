// The probe in Node on the package's own WASM builds (src/wasm/node.ts finds them, installed or
// in a clone): `mlakit probe`, and anything else that wants this machine's limits.
import { loadCoreNode } from "../wasm/node.js";
import type { WasmBuildChoice } from "../wasm/loader.js";
import { type ProbeOptions, type ProbeResult, runProbe } from "./probe.js";

export interface NodeProbeOptions extends Omit<ProbeOptions, "cores"> {
  /** "auto" (default): simd128, and relaxed too when the runtime takes it; "simd128" or "relaxed": that build's peak only besides simd128's. */
  build?: WasmBuildChoice;
}

/** runProbe on the package's builds; which builds were measured is in the result (peakRelaxedGflops null: relaxed not measured). */
export async function runProbeNode(options: NodeProbeOptions = {}): Promise<ProbeResult & { builds: string[] }> {
  const { build = "auto", ...rest } = options;
  const simd128 = (await loadCoreNode("simd128")).module;
  let relaxed: WebAssembly.Module | undefined;
  if (build !== "simd128") {
    const core = await loadCoreNode(build); // "relaxed" where the runtime refuses it: a ConfigError naming build
    if (core.build === "relaxed") relaxed = core.module;
  }
  const r = await runProbe({ ...rest, cores: { simd128, relaxed } });
  return { ...r, builds: relaxed ? ["simd128", "relaxed"] : ["simd128"] };
}
