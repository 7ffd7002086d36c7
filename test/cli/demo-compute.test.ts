// The demo's measured compute section (src/cli/demo-compute.ts) on a small context: every path's
// attention and decode step is timed and priced, the text shows each, and the claim lines quote
// the measured rows. Speed itself is never asserted (benchmarks measure it).
import { describe, expect, it } from "vitest";
import { preset } from "../../src/config.js";
import { predicted } from "../../src/analysis/report-measured.js";
import { DEMO_PATHS, computeText, measureCompute } from "../../src/cli/demo-compute.js";

const silent = { stage() {}, step() {}, end() {} };

describe("demo compute section", () => {
  it("times attention and step of naive, absorbed, recompute and MHA at each context, beside the roofline of the same work", async () => {
    const r = await measureCompute({ preset: "deepseek-v2-lite", contexts: [64, 130], build: "simd128", quick: true }, silent);
    expect(r.build).toBe("simd128");
    expect(r.machine.gflops).toBeGreaterThan(0);
    expect(r.machine.gbps).toBeGreaterThan(0);
    expect(r.rows.length).toBe(2 * DEMO_PATHS.length * 2);
    const cfg = { ...preset("deepseek-v2-lite"), max_batch_size: 1 };
    for (const S of [64, 130]) {
      for (const path of DEMO_PATHS) {
        const a = r.rows.find((x) => x.path === path && x.scope === "attention" && x.context === S);
        const s = r.rows.find((x) => x.path === path && x.scope === "step" && x.context === S + 1);
        expect(a && s, `${path} ${S}`).toBeTruthy();
        for (const row of [a!, s!]) {
          expect(row.seconds).toBeGreaterThan(0);
          expect(row.predictedSeconds).toBeCloseTo(predicted(cfg, { path, scope: row.scope, context: row.context, seconds: row.seconds, label: "" }, r.machine), 12);
          expect(row.measuredOverPredicted).toBeCloseTo(row.seconds / row.predictedSeconds, 9);
        }
      }
    }
    expect(r.claims.map((c) => c.claim.split(".")[0])).toEqual(["3", "4", "5", "6"]);
    const text = computeText(r);
    for (const label of ["MLA naive", "MLA absorbed", "MLA recompute", "MHA"]) expect(text).toContain(label);
    for (const c of r.claims) expect(text).toContain(c.measured);
    expect(r.claims[0].measured).toContain("130 cached tokens"); // the longest context measured
  }, 120_000);
});
