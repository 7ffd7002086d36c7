// The DeepSeek-V3.2 section of docs/analysis.md: its figures against hand formulas from the V3.2
// shapes (config_671B_v3.2.json), its crossovers against the roofline on either side, and the
// section in the rendered report.
import { describe, expect, it } from "vitest";
import { type DsaConfig, preset } from "../../src/config.js";
import { DATASHEET_GPU } from "../../src/analysis/bench-results.js";
import { decodeShape, modelCost, prefillShape } from "../../src/analysis/cost.js";
import type { CacheFormat } from "../../src/analysis/formats.js";
import { buildReport } from "../../src/analysis/report.js";
import { dsaFigures } from "../../src/analysis/report-dsa.js";
import { type Machine, roofline } from "../../src/analysis/roofline.js";

const CPU: Machine = { gflops: 31, gbps: 14, source: "test" };
const f = dsaFigures(CPU, DATASHEET_GPU);
const cfg = preset("deepseek-v3.2") as DsaConfig;

describe("DSA figures", () => {
  it("bytes: 132 B of index key per token per layer beside 1152 (bf16), 656 (fp8), 2304 (f32) of latent", () => {
    expect(f.indexKeyBytes).toBe(132);
    expect(f.latentBytes).toEqual({ f32: 2304, bf16: 1152, fp8: 656 });
    expect(f.extraPercent.bf16).toBeCloseTo((100 * 132) / 1152, 12);
    expect(f.atMaxContext.indexKeys).toBe(132 * 61 * 163840);
  });

  it("per cached key: absorbed 2·128·(2·512 + 64) FLOPs, the indexer 2·64·(128 + 1)", () => {
    expect(f.perKey.absorbedFlops).toBe(2 * 128 * (2 * 512 + 64));
    expect(f.perKey.indexFlops).toBe(2 * 64 * 129);
    expect(f.perKeyBytesRatio).toBe(1152 / 132);
  });

  it("fixed per-step costs: attention over 2048 keys, the indexer's wq_b [64·128, 1536], wk [128, 7168], weights_proj [64, 7168]", () => {
    expect(f.fixed.selectedAttentionFlops).toBe(2048 * 2 * 128 * (2 * 512 + 64));
    const w = 64 * 128 * 1536 + 128 * 7168 + 64 * 7168;
    expect(f.fixed.indexerWeightElements).toBe(w);
    expect(f.fixed.indexerProjectionFlops).toBe(2 * w);
    expect(f.fixed.indexerWeightBytesBf16).toBe(2 * w);
  });

  it("each crossover is where the roofline order flips: dsa not faster one token before, faster at it", () => {
    const t = (m: Machine, format: CacheFormat, path: "dsa" | "absorbed" | "naive", phase: "decode" | "prefill", L: number) => {
      const c = modelCost(cfg, path, phase === "decode" ? decodeShape(L, 1) : prefillShape(L, 1), { format });
      return roofline(c.flops, c.bytes, m).seconds;
    };
    for (const s of f.settings) {
      const first = s.decodeCrossovers[0];
      expect(first?.faster, s.label).toBe("dsa");
      // up to k every key is selected: the sparse step is the dense one plus the indexer, so it cannot win there
      expect(first.at).toBeGreaterThan(cfg.index_topk);
      expect(t(s.machine, s.format, "dsa", "decode", first.at)).toBeLessThan(t(s.machine, s.format, "absorbed", "decode", first.at));
      expect(t(s.machine, s.format, "dsa", "decode", first.at - 1)).toBeGreaterThanOrEqual(t(s.machine, s.format, "absorbed", "decode", first.at - 1));
      for (const x of s.prefillCrossovers) {
        const d = (L: number) => t(s.machine, s.format, "dsa", "prefill", L) - t(s.machine, s.format, "naive", "prefill", L);
        expect(Math.sign(d(x.at))).toBe(x.faster === "dsa" ? -1 : 1);
        expect(Math.sign(d(x.at - 1))).not.toBe(Math.sign(d(x.at)));
      }
      for (const r of s.rows) expect(r.speedup).toBeCloseTo(t(s.machine, s.format, "absorbed", "decode", r.context) / t(s.machine, s.format, "dsa", "decode", r.context), 12);
    }
  });

  it("the report has the section, with the figures it computed", () => {
    const md = buildReport({ machine: CPU })["analysis.md"];
    const section = md.slice(md.indexOf("## DeepSeek-V3.2: sparse attention"), md.indexOf("## Claims not checked"));
    expect(section.length).toBeGreaterThan(0);
    expect(section).toMatch(/132 B per token per layer/);
    expect(section).toMatch(/11\.5 % over the bf16 latent/);
    for (const s of f.settings) expect(section).toContain(`| ${s.label} | dsa faster from ${s.decodeCrossovers[0].at.toLocaleString("en-US")} |`);
  });
});
