// @ts-check
// `npm run docs:figures`: fills every `<!-- fig:NAME -->...<!-- /fig -->` of the docs below from
// the committed results (results.mjs), so no figure in their prose is typed by hand. After a new
// benchmark run or runtime matrix run, run it and commit the docs with the results.
//   node tools/docs/figures.mjs           rewrite the docs
//   node tools/docs/figures.mjs --check   exit 1 naming each doc that is not what it would write
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheFragments } from "./fragments-cache.mjs";
import { nativeFragments } from "./fragments-native.mjs";
import { performanceFragments } from "./fragments-performance.mjs";
import { readmeFragments } from "./fragments-readme.mjs";
import { fillMarkers } from "./markers.mjs";
import { readResults } from "./results.mjs";

export const ROOT = join(fileURLToPath(import.meta.url), "..", "..", "..");
export const DOC_FILES = ["README.md", "docs/performance.md", "docs/cache.md"];

/** Every fragment, from the results. @param {import("./results.mjs").Results} r @param {string} [root] */
export function allFragments(r, root = ROOT) {
  const parts = [readmeFragments(r, root), cacheFragments(r), performanceFragments(r), nativeFragments(r)];
  /** @type {Record<string, string>} */
  const out = {};
  for (const p of parts) for (const [k, v] of Object.entries(p)) {
    if (k in out) throw new Error(`figure fragment "${k}" defined twice`);
    out[k] = v;
  }
  return out;
}

/** Each doc as the generator writes it: [path, current text, generated text]. @param {string} [root] */
export function generatedDocs(root = ROOT) {
  const frags = allFragments(readResults(root), root);
  return DOC_FILES.map((f) => {
    const text = readFileSync(join(root, f), "utf8");
    return /** @type {const} */ ([f, text, fillMarkers(text, frags, f)]);
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes("--check");
  let stale = 0;
  for (const [f, text, out] of generatedDocs()) {
    if (text === out) continue;
    stale++;
    if (check) console.error(`${f}: its figures differ from the committed results (run \`npm run docs:figures\`)`);
    else {
      writeFileSync(join(ROOT, f), out);
      console.log(`${f}: figures updated`);
    }
  }
  if (check && stale) process.exitCode = 1;
}
