// docs/analysis.md and its charts are what `mlakit report` writes from the committed benchmark run
// (bench/results/latest.json): regenerate them into a temporary directory and compare byte for
// byte, so the page cannot drift from the run it quotes. On a mismatch: `npm run report`.
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../../src/cli/run.js";

const ROOT = join(import.meta.dirname, "..", "..");
const DOCS = join(ROOT, "docs");

describe("docs/analysis.md is the report of the committed run", () => {
  it("mlakit report regenerates every file of it unchanged", async () => {
    const out = mkdtempSync(join(tmpdir(), "mlakit-report-"));
    // what `npm run report` runs
    const code = await run(["report", "--bench", join(ROOT, "bench", "results", "latest.json"), "--out", out], { out: () => {}, err: () => {} });
    expect(code).toBe(0);
    const files = readdirSync(out).sort();
    expect(files).toContain("analysis.md");
    for (const f of files) {
      const want = readFileSync(join(DOCS, f), "utf8"), got = readFileSync(join(out, f), "utf8");
      expect(got === want, `docs/${f} differs from what \`mlakit report\` writes from bench/results/latest.json: run \`npm run report\``).toBe(true);
    }
  });
});
