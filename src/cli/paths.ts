// Locate files shipped with the package (vectors/, build/) from src/ (vitest) or dist/ (CLI).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | undefined;

/** The directory of mlakit's package.json. */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, "package.json");
    if (existsSync(pj) && (JSON.parse(readFileSync(pj, "utf8")) as { name?: string }).name === "mlakit") return (cached = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error("mlakit: cannot find the package root (package.json named mlakit) above " + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** The bundled official vectors (copied from DeepSeek's model.py runs; README inside). */
export function bundledVectorsDir(): string {
  return join(packageRoot(), "vectors", "deepseek-v3-mla");
}
