// svgDocument's layout width (the page lays its charts out for their column): the default is the
// CLI's and docs' 900 px document unchanged, a wider layout widens the plot by exactly the extra
// width, and every element stays inside the document.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cacheChart, timeChart } from "../../src/analysis/charts.js";
import { DEFAULT_MACHINE } from "../../src/analysis/bench-results.js";
import { svgDocument } from "../../src/analysis/svg.js";
import { preset } from "../../src/config.js";
import { ConfigError } from "../../src/errors.js";

const cfg = preset("deepseek-v3");
const common = { format: "bf16" as const, batch: 1, maxContext: cfg.max_seq_len, groups: 8, seedRank: 8 };
const specs = [cacheChart(cfg, "deepseek-v3", common), timeChart(cfg, "deepseek-v3", { ...common, machine: DEFAULT_MACHINE })];

const svgWidth = (svg: string) => Number(/<svg [^>]*width="([0-9.]+)"/.exec(svg)![1]);
const viewBoxWidth = (svg: string) => Number(/viewBox="0 0 ([0-9.]+) /.exec(svg)![1]);
/** The plot frame: the one rect with stroke #888 per chart. */
const plotWidths = (svg: string) => [...svg.matchAll(/<rect [^>]*width="([0-9.]+)"[^>]*stroke="#888"/g)].map((m) => Number(m[1]));
const xs = (svg: string) => [...svg.matchAll(/ (?:x|x1|x2|cx)="(-?[0-9.]+)"/g)].map((m) => Number(m[1]));

describe("svgDocument layout width", () => {
  it("defaults to the 900 px document (what mlakit analyze --svg and docs/ write)", () => {
    expect(svgDocument(specs)).toBe(svgDocument(specs, { width: 900 }));
    expect(svgWidth(svgDocument(specs))).toBe(900);
  });

  it("lays out for the width given: the plot takes exactly the extra width, nothing leaves the document", () => {
    const base = plotWidths(svgDocument(specs, { width: 900 }));
    fc.assert(
      fc.property(fc.integer({ min: 600, max: 4000 }), (w) => {
        const svg = svgDocument(specs, { width: w });
        expect(svgWidth(svg)).toBe(w);
        expect(viewBoxWidth(svg)).toBe(w); // one user unit per px: text at its nominal size
        expect(plotWidths(svg)).toEqual(base.map((b) => b + (w - 900)));
        for (const x of xs(svg)) expect(x).toBeLessThanOrEqual(w);
      }),
      { numRuns: 40 },
    );
  });

  it("keeps a minimum width of 600 px", () => {
    expect(svgWidth(svgDocument(specs, { width: 320 }))).toBe(600);
  });

  for (const width of [NaN, 0, -1, Infinity]) {
    it(`refuses width ${width} with a ConfigError naming it`, () => {
      expect(() => svgDocument(specs, { width })).toThrow(ConfigError);
      expect(() => svgDocument(specs, { width })).toThrow(/width/);
    });
  }
});
