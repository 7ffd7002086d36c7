// checkBackend against the oracle (must hold everywhere) and against deliberately broken
// backends (each must be caught by the property meant for it, with a small shrunk case).
import { describe, expect, test } from "vitest";
import type { Backend } from "../../src/backend.js";
import { yarnEnabled } from "../../src/config.js";
import { ReferenceDsa } from "../../src/reference/dsa/layer.js";
import { topkRow } from "../../src/reference/dsa/topk.js";
import { ALL_PROPERTY_NAMES, type CheckResult, type MlaCase, PROPERTY_NAMES, checkBackend } from "../../src/conformance/index.js";
import { F32_ORACLE_TOL, F64_REORDER_TOL } from "../../src/numerics.js";
import { referenceBackend } from "../../src/reference/index.js";
import * as broken from "./broken-backends.js";

const SEED = 20261128; // fixed so the shrunk cases asserted below are stable; the reference run also uses a random seed
const failed = (r: CheckResult) => r.properties.filter((p) => !p.pass).map((p) => p.name);
const prop = (r: CheckResult, name: string) => r.properties.find((p) => p.name === name)!;

describe("checkBackend on the oracle", () => {
  test("every property holds for the reference backend (fixed seed)", async () => {
    const r = await checkBackend(referenceBackend, { seed: SEED, numRuns: 60 });
    expect(r.pass, r.report).toBe(true);
    expect(r.properties.map((p) => p.name)).toEqual(ALL_PROPERTY_NAMES);
    expect(r.properties.every((p) => p.numRuns === (p.name.startsWith("dsa/") ? 30 : 60))).toBe(true);
    expect(r.tolerance).toEqual({ atol: F64_REORDER_TOL, rtol: F64_REORDER_TOL });
    expect(r.report).toContain(`${ALL_PROPERTY_NAMES.length}/${ALL_PROPERTY_NAMES.length} properties hold`);
  });

  test("every property holds for the reference backend (random seed, reported on failure)", async () => {
    const r = await checkBackend(referenceBackend, { numRuns: 40 });
    expect(r.pass, r.report).toBe(true);
  });
});

describe("checkBackend catches broken backends", () => {
  test("YaRN forgotten in the absorbed path: oracle/absorbed and absorbed==naive fail on a YaRN-on case", async () => {
    const r = await checkBackend(broken.noYarnAbsorbed, { seed: SEED, numRuns: 60 });
    expect(failed(r).sort()).toEqual(["absorbed==naive", "oracle/absorbed"]);
    const ce = prop(r, "oracle/absorbed").counterexample!;
    expect(yarnEnabled(ce.case.config)).toBe(true);
    expect(ce.measurement.maxAbsErr).toBeGreaterThan(F64_REORDER_TOL);
    expect(r.report).toContain("YaRN on");
  });

  test("wrong RoPE pairing: caught, and the shrunk case has two rope pairs (one pair is the same in both layouts)", async () => {
    const r = await checkBackend(broken.wrongRopeLayout, { seed: SEED, numRuns: 60, properties: ["oracle/naive", "oracle/absorbed"] });
    expect(failed(r)).toEqual(["oracle/naive", "oracle/absorbed"]);
    for (const p of r.properties) {
      const c = p.counterexample!.case as MlaCase;
      expect(c.config.qk_rope_head_dim).toBe(4);
      expect(c.config.dim).toBe(1); // shrunk to the smallest model
      expect(c.calls.length).toBe(2);
    }
  });

  test("a batch row that sees another row: batch-rows-independent fails with batch 2", async () => {
    const r = await checkBackend(broken.batchLeak, { seed: SEED, numRuns: 40, properties: ["batch-rows-independent/naive", "batch-rows-independent/absorbed"] });
    expect(r.pass).toBe(false);
    for (const p of r.properties) {
      expect(p.pass).toBe(false);
      expect((p.counterexample!.case as MlaCase).batch).toBe(2);
      expect(p.counterexample!.measurement.where).toMatch(/^row 1 of batch 2/);
    }
  });

  test("no rollback: rollback==fresh fails naming the exception", async () => {
    const r = await checkBackend(broken.noRollback, { seed: SEED, numRuns: 40, properties: ["rollback==fresh/naive", "rollback==fresh/absorbed"] });
    for (const p of r.properties) {
      expect(p.pass).toBe(false);
      expect(p.counterexample!.measurement.problem).toMatch(/threw PositionError/);
      const c = p.counterexample!.case as { rollbackTo: number };
      expect(c.rollbackTo).toBe(0);
    }
  });

  test("a rejected call that wrote to the cache first: bad-input-rejected fails", async () => {
    const r = await checkBackend(broken.dirtyReject, { seed: SEED, numRuns: 60 });
    expect(failed(r).sort()).toEqual(["bad-input-rejected/absorbed", "bad-input-rejected/naive"]);
    const m = prop(r, "bad-input-rejected/naive").counterexample!.measurement;
    expect(m.problem).toMatch(/in a call that threw|cache after rejected/);
  });

  test("plain Error instead of the typed error: bad-input-rejected fails", async () => {
    const r = await checkBackend(broken.untypedErrors, { seed: SEED, numRuns: 60 });
    expect(failed(r).sort()).toEqual(["bad-input-rejected/absorbed", "bad-input-rejected/naive"]);
    expect(prop(r, "bad-input-rejected/absorbed").counterexample!.measurement.problem).toMatch(/threw Error .* expected mlakit's (Shape|NonFinite|Position)Error/);
  });

  test("a 1e-6 decode error fails the float64 bound, passes the float32 one: the tolerance follows backend.precision", async () => {
    const strict = await checkBackend(broken.decodeOffset, { seed: SEED, numRuns: 30, properties: ["oracle/naive", "prefill==decodes/absorbed"] });
    expect(failed(strict)).toEqual(["oracle/naive", "prefill==decodes/absorbed"]);
    const ce = prop(strict, "oracle/naive").counterexample!;
    expect(ce.measurement.maxAbsErr).toBeCloseTo(1e-6, 9);
    expect((ce.case as MlaCase).calls).toEqual([{ startPos: 0, seqlen: 1 }, { startPos: 1, seqlen: 1 }]);
    const asF32: Backend = { ...broken.decodeOffset, precision: "float32" };
    const loose = await checkBackend(asF32, { seed: SEED, numRuns: 30, properties: ["oracle/naive", "prefill==decodes/absorbed"] });
    expect(loose.tolerance).toEqual({ atol: F32_ORACLE_TOL, rtol: F32_ORACLE_TOL });
    expect(loose.pass, loose.report).toBe(true);
  });

  test("the reported seed and path replay the same minimal case", async () => {
    const r = await checkBackend(broken.noYarnAbsorbed, { seed: SEED, numRuns: 60, properties: ["oracle/absorbed"] });
    const ce = r.properties[0].counterexample!;
    const again = await checkBackend(broken.noYarnAbsorbed, { seed: ce.seed, path: ce.path, properties: ["oracle/absorbed"] });
    expect(again.properties[0].counterexample!.case).toEqual(ce.case);
    expect(r.report).toContain(`replay: checkBackend(backend, { seed: ${ce.seed}, path: "${ce.path}", properties: ["oracle/absorbed"] })`);
  });

  test("the report shows config, calls, max abs error and the replay line", async () => {
    const r = await checkBackend(broken.decodeOffset, { seed: SEED, numRuns: 20, properties: ["oracle/absorbed"] });
    expect(r.report).toMatch(/FAIL  oracle\/absorbed/);
    expect(r.report).toMatch(/config: dim 1, n_heads 1, q_lora_rank \d+, kv_lora_rank 1/); // shrunk to one-wide sizes
    expect(r.report).toMatch(/(official|transformers) convention, rope (interleaved|half)/);
    expect(r.report).toMatch(/calls: {2}batch 1; forward\(startPos 0, seqlen 1\), forward\(startPos 1, seqlen 1\)/);
    expect(r.report).toMatch(/max abs error 1\.000e-6 at call 1 \(startPos 1\) output, element \[0, 0, 0\]/);
  });

  test("a backend that accepts malformed weights: bad-weights-rejected fails", async () => {
    const r = await checkBackend(broken.lenientWeights, { seed: SEED, numRuns: 40 });
    expect(failed(r).sort()).toEqual(["bad-weights-rejected/absorbed", "bad-weights-rejected/naive"]);
    expect(prop(r, "bad-weights-rejected/naive").counterexample!.measurement.problem).toMatch(/createMla accepted the weights, expected mlakit's (Shape|NonFinite)Error/);
    expect(r.report).toMatch(/weights: spoiled by "/);
  });

  test("a backend that never answers fails by timeout instead of stalling the run", async () => {
    const hanging: Backend = { name: "hanging", precision: "float64", createMla: () => new Promise(() => {}) };
    const r = await checkBackend(hanging, { seed: SEED, numRuns: 2, timeoutMs: 20, properties: ["oracle/naive"] });
    expect(r.pass).toBe(false);
    expect(r.properties[0].counterexample!.measurement.problem).toMatch(/no answer within 20 ms/);
  });

  test("a backend with only the absorbed path: paths: [\"absorbed\"] runs the absorbed properties only", async () => {
    const absorbedOnly: Backend = {
      ...referenceBackend,
      name: "absorbed-only",
      createMla: (c, w, o) => {
        if (o.path !== "absorbed") throw new Error("not implemented");
        return referenceBackend.createMla(c, w, o);
      },
    };
    const r = await checkBackend(absorbedOnly, { seed: SEED, numRuns: 10, paths: ["absorbed"] });
    expect(r.pass, r.report).toBe(true);
    expect(r.properties.map((p) => p.name)).toEqual([...PROPERTY_NAMES.filter((n) => n.endsWith("/absorbed")), "dsa/oracle", "dsa/failed-call"]); // it keeps the reference's V3.2 layer
    expect((await checkBackend(absorbedOnly, { seed: SEED, numRuns: 5, properties: ["oracle/naive"] })).pass).toBe(false);
  });

  test("unofficial cache buffer names and wrong output lengths are reported as such", async () => {
    const a = await checkBackend(broken.renamedCache, { seed: SEED, numRuns: 10, properties: ["oracle/naive", "oracle/absorbed"] });
    expect(a.properties[0].counterexample!.measurement.problem).toMatch(/snapshot has no "k_cache" \(official names: k_cache, v_cache\)/);
    expect(a.properties[1].counterexample!.measurement.problem).toMatch(/snapshot has no "kv_cache"/);
    expect((await checkBackend(broken.renamedCache, { seed: SEED, numRuns: 10, properties: ["oracle/naive"], compareCaches: false })).pass).toBe(true);
    const b = await checkBackend(broken.shortOutput, { seed: SEED, numRuns: 30, properties: ["oracle/absorbed"] });
    expect((b.properties[0].counterexample!.case as MlaCase).batch).toBe(2);
    expect(b.properties[0].counterexample!.measurement.problem).toMatch(/output: length 1, expected 2/);
  });

  test("a V3.2 layer with a wrong selection or a wrong score activation: dsa/oracle fails and says where", async () => {
    const worst: Backend = { ...referenceBackend, name: "lowest-k", createDsa: (c, w) => new ReferenceDsa(c, w, { steps: { selectTopk: (sc, off, visible, _end, k) => topkRow(Array.from(sc, (v) => -v), off, visible, k) } }) };
    const r = await checkBackend(worst, { seed: SEED, numRuns: 20, properties: ["dsa/oracle"] });
    expect(r.pass).toBe(false);
    expect(r.properties[0].counterexample!.measurement.problem).toMatch(/top-k row/);
    const abs: Backend = { ...referenceBackend, name: "abs-scores", createDsa: (c, w) => new ReferenceDsa(c, w, { steps: { scoreActivation: Math.abs } }) };
    const a = await checkBackend(abs, { seed: SEED, numRuns: 20, properties: ["dsa/oracle"] });
    expect(a.pass).toBe(false);
    expect(a.properties[0].counterexample!.measurement.problem).toMatch(/index score/);
    expect(a.report).toMatch(/index_n_heads \d+, index_head_dim 128/);
  });

  test("an unknown property name is refused", async () => {
    await expect(checkBackend(referenceBackend, { properties: ["oracle/fast"] })).rejects.toThrow(/unknown property "oracle\/fast"/);
  });
});
