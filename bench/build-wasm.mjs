// Builds the bench's own WebAssembly: the machine probe (assembly/probe.ts) and the numbered kernel
// variants (assembly/variants/*.ts except _helpers), each twice: simd128 and relaxed-simd (FMA).
// Output: build/probe-{simd128,relaxed}.wasm, build/probe-import-simd128.wasm (reads an imported
// memory), build/variants/<name>-{simd128,relaxed}.wasm.
// The core kernels (assembly/ outside these files) are built by the project's own build script.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, statSync, existsSync } from "node:fs";
import { dirname, join, basename } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const asc = join(root, "node_modules", ".bin", "asc");
const BUILDS = { simd128: "simd", relaxed: "simd,relaxed-simd" };

function build(src, outStem, builds = BUILDS, extra = []) {
  for (const [tag, features] of Object.entries(builds)) {
    const out = `${outStem}-${tag}.wasm`;
    // Skip when the output is newer than the source (variants are many; rebuilding all is slow).
    if (existsSync(out) && statSync(out).mtimeMs > Math.max(statSync(src).mtimeMs, statSync(import.meta.filename ?? fileURLToPath(import.meta.url)).mtimeMs)) continue;
    mkdirSync(dirname(out), { recursive: true });
    execFileSync(asc, [src, "-o", out, "-O3", "--runtime", "stub", "--noAssert", "--enable", features, "--initialMemory", "1", ...extra,
      // An explicit (empty) config: asc would otherwise merge the root asconfig.json, whose entries
      // pull the whole core (and its static data) into every module built here.
      "--config", join("bench", "asconfig.json")], { cwd: root, stdio: "inherit" });
  }
}

build(join(root, "assembly", "probe.ts"), join(root, "build", "probe"));
// The probe's read loops over ANOTHER instance's memory (env.memory): the bandwidth of the very
// buffer a kernel streams (its placement in physical memory decides 22-29 GB/s on this VM).
build(join(root, "assembly", "variants", "_probe_read.ts"), join(root, "build", "probe-import"), { simd128: "simd" }, ["--importMemory"]);
const vdir = join(root, "assembly", "variants");
if (existsSync(vdir)) {
  for (const f of readdirSync(vdir).filter((f) => f.endsWith(".ts") && !f.startsWith("_")).sort()) {
    build(join(vdir, f), join(root, "build", "variants", basename(f, ".ts")));
  }
}
