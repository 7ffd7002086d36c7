// Builds the bench's own WebAssembly: the numbered kernel variants (assembly/variants/*.ts except
// _helpers), each twice: simd128 and relaxed-simd (FMA), and the probe's read loops over an
// imported memory. Output: build/probe-import-simd128.wasm, build/variants/<name>-{simd128,relaxed}.wasm.
// The core (assembly/index.ts, the machine probe included) is built by the project's own build script.
//
// One process runs the AssemblyScript compiler API for every module (a separate `asc` process
// per module spent most of its time starting up). A module is rebuilt only when it is stale: next
// to each output, `<out>.deps.json` records the flags and every source file the compiler read
// (the entry, the helpers and core modules it imports, the config), and the output is fresh only
// if none of them changed since that build started. `npm test` runs this in its pretest step and
// test/bench/variants.test.ts calls buildBenchWasm() again (a no-op when nothing changed).
//   node bench/build-wasm.mjs
import { mkdirSync, readdirSync, statSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, basename, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SELF = fileURLToPath(import.meta.url);
const root = join(dirname(SELF), "..");
const BUILDS = { simd128: "simd", relaxed: "simd,relaxed-simd" };

/** Every module this script builds: { src, out, args } with paths absolute. */
export function benchWasmTargets() {
  const list = [];
  const add = (src, outStem, builds = BUILDS, extra = []) => {
    for (const [tag, features] of Object.entries(builds)) {
      const out = `${outStem}-${tag}.wasm`;
      list.push({ src, out, args: [src, "-o", out, "-O3", "--runtime", "stub", "--noAssert", "--enable", features, "--initialMemory", "1", ...extra,
        // An explicit (empty) config: asc would otherwise merge the root asconfig.json, whose entries
        // pull the whole core (and its static data) into every module built here.
        "--config", join(root, "bench", "asconfig.json")] });
    }
  };
  // The probe's read loops over ANOTHER instance's memory (env.memory): the bandwidth of the very
  // buffer a kernel streams (its placement in physical memory decides 22-29 GB/s on this VM).
  add(join(root, "assembly", "variants", "_probe_read.ts"), join(root, "build", "probe-import"), { simd128: "simd" }, ["--importMemory"]);
  const vdir = join(root, "assembly", "variants");
  for (const f of readdirSync(vdir).filter((f) => f.endsWith(".ts") && !f.startsWith("_")).sort())
    add(join(vdir, f), join(root, "build", "variants", basename(f, ".ts")));
  return list;
}

const depsPath = (out) => out + ".deps.json";

/** Whether `out` exists and was built with these args from sources none of which changed since. */
export function isFresh(t) {
  if (!existsSync(t.out) || !existsSync(depsPath(t.out))) return false;
  let rec;
  try {
    rec = JSON.parse(readFileSync(depsPath(t.out), "utf8"));
  } catch {
    return false;
  }
  if (JSON.stringify(rec.args) !== JSON.stringify(t.args)) return false;
  return [SELF, ...rec.files].every((f) => existsSync(f) && statSync(f).mtimeMs < rec.started);
}

let asc; // the compiler, loaded only when something is stale (about 1 s)

async function compile(t) {
  asc ??= (await import("assemblyscript/asc")).default;
  const started = Date.now();
  const files = new Set();
  const { error, stderr } = await asc.main(t.args, {
    stdout: process.stdout,
    stderr: process.stderr,
    readFile(name, baseDir) {
      const p = resolve(baseDir, name);
      if (!existsSync(p)) return null; // asc probes several candidates (x.ts, x/index.ts)
      files.add(p);
      return readFileSync(p, "utf8");
    },
    writeFile(name, contents, baseDir) {
      const p = resolve(baseDir, name);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, contents);
    },
  });
  if (error) throw new Error(`asc failed for ${t.src}: ${error.message}\n${stderr.toString()}`);
  writeFileSync(depsPath(t.out), JSON.stringify({ started, args: t.args, files: [...files].sort() }, null, 1) + "\n");
}

/** Builds every stale module; returns the outputs it built. */
export async function buildBenchWasm() {
  const built = [];
  for (const t of benchWasmTargets()) {
    if (isFresh(t)) continue;
    await compile(t);
    built.push(t.out);
  }
  return built;
}

if (process.argv[1] && resolve(process.argv[1]) === SELF) await buildBenchWasm();
