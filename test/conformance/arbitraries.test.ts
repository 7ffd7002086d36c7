// The exported arbitraries draw what the kit promises: valid configs covering odd sizes, one
// head, q_lora_rank 0, YaRN on and off, both rope layouts; schedules with startPos > 0 and >= 2
// keys; rollbacks below the cached length; every cache-format name. And the kit stays browser-safe.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { validateConfig, yarnEnabled } from "../../src/config.js";
import {
  BAD_CALL_KINDS,
  BAD_WEIGHT_KINDS,
  MAX_CASE_TOKENS,
  arbBadCallCase,
  arbBadWeightsCase,
  arbCacheFormat,
  arbInput,
  arbMlaCase,
  arbMlaConfig,
  arbMlaWeights,
  arbRollbackCase,
  scheduleEnd,
} from "../../src/conformance/index.js";
import { checkMlaWeights } from "../../src/weights.js";

const N = 400;
const sample = <T>(arb: fc.Arbitrary<T>) => fc.sample(arb, { numRuns: N, seed: 7 });

describe("arbitraries", () => {
  test("configs are valid and cover the features the kit promises", () => {
    const cfgs = sample(arbMlaConfig());
    for (const c of cfgs) {
      expect(validateConfig({ ...c })).toBeTruthy();
      expect(c.max_seq_len).toBeGreaterThanOrEqual(MAX_CASE_TOKENS + 8);
    }
    const some = (f: (c: (typeof cfgs)[number]) => boolean) => cfgs.some(f);
    expect(some((c) => c.dim % 2 === 1)).toBe(true);
    expect(some((c) => c.kv_lora_rank % 2 === 1 && c.qk_nope_head_dim % 2 === 1 && c.v_head_dim % 2 === 1)).toBe(true);
    expect(some((c) => c.n_heads === 1)).toBe(true);
    expect(some((c) => c.q_lora_rank === 0)).toBe(true);
    expect(some((c) => c.q_lora_rank > 0)).toBe(true);
    expect(some((c) => yarnEnabled(c))).toBe(true);
    expect(some((c) => !yarnEnabled(c))).toBe(true);
    expect(some((c) => c.rope_layout === "half")).toBe(true);
    expect(some((c) => c.rope_layout === "interleaved")).toBe(true);
    expect(some((c) => c.qk_rope_head_dim === 2) && some((c) => c.qk_rope_head_dim >= 6)).toBe(true);
  });

  test("options restrict the draw", () => {
    const cfgs = sample(arbMlaConfig({ yarn: "on", ropeLayouts: ["half"], maxDim: 5, maxHeads: 1 }));
    expect(cfgs.every((c) => yarnEnabled(c) && c.rope_layout === "half" && c.dim <= 5 && c.n_heads === 1)).toBe(true);
  });

  test("cases: contiguous schedules from 0, >= 2 keys, startPos > 0 present, batch within max_batch_size", () => {
    const cases = sample(arbMlaCase());
    for (const c of cases) {
      let pos = 0;
      for (const call of c.calls) {
        expect(call.startPos).toBe(pos);
        expect(call.seqlen).toBeGreaterThanOrEqual(1);
        pos += call.seqlen;
      }
      expect(pos).toBeGreaterThanOrEqual(2);
      expect(pos).toBeLessThanOrEqual(MAX_CASE_TOKENS);
      expect(c.batch).toBeGreaterThanOrEqual(1);
      expect(c.batch).toBeLessThanOrEqual(c.config.max_batch_size);
    }
    expect(cases.some((c) => c.calls.some((x) => x.startPos > 0 && x.seqlen > 1))).toBe(true);
    expect(cases.some((c) => c.batch > 1)).toBe(true);
    expect(sample(arbMlaCase({ minBatch: 2 })).every((c) => c.batch >= 2 && c.batch <= c.config.max_batch_size)).toBe(true);
  });

  test("rollbacks land below the cached length; bad calls cover every kind", () => {
    for (const c of sample(arbRollbackCase())) {
      expect(c.rollbackTo).toBeLessThan(scheduleEnd(c.calls));
      expect(c.rollbackTo + c.rollbackSeqlen).toBeLessThanOrEqual(c.config.max_seq_len);
    }
    const kinds = new Set(sample(arbBadCallCase()).map((c) => c.bad));
    expect([...kinds].sort()).toEqual(Object.keys(BAD_CALL_KINDS).sort());
    const wkinds = new Set(sample(arbBadWeightsCase()).map((c) => c.badWeights));
    expect([...wkinds].sort()).toEqual(Object.keys(BAD_WEIGHT_KINDS).sort());
  });

  test("weights have the config's shapes; inputs are finite [B, s, D]; cache formats are the five names", () => {
    const [cfg] = fc.sample(arbMlaConfig(), { numRuns: 1, seed: 3 });
    for (const w of fc.sample(arbMlaWeights(cfg), { numRuns: 5, seed: 1 })) expect(() => checkMlaWeights(cfg, w)).not.toThrow();
    for (const x of fc.sample(arbInput(2, 3, 5), { numRuns: 5, seed: 1 })) {
      expect(x.length).toBe(30);
      expect(x.every(Number.isFinite)).toBe(true);
    }
    expect(new Set(sample(arbCacheFormat()))).toEqual(new Set(["f32", "bf16", "f16", "int8", "fp8_e4m3"]));
  });
});

describe("browser safety", () => {
  // Follow relative imports from an entry and collect every bare or node: specifier.
  function externalImports(entry: string): Set<string> {
    const seen = new Set<string>(), ext = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const src = readFileSync(file, "utf8");
      for (const m of src.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/g)) {
        const spec = m[1];
        if (spec.startsWith(".")) visit(resolve(dirname(file), spec.replace(/\.js$/, ".ts")));
        else ext.add(spec);
      }
    };
    visit(entry);
    return ext;
  }
  const root = join(dirname(new URL(import.meta.url).pathname), "../..");

  test("src/conformance imports nothing but fast-check and mlakit's own browser-safe modules", () => {
    expect([...externalImports(join(root, "src/conformance/index.ts"))]).toEqual(["fast-check"]);
  });

  test("the conformance kit has its own browser-safe entry (mlakit/conformance); the main entry stays free of fast-check", async () => {
    const kit = await import("../../src/conformance/index.js");
    expect(typeof kit.checkBackend).toBe("function");
    expect([...externalImports(join(root, "src/conformance/index.ts"))].filter((s) => s.startsWith("node:"))).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    expect(pkg.exports["./conformance"].import).toBe("./dist/conformance/index.js");
    const main = [...externalImports(join(root, "src/index.ts"))];
    expect(main.filter((s) => s.startsWith("node:"))).toEqual([]);
    expect(main).not.toContain("fast-check");
  });
});
