// Where the bench finds its files and how it loads WebAssembly in Node 20.
// Node 20 (V8 11.3) rejects relaxed-simd opcodes unless the V8 flag is set before compiling
// (TOOLCHAIN.md); NODE_OPTIONS refuses it, setFlagsFromString does not.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";

v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

/** The repository root: the nearest folder above this file holding mlakit's package.json. */
export const ROOT: string = (() => {
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const p = join(d, "package.json");
    if (existsSync(p) && JSON.parse(readFileSync(p, "utf8")).name === "mlakit") return d;
    const up = dirname(d);
    if (up === d) throw new Error("mlakit package.json not found above " + fileURLToPath(import.meta.url));
    d = up;
  }
})();

export const rootPath = (...parts: string[]): string => join(ROOT, ...parts);

let relaxedCache: boolean | undefined;
/** Whether this engine validates relaxed-simd (FMA) modules; decided once. */
export function relaxedSimdSupported(): boolean {
  if (relaxedCache === undefined) {
    // () -> v128: f32.const 0; f32x4.splat; (x3) ; f32x4.relaxed_madd (0xfd 0x85 0x02)
    const body = [0x00, 0x43, 0, 0, 0, 0, 0xfd, 0x13, 0x43, 0, 0, 0, 0, 0xfd, 0x13, 0x43, 0, 0, 0, 0, 0xfd, 0x13, 0xfd, 0x85, 0x02, 0x0b];
    const bytes = new Uint8Array([
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
      0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b,
      0x03, 0x02, 0x01, 0x00,
      0x0a, body.length + 2, 0x01, body.length, ...body,
    ]);
    relaxedCache = WebAssembly.validate(bytes);
  }
  return relaxedCache;
}

export type Isa = "simd128" | "relaxed";
/** The ISAs this engine runs, best first. */
export function availableIsas(): Isa[] {
  return relaxedSimdSupported() ? ["relaxed", "simd128"] : ["simd128"];
}

/** Instantiates a .wasm file under the root (no imports except an abort stub). */
export async function instantiateFile(relPath: string): Promise<WebAssembly.Instance> {
  const p = rootPath(relPath);
  if (!existsSync(p)) throw new Error(`${relPath} is missing: run \`npm run bench:build\` first`);
  const bytes = readFileSync(p);
  const { instance } = await WebAssembly.instantiate(bytes, {
    env: {
      abort: (_m: number, _f: number, line: number, col: number) => {
        throw new Error(`wasm abort at ${relPath}:${line}:${col}`);
      },
      seed: () => 1,
    },
  });
  return instance;
}

/** The commit the kernels were built from, and whether assembly/ or src/ had uncommitted edits. */
export function sourceState(): { commit: string; dirty: string[] } {
  try {
    const git = (...a: string[]) => execFileSync("git", a, { cwd: rootPath(), encoding: "utf8" }).trim();
    return { commit: git("rev-parse", "HEAD"), dirty: git("status", "--porcelain", "--", "assembly", "src").split("\n").filter(Boolean) };
  } catch {
    return { commit: "unknown (not a git checkout)", dirty: [] };
  }
}
