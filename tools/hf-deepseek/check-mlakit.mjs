#!/usr/bin/env node
// Runs mlakit's Hugging Face import on every hf-deepseek-vectors/1 case and compares with transformers:
// fromHfConfig(config.json) -> openCheckpoint(model.safetensors) -> loadMlaWeights -> createReferenceMla
// (naive and absorbed) -> every call of case.json. Prints one line per case (max abs error, or why
// mlakit refused the config) and, with --json, the same as JSON.
//
//   npm run -s build:ts && node tools/hf-deepseek/check-mlakit.mjs vectors/hf-deepseek [--dist DIR] [--atol 1e-5] [--json]
//
// --dist points at another build of mlakit (default: this checkout's dist/). Exit 0 when every case
// either matches within --atol or is an error case transformers refuses too; 1 otherwise.
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const args = process.argv.slice(2);
const flag = (name, def) => {
  const i = args.indexOf(name);
  if (i < 0) return def;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const json = args.includes("--json");
if (json) args.splice(args.indexOf("--json"), 1);
const dist = resolve(flag("--dist", new URL("../../dist", import.meta.url).pathname));
const atol = Number(flag("--atol", "1e-5"));
const root = args[0] ?? "vectors/hf-deepseek";

const mlakit = await import(pathToFileURL(join(dist, "index.js")).href);
const { openCheckpoint } = await import(pathToFileURL(join(dist, "io", "safetensors-file.js")).href);

const results = [];
for (const name of readdirSync(root).sort()) {
  const dir = join(root, name);
  if (!existsSync(join(dir, "case.json"))) continue;
  const kase = JSON.parse(readFileSync(join(dir, "case.json"), "utf8"));
  const hfConfig = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  const r = { name, transformers: kase.transformers_error ? "refuses" : "runs" };
  let cfg;
  try {
    cfg = mlakit.fromHfConfig(hfConfig);
  } catch (e) {
    r.mlakit = "refuses";
    r.error = `${e.name}: ${e.message}`;
    r.pass = Boolean(kase.transformers_error);
    results.push(r);
    continue;
  }
  if (kase.transformers_error) {
    r.mlakit = "accepts";
    r.pass = false;
    results.push(r);
    continue;
  }
  const store = await openCheckpoint(join(dir, kase.weights_file));
  let loaded;
  try {
    loaded = await mlakit.loadMlaWeights(store, cfg);
  } catch (e) {
    r.mlakit = "refuses weights";
    r.error = `${e.name}: ${e.message}`;
    r.pass = false;
    results.push(r);
    await store.close?.();
    continue;
  }
  await store.close?.();
  r.mlakit = "runs";
  for (const path of ["naive", "absorbed"]) {
    const layer = mlakit.createReferenceMla(loaded.config, loaded.weights, { path });
    let worst = 0;
    for (const call of kase.calls) {
      const y = layer.forward(Float64Array.from(call.input.data), { batch: kase.batch_size, seqlen: call.seqlen, startPos: call.startPos });
      const want = call.output.data;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(y[i] - want[i]));
    }
    layer.dispose?.();
    r[`maxAbsErr_${path}`] = worst;
  }
  r.pass = Math.max(r.maxAbsErr_naive, r.maxAbsErr_absorbed) <= atol;
  results.push(r);
}

if (json) console.log(JSON.stringify({ dist, atol, results }, null, 1));
else {
  for (const r of results) {
    const what = r.mlakit === "runs" ? `naive ${r.maxAbsErr_naive.toExponential(2)}  absorbed ${r.maxAbsErr_absorbed.toExponential(2)}` : `${r.mlakit}${r.error ? `: ${r.error}` : ""}`;
    console.log(`${r.pass ? "ok  " : "FAIL"}  ${r.name.padEnd(40)} transformers ${r.transformers.padEnd(7)} mlakit ${what}`);
  }
  const n = results.filter((r) => r.pass).length;
  console.log(`${n} passed, ${results.length - n} failed`);
}
process.exit(results.every((r) => r.pass) ? 0 : 1);
