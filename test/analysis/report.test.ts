// `mlakit report`: every seed claim with its figures and a verdict, "not measured yet" without
// benchmark results, measured rows with them, well-formed charts; the CLI writes the files.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_MACHINE, parseBenchResults } from "../../src/analysis/bench-results.js";
import { buildReport } from "../../src/analysis/report.js";
import { run } from "../../src/cli/run.js";

const machine = { gflops: 31, gbps: 14, source: "test" };

function wellFormedSvg(svg: string): void {
  expect(svg.startsWith("<svg xmlns=\"http://www.w3.org/2000/svg\"")).toBe(true);
  expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
  expect(svg).not.toMatch(/NaN|Infinity|undefined/);
  expect((svg.match(/<g /g) ?? []).length).toBe((svg.match(/<\/g>/g) ?? []).length);
  expect((svg.match(/<text/g) ?? []).length).toBe((svg.match(/<\/text>/g) ?? []).length);
}

describe("buildReport without benchmark results", () => {
  const files = buildReport({ machine: DEFAULT_MACHINE, benchNote: "bench/results/latest.json not found" });
  const md = files["analysis.md"];

  it("has every seed claim with a quote, a translation, a formula, V3 and V2-Lite figures and a verdict", () => {
    const sections = md.split(/\n## \d+\. /).slice(1);
    expect(sections.length).toBe(12);
    for (const s of sections) {
      expect(s).toMatch(/\n> [^\n]*[\u4e00-\u9fff]/); // the original Chinese
      expect(s).toMatch(/\n> \*[A-Z]/); // its translation
      expect(s).toMatch(/\*\*Formula\.\*\*/);
      expect(s).toMatch(/\*\*DeepSeek-V3:\*\* .+\*\*V2-Lite:\*\* .+\*\*Measured:\*\* /);
      expect(s).toMatch(/\*\*Verdict:\*\* \*\*/);
    }
  });

  it("carries the paper's and the issue's figures", () => {
    for (const f of ["70,272", "32,768", "40,960", "| mla | 576 |", "fp8 656 B", "56.9x", "7.11x", "4.25x", "2.25", "513x"]) expect(md).toContain(f);
  });

  it('says "not measured yet" where no benchmark exists', () => {
    expect(md).toMatch(/not measured yet: no decode timings/);
    expect(md).not.toMatch(/\| measured \/ predicted \|/);
  });

  it("embeds every chart it writes, and the charts are well formed", () => {
    const svgs = Object.keys(files).filter((f) => f.endsWith(".svg"));
    expect(svgs.length).toBe(4);
    for (const f of svgs) {
      expect(md).toContain(`](${f})`);
      wellFormedSvg(files[f]);
    }
  });
});

describe("buildReport with benchmark results", () => {
  it("puts measured decode steps beside the roofline prediction and on the charts (heuristic shape)", () => {
    const bench = parseBenchResults({
      probe: { peakRelaxedGflops: 40, streamGBs: 12 },
      decode: [
        { name: "decode absorbed step V3 H=128 S=4096", medianMs: 20 },
        { name: "decode naive attention V2-Lite H=16 S=1024", medianMs: 2 },
      ],
    });
    const files = buildReport({ machine: bench.machine!, bench });
    // an entry that names only its head count is not drawn on a model's chart (it may be another layer)
    const anonymous = parseBenchResults({ probe: { peakRelaxedGflops: 40, streamGBs: 12 }, decode: [{ name: "decode absorbed step H=128 S=4096", medianMs: 20 }] });
    expect(buildReport({ machine: anonymous.machine!, bench: anonymous })["analysis-time-deepseek-v3.svg"]).not.toMatch(/measured absorbed step/);
    const md = files["analysis.md"];
    expect(md).toMatch(/\| DeepSeek-V3 \| step \| absorbed \| 4,096 \| .+ \| 20 ms \|/);
    expect(md).toMatch(/\| V2-Lite \| attention \| naive \| 1,024 \| .+ \| 2 ms \|/);
    expect(md).toContain("40 GFLOP/s, 12 GB/s");
    expect(files["analysis-time-deepseek-v3.svg"]).toMatch(/measured absorbed step/);
    expect(files["analysis-time-deepseek-v2-lite.svg"]).toMatch(/measured naive attention/);
    expect(files["analysis-time-deepseek-v2-lite.svg"]).toMatch(/naive attention only/); // its prediction, dotted
  });

  it("reads the benchmarks' own schema (mlakit-bench/1): attention figures at S keys, steps at S + 1", () => {
    const bench = parseBenchResults({
      schema: "mlakit-bench/1",
      probe: { peakSimd128Gflops: 30, peakRelaxedGflops: 45, streamGBs: 14, l2GBs: 50 },
      figures: [
        { group: "gemv", model: "V3", what: "wq_a 1536x7168, M=1", impl: "core gemv_1x8", isa: "relaxed", ms: 1 },
        { group: "attn-absorbed", model: "V3", what: "H=128 S=4096", impl: "core attn_absorbed_fused", isa: "relaxed", ms: 30, peer: { impl: "naive decode (core)", ms: 90 } },
        { group: "attn-absorbed", model: "V3", what: "H=128 S=4096", impl: "core attn_absorbed_fused", isa: "simd128", ms: 40 },
        { group: "attn-naive", model: "V3", what: "H=128 S=4096", impl: "core attn_decode_naive", isa: "relaxed", ms: 90 },
        { group: "step", model: "V2-Lite", what: "S=1024", impl: "WasmMla absorbed forward", isa: "relaxed", ms: 3, peer: { impl: "ReferenceMla absorbed (float64 JS)", ms: 300 } },
        { group: "gemv", model: "V3", what: "wkv_b 32768x512, M=1", impl: "core gemv_1x8", isa: "relaxed", ms: 3, bytes: 67241984 },
        { group: "gemm", model: "V3", what: "wkv_b 32768x512, M=64", impl: "core gemm_4x8", isa: "relaxed", ms: 9, bytes: 67241984 },
      ],
    });
    expect(bench.weightStreams).toEqual([expect.objectContaining({ name: "wkv_b", heads: 128, bytes: 67241984 })]);
    expect(bench.machine).toMatchObject({ gflops: 45, gbps: 14 });
    expect(bench.decode.map((d) => [d.path, d.scope, d.heads, d.context, Math.round(d.seconds * 1e3)])).toEqual([
      ["absorbed", "attention", 128, 4096, 30],
      ["absorbed", "attention", 128, 4096, 40],
      ["naive", "attention", 128, 4096, 90],
      ["absorbed", "step", 16, 1025, 3],
    ]);
    const md = buildReport({ machine: bench.machine!, bench })["analysis.md"];
    expect(md).toContain("V3 attention at 4,096: absorbed 30 ms, naive 90 ms (absorbed 3.00x faster)");
    expect(md).toMatch(/V3 fused absorbed attention at 4,096: 30 ms, [0-9.]+x its roofline bound/);
    expect(md).toContain("V3 wkv_b (f32, 64.1 MiB) streams in 3 ms = 10 % of the measured absorbed attention at 4,096 tokens");
  });
});

describe("measured figures that beat the roofline are flagged, not hidden", () => {
  it("a kernel faster than the probe's peak allows gets a WARNING naming the rate it reached", () => {
    // V2-Lite absorbed attention at 4096 keys: 2*16*4096*1088 + 2*16*128*512 = 144,703,488 FLOPs; in 1 ms that is 145 GFLOP/s.
    const bench = parseBenchResults({ probe: { peakRelaxedGflops: 40, streamGBs: 20 }, figures: [{ group: "attn-absorbed", model: "V2-Lite", what: "H=16 S=4096", impl: "core attn_absorbed_fused", isa: "relaxed", ms: 1 }] });
    const md = buildReport({ machine: bench.machine!, bench })["analysis.md"];
    expect(md).toMatch(/WARNING: 1 of 1 figures beat their roofline bound .* They reached 145 GFLOP\/s against the probe's 40 \(relaxed builds\)/);
  });
});

describe("mlakit report", () => {
  it("writes analysis.md and the charts into --out", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mlakit-report-"));
    const empty = join(dir, "bench.json");
    writeFileSync(empty, "{}");
    let out = "";
    const code = await run(["report", "--out", dir, "--machine", "31,14", "--bench", empty], { out: (s) => void (out += s), err: () => {} });
    expect(code).toBe(0);
    expect(out).toMatch(/Wrote .*analysis\.md/);
    for (const f of ["analysis.md", "analysis-cache-deepseek-v3.svg", "analysis-time-deepseek-v2-lite.svg"]) expect(existsSync(join(dir, f))).toBe(true);
    expect(readFileSync(join(dir, "analysis.md"), "utf8")).toContain("31 GFLOP/s, 14 GB/s (given with --machine)");
  });

  it("bad flags: exit 2 with a message", async () => {
    for (const argv of [["--machine", "fast"], ["--nope"], ["stray"]]) {
      let err = "";
      const code = await run(["report", ...argv], { out: () => {}, err: (s) => void (err += s) });
      expect(code).toBe(2);
      expect(err).toMatch(/mlakit report: /);
    }
  });

  it("uses the given machine in the figures", () => {
    expect(buildReport({ machine })["analysis.md"]).toContain("31 GFLOP/s, 14 GB/s (test)");
  });
});
