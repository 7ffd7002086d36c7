// The Hugging Face vectors (vectors/hf-deepseek/, transformers' own DeepSeek attention): every case
// through the public HF path (importHfConfig + openCheckpoint + loadMlaWeights), both paths, on the
// reference (<= 1e-5) and the wasm backend (<= 1e-4, HF_VECTOR_ATOL); every config transformers
// refused is refused with a ConfigError. And the check can fail: the official convention's numbers
// (no cos/sin factor, softmax m from mscale) on the same files miss transformers' outputs.
import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { referenceBackend } from "../../src/reference/index.js";
import { createWasmBackend } from "../../src/wasm/node.js";
import { HF_VECTOR_ATOL } from "../../src/numerics.js";
import { verifyHfCase } from "../../src/verify.js";
import { hfCaseDirs, loadHfCase, loadHfWeights } from "../../src/cli/load-vectors.js";
import type { MlaConfig } from "../../src/config.js";
import { run } from "../../src/cli/run.js";

const DIR = join(import.meta.dirname, "..", "..", "vectors", "hf-deepseek");
const cases = (hfCaseDirs(DIR) ?? []).map(loadHfCase);

describe("Hugging Face vectors (transformers' DeepSeek attention)", () => {
  it("the set covers both model types, YaRN variants, both layouts and refusals", () => {
    expect(cases.length).toBeGreaterThanOrEqual(16);
    const types = new Set(cases.map((c) => c.configJson.model_type));
    for (const t of ["deepseek_v2", "deepseek_v3"]) expect(types.has(t)).toBe(true);
    expect(cases.some((c) => c.case.transformersError !== undefined)).toBe(true);
    expect(cases.some((c) => c.configJson.rope_interleave === false && c.configJson.model_type === "deepseek_v3")).toBe(true);
    expect(cases.some((c) => (c.configJson as { qk_rope_head_dim?: number }).qk_rope_head_dim === 64 && (c.configJson as { kv_lora_rank?: number }).kv_lora_rank === 512)).toBe(true);
  });

  for (const [name, make, tol] of [["reference", async () => referenceBackend, HF_VECTOR_ATOL.float64], ["wasm", () => createWasmBackend(), HF_VECTOR_ATOL.float32]] as const) {
    it(`${name}: every case within ${tol} of transformers, through the public HF path`, async () => {
      const backend = await make();
      for (const c of cases) {
        const r = await verifyHfCase(backend, c.case, c.configJson, (cfg) => loadHfWeights(c, cfg), tol);
        expect(r.pass, `${c.case.name}: ${JSON.stringify(r)}`).toBe(true);
        if (r.expected === "outputs") expect(Math.max(r.maxAbsErr.naive, r.maxAbsErr.absorbed)).toBeLessThanOrEqual(tol);
      }
    });
  }

  it("the official rules on the same files miss transformers' outputs wherever the conventions differ", async () => {
    // model.py's reading of the same numbers: YaRN by max_seq_len > original_seq_len, no cos/sin factor
    const official = (cfg: MlaConfig): MlaConfig => ({ ...cfg, convention: "official", yarn: null, rope_attention_factor: 1, yarn_truncate: true });
    let missed = 0;
    for (const name of ["v3-yarn-no-mscale", "v3-yarn-unequal", "v3-yarn-max-le-original"]) {
      const c = cases.find((k) => k.case.name === name)!;
      const r = await verifyHfCase(referenceBackend, c.case, c.configJson, async (cfg) => loadHfWeights(c, official(cfg)), HF_VECTOR_ATOL.float64);
      if (!r.pass) missed++;
    }
    expect(missed).toBe(3);
  });

  it("mlakit verify DIR checks the set (exit 0, --json)", async () => {
    let out = "";
    const code = await run(["verify", DIR, "--json"], { out: (s) => void (out += s), err: () => {} });
    expect(code).toBe(0);
    const j = JSON.parse(out);
    expect([j.pass, j.tolerance, j.cases.length]).toEqual([true, HF_VECTOR_ATOL.float64, cases.length]);
  });
});
