// The cache-format section alone (`npm run bench` runs it too, inside bench/run.ts):
//   npm run -s bench:build && flock /tmp/mlakit-heavy.lock node build/bench-js/bench/cache-formats-main.js [--quick]
// Writes bench/results/cache-formats.{json,md} and puts the section into bench/results/latest.md
// (replacing an earlier one) and `cacheFormats` into latest.json, so the report of the last full
// run carries the newest cache-format figures.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { availableIsas, rootPath, type Isa } from "./lib/env.js";
import { loadCore, type CoreModule } from "./lib/core.js";
import { FULL, QUICK } from "./lib/timing.js";
import { makeL3Flusher } from "./probe.js";
import { cacheFormatsMarkdown, runCacheFormats } from "./cache-formats.js";

const quick = process.argv.includes("--quick");
const plan = quick ? QUICK : FULL;
const dramPlan = { ...plan, time: 0, iterations: quick ? plan.iterations : 15 }; // as bench/run.ts: L3 flushed, counted samples
const isas = availableIsas();
const cores = {} as Record<Isa, CoreModule>;
for (const isa of isas) cores[isa] = await loadCore(isa);
const flush = await makeL3Flusher();
const r = await runCacheFormats(cores, isas, dramPlan, flush, (s) => console.log(s));
const md = cacheFormatsMarkdown(r);
const stamp = `\n(${quick ? "quick" : "full"} run of bench/cache-formats-main.ts, ${new Date().toISOString()})\n`;
writeFileSync(rootPath("bench", "results", "cache-formats.json"), JSON.stringify({ date: new Date().toISOString(), mode: quick ? "quick" : "full", ...r }, null, 2) + "\n");
writeFileSync(rootPath("bench", "results", "cache-formats.md"), md.trimStart() + stamp);
const latestMd = rootPath("bench", "results", "latest.md"), latestJson = rootPath("bench", "results", "latest.json");
if (existsSync(latestMd)) {
  const cur = readFileSync(latestMd, "utf8");
  const at = cur.indexOf("\n## Latent cache formats");
  writeFileSync(latestMd, (at >= 0 ? cur.slice(0, at) : cur) + md + stamp);
}
if (existsSync(latestJson)) {
  const j = JSON.parse(readFileSync(latestJson, "utf8"));
  j.cacheFormats = r;
  writeFileSync(latestJson, JSON.stringify(j, null, 2) + "\n");
}
console.log(md);
