// @ts-check
// Where the WASM builds are, and which backend the matrix runs by default.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./bundle.mjs";

/** The wasm backend; `--backend reference` runs the same matrix on the float64 oracle. */
export const DEFAULT_BACKEND = "wasm";

/** build name -> .wasm file (the threaded builds too: a runtime that can start Workers runs them). */
export function wasmBuilds() {
  /** @type {Record<string, string>} */
  const files = {};
  for (const b of ["simd128", "relaxed", "simd128-threads", "relaxed-threads"]) files[b] = join(ROOT, "build", `mla-${b}.wasm`);
  for (const f of Object.values(files)) if (!existsSync(f)) throw new Error(`${f} is missing: build the WASM core first (npm run build)`);
  return files;
}
