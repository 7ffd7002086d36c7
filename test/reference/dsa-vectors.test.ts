// The V3.2 oracle (MLA + the lightning indexer + top-k) against DeepSeek's official model.py
// vectors (vectors/deepseek-v3.2-dsa, mla-vectors/2): every quantised stage and cache bit for bit,
// every top-k set, the indexer's weights and scores, every output; the README's bug variants must
// fail; the reader refuses malformed files; `mlakit verify DIR` prints the table and exits 0/1/2.
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { DsaConfig } from "../../src/config.js";
import { run } from "../../src/cli/run.js";
import { FormatError } from "../../src/errors.js";
import type { DsaWeights } from "../../src/io/dsa-weights.js";
import { type DsaVectorCase, parseDsaVectorCaseText } from "../../src/io/mla-vectors-v2.js";
import { applyRope } from "../../src/reference/rope.js";
import { type DsaSteps, ReferenceDsa, simulateKvFp8 } from "../../src/reference/dsa/layer.js";
import { indexerWeights } from "../../src/reference/dsa/indexer.js";
import { bf16Array } from "../../src/reference/dsa/quant.js";
import { topkRow } from "../../src/reference/dsa/topk.js";
import { type DsaCaseResult, DSA_VECTOR_TOL, verifyDsaCase } from "../../src/verify.js";

const DIR = new URL("../../vectors/deepseek-v3.2-dsa/", import.meta.url);
const FILES = readdirSync(DIR).filter((f) => f.endsWith(".json")).sort();
const cases = new Map<string, DsaVectorCase>();
const load = (f: string): DsaVectorCase => {
  if (!cases.has(f)) cases.set(f, parseDsaVectorCaseText(readFileSync(new URL(f, DIR), "utf8"), f));
  return cases.get(f)!;
};

function capture() {
  const out: string[] = [], err: string[] = [];
  return { io: { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s) }, out, err };
}

// README "Re-check": quantised values compared per case (kv_quant + indexer stages per call, final caches).
const QUANTISED = {
  "tiny-k3-plain-noyarn-b1": 16940,
  "tiny-k5-ue8m0-noyarn-b2": 60060,
  "small-k8-ue8m0-yarn4-b1": 58520,
  "small-k5-plain-yarn40-b2": 64680,
  "dense-equivalent-topk64-ue8m0-b2": 36960,
  "real-head-geometry-k8-ue8m0-yarn-b1": 69300,
} as Record<string, number>;
const TOPK_ROWS = { "tiny-k3-plain-noyarn-b1": 11, "tiny-k5-ue8m0-noyarn-b2": 26, "small-k8-ue8m0-yarn4-b1": 19, "small-k5-plain-yarn40-b2": 28, "dense-equivalent-topk64-ue8m0-b2": 24, "real-head-geometry-k8-ue8m0-yarn-b1": 20 } as Record<string, number>;

describe("DeepSeek-V3.2 vectors (mla-vectors/2)", () => {
  it("are all bundled, a copy of the shared set", () => {
    expect(FILES).toEqual(["dense-equivalent-topk64-ue8m0-b2.json", "real-head-geometry-k8-ue8m0-yarn-b1.json", "small-k5-plain-yarn40-b2.json", "small-k8-ue8m0-yarn4-b1.json", "tiny-k3-plain-noyarn-b1.json", "tiny-k5-ue8m0-noyarn-b2.json"]);
    const shared = new URL("../../../shared/vectors/deepseek-v3.2-dsa/", DIR);
    if (existsSync(shared)) for (const f of [...FILES, "README.md"]) expect(readFileSync(new URL(f, DIR)).equals(readFileSync(new URL(f, shared)))).toBe(true);
  });

  it.each(FILES)("%s: every quantised value and top-k set exact, weights/scores/outputs/caches close", (f) => {
    const c = load(f);
    const r = verifyDsaCase(c);
    expect(r.firstMismatch).toBeUndefined();
    expect(r.pass).toBe(true);
    expect(r.quantised).toEqual({ compared: QUANTISED[c.name], differing: 0 });
    expect(r.topk).toEqual({ rows: TOPK_ROWS[c.name], differing: 0 });
    for (const stage of ["kv_quant.input_bf16", "kv_quant.fp8", "kv_quant.scale", "indexer.q_bf16", "indexer.k_bf16", "indexer.q_rot", "indexer.k_rot", "indexer.q_fp8", "indexer.q_scale", "kv_cache", "indexer.k_cache", "indexer.k_scale_cache"]) {
      expect(r.exact[stage].differing, stage).toBe(0);
      expect(r.exact[stage].compared, stage).toBeGreaterThan(0);
    }
    // float64 against the official float32 run: outputs ~1e-6 (README re-check <= 2.2e-6), scores/weights ~1e-7 relative
    expect(r.maxErr.output).toBeLessThan(3e-6);
    expect(r.maxErr.pe_cache).toBeLessThan(2e-6);
    expect(Math.max(r.maxErr.weights, r.maxErr.index_score)).toBeLessThan(3e-6);
  });

  it("the oracle's top-k rows order the visible keys as torch.topk does, up to the order among equal scores", () => {
    // ReLU makes exact ties (often 0) common; torch leaves their order undefined, the oracle puts the lower index first.
    // Where a row keeps keys beyond the k-th tie-free gap, the two orders may differ among them: the score sequences may not.
    for (const f of FILES) {
      const c = load(f);
      const layer = new ReferenceDsa(c.config, c.weights);
      for (const call of c.calls) {
        const { trace } = layer.forwardTrace(call.input.data, { batch: c.batch, seqlen: call.seqlen, startPos: call.startPos });
        const K = call.topkK;
        for (let r = 0; r < c.batch * call.seqlen; r++) {
          const last = call.startPos + (r % call.seqlen);
          const mine = Array.from(trace.indexer.topk_indices.subarray(r * K, (r + 1) * K)).filter((j) => j >= 0);
          const theirs = Array.from(call.indexer.topk_indices.data.subarray(r * K, (r + 1) * K)).filter((j) => j <= last);
          const sc = trace.indexer.index_score.subarray(r * call.endPos, (r + 1) * call.endPos);
          expect(mine.map((j) => sc[j]), `${f} row ${r}`).toEqual(theirs.map((j) => sc[j]));
          expect(new Set(mine)).toEqual(new Set(theirs));
        }
      }
    }
  });

  // README "Bugs these catch": each variant runs through ReferenceDsa with one step replaced (or the
  // config changed) and must fail on the files the README says catch it, with the signature it gives.
  type Variant = { steps?: Partial<DsaSteps>; config?: (c: DsaConfig) => Partial<DsaConfig> };
  const runVariant = (f: string, v: Variant): DsaCaseResult => {
    const c = load(f);
    return verifyDsaCase(c, (cfg: DsaConfig, w: DsaWeights) => new ReferenceDsa({ ...cfg, ...v.config?.(cfg) }, w, { steps: v.steps }));
  };
  const VARIANTS: [string, Variant, (r: DsaCaseResult, dense: boolean) => void][] = [
    ["indexer RoPE interleaved (the pre-2025-11-17 code)", { steps: { indexerRope: (x, off, dr, table, row) => applyRope(x, off, dr, table, row, "interleaved") } }, (r, dense) => {
      expect(r.exact["indexer.q_bf16"].differing).toBeGreaterThan(0);
      if (!dense) expect(r.maxErr.output).toBeGreaterThan(0.1);
    }],
    ["no Hadamard rotation", { steps: { rotateActivation: (x, rows, n) => { const b = bf16Array(Array.from({ length: rows * n }, (_, i) => x[i])); return { input: b, rotated: Float64Array.from(b) }; } } }, (r) => {
      expect(r.exact["indexer.q_rot"].differing).toBeGreaterThan(0);
      expect(r.maxErr.index_score).toBeGreaterThan(0.01);
    }],
    ["no ReLU in the index score", { steps: { scoreActivation: (v) => v } }, (r) => expect(r.maxErr.index_score).toBeGreaterThan(0.1)],
    ["weights without n_heads^-0.5 (only the scores show it)", { steps: { indexerWeights: (cfg, w, x, N, qs) => indexerWeights(cfg, w, x, N, qs).map((v) => v * Math.sqrt(cfg.index_n_heads)) } }, (r) => {
      expect(r.maxErr.weights).toBeGreaterThan(0.4);
      expect(r.topk.differing).toBe(0); // a uniform factor cannot change a selection
      expect(r.maxErr.output).toBeLessThan(DSA_VECTOR_TOL.output);
    }],
    ["top-k taken before the causal mask (no effect when every key is selected: the dense file passes)", { steps: { selectTopk: (scores, off, _visible, end, k) => topkRow(scores, off, end, k) } }, (r, dense) => {
      if (!dense) expect(r.topk.differing).toBeGreaterThan(0);
      if (!dense) expect(r.maxErr.output).toBeGreaterThan(0.1);
    }],
    ["FP8 KV-cache simulation skipped", { steps: { simulateKvFp8: (c, N, C, fmt) => ({ ...simulateKvFp8(c, N, C, fmt), dequantized: Float64Array.from(c) }) } }, (r) => {
      expect(r.exact.kv_cache.differing).toBeGreaterThan(0);
      expect(r.maxErr.output).toBeGreaterThan(0.01);
    }],
    ["scale_fmt swapped (ue8m0 <-> plain)", { config: (c) => ({ scale_fmt: c.scale_fmt === null ? "ue8m0" : null }) }, (r) => {
      expect(r.exact["kv_quant.scale"].differing).toBeGreaterThan(0);
      expect(r.maxErr.output).toBeGreaterThan(0.01);
    }],
  ];
  it.each(VARIANTS)("the bug variant '%s' fails, as the README says", (label, variant, signature) => {
    for (const f of FILES) {
      const r = runVariant(f, variant), dense = f.startsWith("dense-equivalent");
      expect(r.pass, f).toBe(dense && label.includes("the dense file passes"));
      signature(r, dense);
    }
  });
});

describe("mla-vectors/2 reader", () => {
  const good = () => JSON.parse(readFileSync(new URL("tiny-k3-plain-noyarn-b1.json", DIR), "utf8"));
  const parse = (j: unknown) => parseDsaVectorCaseText(JSON.stringify(j), "x.json");

  it("reads float32 bit-exactly and the indices as int32", () => {
    const raw = good();
    const c = parse(raw);
    expect(Array.from(c.weights.indexer.k_norm_bias)).toEqual((raw.tensors["indexer.k_norm.bias"].data as number[]).map(Math.fround));
    expect(c.calls[0].indexer.topk_indices.data).toBeInstanceOf(Int32Array);
    expect(Array.from(c.calls[0].indexer.topk_indices.data)).toEqual(raw.tensors["calls.0.indexer.topk_indices"].data);
    expect(c.config).toMatchObject({ index_n_heads: 2, index_head_dim: 128, index_topk: 3, scale_fmt: null, q_lora_rank: 12, kv_lora_rank: 128 });
    expect(c.calls.map((k) => k.branch)).toEqual(["mha_prefill", ...Array(4).fill("mqa_decode")]);
  });

  it("refuses malformed files with a FormatError naming the field", () => {
    expect(() => parseDsaVectorCaseText("{", "x.json")).toThrow(FormatError);
    expect(() => parse({ ...good(), format: "mla-vectors/1" })).toThrow(/x\.json\.format = "mla-vectors\/1": expected "mla-vectors\/2"/);
    const noIdx = good();
    for (const k of ["index_n_heads", "index_head_dim", "index_topk"]) delete noIdx.args[k];
    expect(() => parse(noIdx)).toThrow(/args\.index_topk/);
    const dsaBlock = good();
    dsaBlock.dsa.scale_fmt = "ue8m0";
    expect(() => parse(dsaBlock)).toThrow(/dsa\.scale_fmt = "ue8m0": expected null/);
    const topk = good();
    topk.calls[1].topk_k = 4;
    expect(() => parse(topk)).toThrow(/calls\[1\]\.topk_k = 4: expected 3 = min\(index_topk 3, end_pos 8\)/);
    const branch = good();
    branch.calls[0].branch = "mqa_decode";
    expect(() => parse(branch)).toThrow(/calls\[0\]\.branch/);
    const shape = good();
    shape.tensors["calls.0.indexer.q_scale"].shape = [1, 7, 2];
    expect(() => parse(shape)).toThrow(/tensors\.calls\.0\.indexer\.q_scale\.shape = \[1, 7, 2\]: expected \[1, 7, 2, 1\]/);
    const idx = good();
    idx.tensors["calls.1.indexer.topk_indices"].data[0] = 8;
    expect(() => parse(idx)).toThrow(/topk_indices\[0\] = 8: expected a key index in 0\.\.7/);
    const i32 = good();
    i32.tensors["calls.1.indexer.topk_indices"].data[0] = 1.5;
    expect(() => parse(i32)).toThrow(/an int32/);
    const weights = good();
    weights.weights = weights.weights.filter((n: string) => n !== "indexer.k_norm.bias");
    expect(() => parse(weights)).toThrow(/x\.json\.weights/);
    const wshape = good();
    wshape.tensors["indexer.wk.weight"].shape = [40, 128];
    expect(() => parse(wshape)).toThrow(/indexer\.wk\.weight\.shape = \[40, 128\]: expected \[128, 40\]/);
  });
});

describe("mlakit verify on mla-vectors/2", () => {
  it("passes the bundled set: a table row per case, exit 0", async () => {
    const { io, out } = capture();
    expect(await run(["verify", new URL(".", DIR).pathname], io)).toBe(0);
    const text = out.join("");
    for (const f of FILES) expect(text).toMatch(new RegExp(`${f.replace(".json", "")}\\s.*pass`));
    expect(text).toMatch(/PASS: 6\/6 DeepSeek-V3.2 cases/);
    expect(text).toMatch(/16940\/16940/);
  });

  it("a file with one flipped e4m3 value fails (exit 1) and says where; malformed is exit 2; --json", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mlakit-dsa-"));
    const raw = JSON.parse(readFileSync(new URL("tiny-k3-plain-noyarn-b1.json", DIR), "utf8"));
    raw.tensors["calls.2.indexer.q_fp8"].data[5] = -raw.tensors["calls.2.indexer.q_fp8"].data[5] || 1;
    writeFileSync(join(dir, "flipped.json"), JSON.stringify(raw));
    const a = capture();
    expect(await run(["verify", join(dir, "flipped.json")], a.io)).toBe(1);
    expect(a.out.join("")).toMatch(/first difference: call 2 \(start_pos 8, seqlen 1\) indexer\.q_fp8\[5\]/);
    const j = capture();
    expect(await run(["verify", join(dir, "flipped.json"), "--json"], j.io)).toBe(1);
    const parsed = JSON.parse(j.out.join(""));
    expect(parsed.cases[0].exact["indexer.q_fp8"].differing).toBe(1);
    expect(parsed.cases[0].topk.differing).toBe(0);
    writeFileSync(join(dir, "flipped.json"), JSON.stringify({ ...raw, batch_size: 0 }));
    const b = capture();
    expect(await run(["verify", dir], b.io)).toBe(2);
    expect(b.err.join("")).toMatch(/batch_size = 0/);
    // the float32 backend runs them by its own rule (outputs within 1e-4, top-k as torch's and by the float32 rule)
    const w = capture();
    expect(await run(["verify", new URL(".", DIR).pathname, "--backend", "wasm", "--json"], w.io)).toBe(0);
    const wj = JSON.parse(w.out.join(""));
    expect(wj).toMatchObject({ pass: true, backend: "wasm", precision: "float32", tolerance: { output: 1e-4 } });
    expect(wj.cases.every((c: { float32: { rows: number; differing: number } | null; topk: { rows: number } }) => c.float32 !== null && c.float32.differing === 0 && c.float32.rows === c.topk.rows)).toBe(true);
  });
});
