// @ts-check
// Where the WASM builds are, and which backend the matrix runs by default.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./bundle.mjs";

/** "reference" until the wasm backend lands (issue 8 asks for the harness to work with both). */
export const DEFAULT_BACKEND = "reference";

/** build name -> .wasm file. */
export function wasmBuilds() {
  const files = { simd128: join(ROOT, "build", "mlakit-simd128.wasm"), relaxed: join(ROOT, "build", "mlakit-relaxed.wasm") };
  for (const f of Object.values(files)) if (!existsSync(f)) throw new Error(`${f} is missing: build the WASM core first (npm run build)`);
  return files;
}
