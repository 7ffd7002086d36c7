// Typed access to bench/build-wasm.mjs (plain JS so that it runs before any TypeScript is
// compiled; imported by URL here because it has no declaration file).
interface BuildWasm {
  /** Builds every stale bench module (probe, variants) in this process; returns the outputs built. */
  buildBenchWasm(): Promise<string[]>;
}

export async function buildBenchWasm(): Promise<string[]> {
  const m = (await import(new URL("../../bench/build-wasm.mjs", import.meta.url).href)) as BuildWasm;
  return m.buildBenchWasm();
}
