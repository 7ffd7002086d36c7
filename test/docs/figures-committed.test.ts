// The figures in the prose of README.md, docs/performance.md and docs/cache.md are generated from
// the committed results (tools/docs/): regenerate them and compare byte for byte, so a doc cannot
// quote a number its results file does not hold. On a mismatch: `npm run docs:figures`.
import { fc, test as fcTest } from "@fast-check/vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DOC_FILES, ROOT, allFragments, generatedDocs } from "../../tools/docs/figures.mjs";
import { fillMarkers, markerNames } from "../../tools/docs/markers.mjs";
import { readResults } from "../../tools/docs/results.mjs";
import { handTypedFigures } from "./hand-typed.js";

const HAND_CHECKED = [...DOC_FILES, "docs/DESIGN.md"];
/** Figures that are settings of the code, not measurements (each names where it is set). */
const ALLOWED = [
  "(default 60 s)", // checkBackend's timeoutMs default, src/conformance/check-backend.ts
  "127 s 2^-24", // s is int8's scale in the bound's formula, not seconds
  "2^-10 s)", // likewise fp8's scale
  "> 90 % of 2^-8", // the tightness test/cache/codecs.test.ts asserts (> 0.9), not a measurement
  "200 ms or more while the worker runs", // the longest task test/browser/ allows, a threshold
];

describe("docs figures are the committed results", () => {
  it("every doc is what `npm run docs:figures` writes from bench/results/", () => {
    for (const [f, text, out] of generatedDocs()) expect(text === out, `${f}: its figures differ from the committed results: run \`npm run docs:figures\``).toBe(true);
  });

  it("every fragment is used by a doc, and the docs use markers", () => {
    const used = new Set(DOC_FILES.flatMap((f) => markerNames(readFileSync(join(ROOT, f), "utf8"))));
    const frags = Object.keys(allFragments(readResults(ROOT)));
    expect(frags.filter((k) => !used.has(k))).toEqual([]);
    expect(used.size).toBeGreaterThanOrEqual(50);
  });

  it("a fragment follows its results file (another decode error, another table)", () => {
    const r = readResults(ROOT);
    const before = allFragments(r)["runtime-table"];
    r.runtimes.runtimes[0].decodeVsOracle = 9.87e-5;
    const after = allFragments(r)["runtime-table"];
    expect(after).not.toBe(before);
    expect(after).toContain("9.87e-5");
  });

  it("no figure with a unit is typed by hand outside the markers", () => {
    const found = HAND_CHECKED.flatMap((f) => handTypedFigures(readFileSync(join(ROOT, f), "utf8")).map((h) => `${f}:${h.line}: ${h.text}`));
    expect(found.filter((h) => !ALLOWED.some((a) => h.includes(a)))).toEqual([]);
  });
});

describe("fillMarkers", () => {
  it("refuses an unknown fragment and a marker left open", () => {
    expect(() => fillMarkers("a <!-- fig:nope -->1<!-- /fig -->", {}, "x.md")).toThrow(/x\.md: unknown figure fragment "nope"/);
    expect(() => fillMarkers("a <!-- fig:one -->1", { one: "2" }, "x.md")).toThrow(/x\.md: 1 <!-- fig:NAME --> markers but 0/);
  });

  const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/);
  const prose = fc.string({ maxLength: 30 }).filter((s) => !s.includes("<!--") && !s.includes("-->"));
  it("puts a fragment with a newline on lines of its own, blank lines around it", () => {
    expect(fillMarkers("a\n<!-- fig:t --><!-- /fig -->\nb", { t: "| x |\n| - |\n" }, "x.md")).toBe("a\n<!-- fig:t -->\n\n| x |\n| - |\n\n<!-- /fig -->\nb");
  });

  const inline = prose.filter((s) => !s.includes("\n"));
  fcTest.prop([fc.array(fc.tuple(prose, name, prose, inline), { minLength: 1, maxLength: 5 }), prose])(
    "replaces exactly the marked text, keeps the rest, and filling twice changes nothing",
    (parts, tail) => {
      const frags: Record<string, string> = {};
      for (const [, n, , v] of parts) frags[n] = v; // the last value per name wins
      const text = parts.map(([before, n, old]) => `${before}<!-- fig:${n} -->${old}<!-- /fig -->`).join("") + tail;
      const once = fillMarkers(text, frags, "t.md");
      const want = parts.map(([before, n]) => `${before}<!-- fig:${n} -->${frags[n]}<!-- /fig -->`).join("") + tail;
      expect(once).toBe(want);
      expect(fillMarkers(once, frags, "t.md")).toBe(once);
    },
  );
});
