// @ts-check
// Where the WASM builds are, and which backend the matrix runs by default.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./bundle.mjs";

/** The wasm backend; `--backend reference` runs the same matrix on the float64 oracle. */
export const DEFAULT_BACKEND = "wasm";

/** build name -> .wasm file. */
export function wasmBuilds() {
  const files = { simd128: join(ROOT, "build", "mla-simd128.wasm"), relaxed: join(ROOT, "build", "mla-relaxed.wasm") };
  for (const f of Object.values(files)) if (!existsSync(f)) throw new Error(`${f} is missing: build the WASM core first (npm run build)`);
  return files;
}
