// `npm run bench:report`: re-render bench/results/latest.md from latest.json with the current
// report code (bench/report.ts), so a change to how figures are judged needs no new run.
import { readFileSync, writeFileSync } from "node:fs";
import { rootPath } from "./lib/env.js";
import { toMarkdown, type BenchResults } from "./report.js";
import { cacheFormatsMarkdown } from "./cache-formats.js";

const file = process.argv[2] ?? rootPath("bench", "results", "latest.json");
const results = JSON.parse(readFileSync(file, "utf8")) as BenchResults & { cacheFormats?: Parameters<typeof cacheFormatsMarkdown>[0] };
const md = file.replace(/\.json$/, ".md");
writeFileSync(md, toMarkdown(results) + (results.cacheFormats ? cacheFormatsMarkdown(results.cacheFormats) : ""));
console.log(`wrote ${md}`);
