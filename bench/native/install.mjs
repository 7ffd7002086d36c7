// Installs the native peer (node-llama-cpp, pinned in bench/native/package-lock.json) into
// bench/native/node_modules when it is missing or not the pinned version. It is ~730 MB of
// prebuilt llama.cpp binaries for every platform variant, which is why it is not a dependency of
// the project: `npm ci` and `npm test` never see it. Install scripts are skipped: the prebuilt
// binaries are used as shipped (the bench loads them with build "never"), nothing is compiled.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const pinned = JSON.parse(readFileSync(join(here, "package.json"), "utf8")).dependencies["node-llama-cpp"];
const installed = join(here, "node_modules", "node-llama-cpp", "package.json");
const version = existsSync(installed) ? JSON.parse(readFileSync(installed, "utf8")).version : null;

if (version === pinned) {
  console.log(`bench:native: node-llama-cpp ${pinned} is installed (bench/native/node_modules)`);
} else {
  console.log(`bench:native: installing node-llama-cpp ${pinned} into bench/native/node_modules (about 730 MB, once; found ${version ?? "none"})`);
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const r = spawnSync(npm, ["ci", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: here, stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`bench:native: npm ci in bench/native failed (exit ${r.status ?? r.signal}); the peer needs the npm registry once`);
    process.exit(1);
  }
}
