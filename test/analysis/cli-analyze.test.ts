// `mlakit analyze` in-process through run(): JSON keys and figures, tables, SVG, where the machine
// comes from (--machine, a --bench file, a saved probe, the default), and exit code 2 with a clear
// message for bad flags and configs.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseBenchResults } from "../../src/analysis/bench-results.js";
import { run } from "../../src/cli/run.js";

const dir = mkdtempSync(join(tmpdir(), "mlakit-analyze-"));
/** Where these runs look for a saved probe (`mlakit probe --save`): none unless a test writes one, whatever the user running the tests saved. */
const savedProbe = join(dir, "saved-machine.json");

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  const code = await run(argv, { out: (s) => void (out += s), err: (s) => void (err += s), env: { MLAKIT_MACHINE_FILE: savedProbe } });
  return { code, out, err };
}

const noBench = join(dir, "no-bench.json");
writeFileSync(noBench, "{}");

describe("mlakit analyze --json", () => {
  it("headline keys for every scheme and path; V3 bf16 figures from the paper", async () => {
    const r = await cli("analyze", "--preset", "deepseek-v3", "--context", "4096", "--format", "bf16", "--machine", "31,14", "--json");
    expect(r.code).toBe(0);
    const a = JSON.parse(r.out);
    for (const s of ["mha", "gqa", "mqa", "mla", "mlaNaiveCache", "seedPerHead"]) {
      for (const k of ["elementsPerTokenPerLayer", "bytesPerTokenPerLayer", "totalBytes"]) expect(typeof a.kvCache[s][k]).toBe("number");
    }
    for (const p of ["naive", "recompute", "absorbed", "mha"]) {
      expect(a.decode[p].flops).toBeGreaterThan(0);
      expect(a.decode[p].bytes).toBeGreaterThan(0);
    }
    expect(a.kvCache.mla.elementsPerTokenPerLayer).toBe(576);
    expect(a.kvCache.mla.bytesPerTokenPerLayer).toBe(1152);
    expect(a.kvCache.mla.totalBytes).toBe(70272 * 4096);
    expect(a.kvCache.mha.elementsPerTokenPerLayer).toBe(32768);
    expect(a.kvCache.mlaNaiveCache.elementsPerTokenPerLayer).toBe(40960);
    expect(a.machine).toMatchObject({ gflops: 31, gbps: 14 });
    // Absorbed decode, whole model, by hand: 61 x 2 [D Q + Q H 192 + D 576 + H 256 512 + L H 1088 + D H 128].
    const D = 7168, Q = 1536, H = 128, L = 4096;
    expect(a.decode.absorbed.flops).toBe(61 * 2 * (D * Q + Q * H * 192 + D * 576 + H * 256 * 512 + L * H * 1088 + D * H * 128));
  });

  it("--preset deepseek-v3.2 adds the dsa path and the index keys; its decode FLOPs by hand", async () => {
    const L = 100_000;
    const r = await cli("analyze", "--preset", "deepseek-v3.2", "--context", String(L), "--format", "bf16", "--machine", "31,14", "--json");
    expect(r.code).toBe(0);
    const a = JSON.parse(r.out);
    expect(a.paths).toContain("dsa");
    expect(a.indexKeys).toMatchObject({ bytesPerTokenPerLayer: 132, bytesPerToken: 132 * 61, totalBytes: 132 * 61 * L, vsLatent: 132 / 1152, topk: 2048 });
    // 61 x 2 [MLA absorbed over the top 2048 keys + the indexer's wq_b (Q x 64 x 128), wk (D x 128), weights_proj (D x 64) + L keys x 64 heads x (128 + 1)]
    const D = 7168, Q = 1536, H = 128, K = 2048;
    const mla = D * Q + Q * H * 192 + D * 576 + H * 256 * 512 + K * H * 1088 + D * H * 128;
    expect(a.decode.dsa.flops).toBe(61 * 2 * (mla + Q * 64 * 128 + D * 128 + D * 64 + L * 64 * 129));
    expect(a.decode.dsa.ranked).toBe(61 * L);
    expect(a.decode.dsa.flops).toBeLessThan(a.decode.absorbed.flops);
    expect(a.crossovers.some((c: { faster: string; slower: string; phase: string }) => c.phase === "decode" && c.faster === "dsa" && c.slower === "absorbed")).toBe(true);
    const text = await cli("analyze", "--preset", "deepseek-v3.2", "--context", String(L), "--machine", "31,14");
    expect(text.out).toMatch(/DSA \(sparse\)/);
    expect(text.out).toMatch(/index keys beside the latent: 132 B\/token\/layer/);
    expect(text.out).toMatch(/indexScores/);
    const v3 = JSON.parse((await cli("analyze", "--preset", "deepseek-v3", "--machine", "31,14", "--json")).out);
    expect(v3.paths).not.toContain("dsa");
    expect(v3.decode.dsa).toBeUndefined();
    expect(v3.indexKeys).toBeUndefined();
  });

  it("--format fp8 gives FlashMLA's 656 bytes per token per layer; --batch multiplies totals", async () => {
    const a = JSON.parse((await cli("analyze", "--preset", "deepseek-v3", "--context", "1000", "--batch", "3", "--format", "fp8", "--machine", "31,14", "--json")).out);
    expect(a.kvCache.mla.bytesPerTokenPerLayer).toBe(656);
    expect(a.kvCache.mla.totalBytes).toBe(656 * 61 * 1000 * 3);
  });

  it("--config reads an official ModelArgs JSON or a Hugging Face config.json", async () => {
    const hf = join(dir, "hf.json");
    writeFileSync(hf, JSON.stringify({ hidden_size: 2048, num_attention_heads: 16, q_lora_rank: null, kv_lora_rank: 512, qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: 128, max_position_embeddings: 163840, num_hidden_layers: 27, rope_scaling: { type: "yarn", factor: 40, original_max_position_embeddings: 4096, beta_fast: 32, beta_slow: 1, mscale: 0.707, mscale_all_dim: 0.707 } }));
    const r = await cli("analyze", "--config", hf, "--context", "100", "--machine", "31,14", "--json");
    expect(r.err).toBe(""); // under --json stderr carries nothing but an error
    const a = JSON.parse(r.out);
    expect(a.config.n_heads).toBe(16);
    expect(a.config.convention).toBe("transformers");
    expect(a.kvCache.mha.elementsPerTokenPerLayer).toBe(2 * 16 * 128);
    expect(a.kvCache.mla.totalBytes).toBe(1152 * 27 * 100);
    // stderr says which file kind and whose rules; an unknown model_type is named in a note
    const t = await cli("analyze", "--config", hf, "--context", "100", "--machine", "31,14");
    expect(t.err).toMatch(/Hugging Face config\.json: convention transformers \(transformers' DeepSeek attention\), YaRN on/);
    expect(t.err).toMatch(/note: model_type \(absent\) is not one mlakit knows/);
    expect((await cli("analyze", "--config", hf, "--machine", "31,14", "--quiet")).err).toBe("");
    const off = join(dir, "official.json");
    writeFileSync(off, JSON.stringify({ dim: 2048, n_heads: 16, kv_lora_rank: 512 }));
    expect((await cli("analyze", "--config", off, "--machine", "31,14")).err).toMatch(/official ModelArgs JSON: convention official \(DeepSeek's inference\/model\.py\), YaRN on/);
  });
});

describe("mlakit analyze: tables, charts, machine", () => {
  it("prints readable tables with the machine's source", async () => {
    const r = await cli("analyze", "--preset", "deepseek-v2-lite", "--context", "2048", "--bench", noBench);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/KV cache/);
    expect(r.out).toMatch(/Decode step at context 2,048/);
    expect(r.out).toMatch(/Crossovers/);
    expect(r.out).toMatch(/seed formula/);
    expect(r.out).toMatch(/default: one Zen 3 core/); // no probe in the bench file: the default, said so
  });

  it("takes the machine from a benchmark probe and overlays measured decode points on the chart", async () => {
    const bench = join(dir, "latest.json");
    writeFileSync(
      bench,
      JSON.stringify({
        probe: { peakSimd128Gflops: 30, peakRelaxedGflops: 45, streamGBs: 13.5, l2GBs: 55 },
        results: [
          { name: "decode absorbed step V3 H=128 S=4096", medianMs: 12.5 },
          { name: "decode naive step V3 H=128 S=4096", medianMs: 30 },
        ],
      }),
    );
    const svg = join(dir, "chart.svg");
    // the benchmarks measure f32 layers: the chart of an f32 analysis is the one their points belong on
    const r = await cli("analyze", "--preset", "deepseek-v3", "--context", "4096", "--format", "f32", "--bench", bench, "--svg", svg, "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).machine).toMatchObject({ gflops: 45, gbps: 13.5 });
    const text = readFileSync(svg, "utf8");
    expect(text.startsWith("<svg")).toBe(true);
    expect(text).toMatch(/KV cache of deepseek-v3/);
    expect(text).toMatch(/measured absorbed step/);
    expect((text.match(/<circle/g) ?? []).length).toBe(2 + 2); // two points + two legend markers
    expect((text.match(/<path /g) ?? []).length).toBe(6 + 4); // one line per scheme, one per timed path
  });

  it("the bench parser reads several shapes of results and ignores what it cannot place", () => {
    const r = parseBenchResults({ machine: { probe: { gflops: 20, gbps: 9 } }, suites: { decode: { absorbed: [{ S: 1024, H: 16, median_us: 800 }] }, other: { naive: { context: 3, medianMs: 1 } } } });
    expect(r.machine).toMatchObject({ gflops: 20, gbps: 9 });
    expect(r.decode).toEqual([expect.objectContaining({ path: "absorbed", heads: 16, context: 1024 })]);
    expect(r.decode[0].seconds).toBeCloseTo(800e-6, 15);
    expect(parseBenchResults({ runs: 5, decode: "x" })).toEqual({ run: undefined, machine: undefined, decode: [], weightStreams: [] });
  });
});

describe("mlakit analyze: the machine's source, the same from a clone and installed", () => {
  const probeDoc = (gflops: number, gbps: number) => JSON.stringify({ format: "mlakit-machine/1", peakGflops: gflops, streamGBs: gbps, measuredAt: "2026-01-02T03:04:05Z" });
  const machineOf = async (...argv: string[]) => {
    const r = await cli("analyze", "--preset", "deepseek-v2-lite", "--context", "2048", "--json", ...argv);
    expect(r.code, r.err).toBe(0);
    return JSON.parse(r.out).machine as { gflops: number; gbps: number; source: string };
  };
  it("no flag and no saved probe: the default, saying how to measure this machine (no repository file is read)", async () => {
    rmSync(savedProbe, { force: true });
    const m = await machineOf();
    expect(m).toMatchObject({ gflops: 31, gbps: 14 });
    expect(m.source).toMatch(/^default: one Zen 3 core .*mlakit probe --save/);
    expect(m.source).not.toMatch(/TOOLCHAIN|npm run|bench\/results/);
  });
  it("a saved probe is used, below --bench's probe and --machine; --machine takes a probe's JSON file too", async () => {
    writeFileSync(savedProbe, probeDoc(50, 20));
    try {
      expect(await machineOf()).toMatchObject({ gflops: 50, gbps: 20, source: expect.stringMatching(/measured by mlakit probe at 2026-01-02T03:04:05Z \(.*saved-machine\.json\)/) });
      const bench = join(dir, "probe-bench.json");
      writeFileSync(bench, JSON.stringify({ probe: { peakRelaxedGflops: 44, streamGBs: 11 } }));
      expect(await machineOf("--bench", bench)).toMatchObject({ gflops: 44, gbps: 11 });
      expect(await machineOf("--bench", bench, "--machine", "7,3")).toMatchObject({ gflops: 7, gbps: 3, source: "given with --machine" });
      const file = join(dir, "other-machine.json");
      writeFileSync(file, probeDoc(60, 25));
      expect(await machineOf("--machine", file)).toMatchObject({ gflops: 60, gbps: 25 });
    } finally {
      rmSync(savedProbe, { force: true });
    }
  });
  it("a broken saved probe or --machine file is one line naming it, exit 2", async () => {
    for (const [text, re] of [
      ["{ not json", /saved probe = ".*saved-machine\.json": expected a JSON file written by mlakit probe/],
      [JSON.stringify({ format: "other" }), /saved probe .*: format = "other": expected "mlakit-machine\/1"/],
      [JSON.stringify({ format: "mlakit-machine/1", peakGflops: -1, streamGBs: 3 }), /peakGflops = -1: expected a positive number/],
    ] as const) {
      writeFileSync(savedProbe, text);
      const r = await cli("analyze", "--preset", "deepseek-v2-lite");
      expect(r.code).toBe(2);
      expect(r.err).toMatch(re);
      expect(r.err.trim().split("\n")).toHaveLength(1);
    }
    rmSync(savedProbe, { force: true });
    const r = await cli("analyze", "--machine", join(dir, "nowhere.json"));
    expect(r).toMatchObject({ code: 2, out: "" });
    expect(r.err).toMatch(/--machine ".*nowhere\.json": expected GFLOPS,GBPS .* or an existing file written by mlakit probe --json/);
  });
});

describe("mlakit analyze: bad input -> a clear message and exit 2", () => {
  const bad = join(dir, "bad.json");
  writeFileSync(bad, "{ not json");
  const badField = join(dir, "bad-field.json");
  writeFileSync(badField, JSON.stringify({ n_heads: 0 }));
  const cases: [string[], RegExp][] = [
    [["--context", "abc"], /--context "abc": expected an integer from 1 to 1,073,741,824/],
    [["--context", "0"], /--context "0"/],
    [["--batch", "-1"], /--batch "-1": expected an integer from 1 to/],
    [["--format", "fp4"], /--format "fp4": expected one of f32, bf16, f16, int8, fp8_e4m3 \(fp8 for fp8_e4m3\)/],
    [["--machine", "31"], /--machine "31": expected GFLOPS,GBPS/],
    [["--machine", "31,-2"], /--machine/],
    [["--preset", "gpt-2"], /preset = "gpt-2": expected one of deepseek-v3/],
    [["--preset", "deepseek-v3", "--config", bad], /not both/],
    [["--config", join(dir, "missing.json")], /no such file/],
    [["--config", bad], /not valid JSON/],
    [["--config", badField], /n_heads = 0: expected a positive integer/],
    [["--groups", "7"], /groups = 7: expected a divisor of n_heads \(128\)/],
    [["--frobnicate"], /frobnicate/],
    [["extra"], /no positional arguments/],
    [["--bench", join(dir, "missing.json")], /--bench .*no such file/],
  ];
  for (const [argv, msg] of cases) {
    it(argv.join(" "), async () => {
      const r = await cli("analyze", "--machine", "31,14", ...argv);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(msg);
      expect(r.out).toBe("");
    });
  }
});

describe("mlakit analyze --svg: measured points only on the layer they were measured on", () => {
  const bench = join(dir, "bench.json");
  writeFileSync(bench, JSON.stringify({ schema: "mlakit-bench/1", probe: { peakRelaxedGflops: 40, streamGBs: 20 }, figures: [
    { group: "step", model: "V3", what: "S=4096", impl: "WasmMla absorbed forward", isa: "relaxed", ms: 100 },
    { group: "attn-absorbed", model: "V3", what: "H=128 S=4096", impl: "core attn_absorbed_paged", isa: "relaxed", ms: 30 },
  ] }));
  const points = (svg: string) => (svg.match(/<circle/g) ?? []).length;

  it("DeepSeek-V3 itself gets the V3 points; another 128-head config, bf16 or batch 2 gets none and says why", async () => {
    const svgV3 = join(dir, "v3.svg");
    expect((await cli("analyze", "--preset", "deepseek-v3", "--format", "f32", "--bench", bench, "--svg", svgV3)).code).toBe(0);
    const v3 = readFileSync(svgV3, "utf8");
    expect(points(v3)).toBeGreaterThan(0);
    expect(v3).not.toMatch(/no measured points/);
    const other = join(dir, "other.json"), svgOther = join(dir, "other.svg");
    writeFileSync(other, JSON.stringify({ dim: 4096, n_heads: 128, q_lora_rank: 1536, kv_lora_rank: 512 }));
    expect((await cli("analyze", "--config", other, "--format", "f32", "--bench", bench, "--svg", svgOther)).code).toBe(0);
    const o = readFileSync(svgOther, "utf8");
    expect(points(o)).toBe(0);
    expect(o).toMatch(/no measured points: the benchmarks time V3 and V2-Lite layers at batch 1, f32, not this one/);
    for (const extra of [["--format", "bf16"], ["--format", "f32", "--batch", "2"]]) {
      const f = join(dir, `v3-${extra.join("")}.svg`);
      expect((await cli("analyze", "--preset", "deepseek-v3", "--bench", bench, "--svg", f, ...extra)).code).toBe(0);
      expect(points(readFileSync(f, "utf8"))).toBe(0);
    }
  });
});
