// The mla-vectors/1 writer: shortest float32 decimals, the official files' layout, bit-exact
// reading back, and generated cases that catch the bugs the official ones catch.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { makeConfig } from "../../src/config.js";
import { FormatError } from "../../src/errors.js";
import { parseVectorCaseExternal } from "../../src/io/mla-vectors-external.js";
import { parseVectorCaseText } from "../../src/io/mla-vectors.js";
import { float32ToJson, generateVectorCase } from "../../src/io/mla-vectors-writer.js";
import { bytesSource, openSafetensors } from "../../src/io/safetensors.js";
import { referenceBackend } from "../../src/reference/index.js";
import { verifyCase } from "../../src/verify.js";
import { noYarnAbsorbed, wrongRopeLayout } from "../conformance/broken-backends.js";

const official = (name: string) => JSON.parse(readFileSync(new URL(`../../vectors/deepseek-v3-mla/${name}.json`, import.meta.url), "utf8"));

describe("float32ToJson", () => {
  test("known shortest forms (as Java's Float.toString / Ryu give them)", () => {
    const cases: [number, string][] = [[0.1, "0.1"], [1 / 3, "0.33333334"], [16777217, "16777216"], [3.4028234663852886e38, "3.4028235e+38"], [1e-45, "1e-45"], [-2.5, "-2.5"], [0, "0"], [-0, "-0"], [100, "100"], [-48710128, "-48710130"]];
    for (const [v, s] of cases) expect(float32ToJson(v)).toBe(s);
    expect(() => float32ToJson(NaN)).toThrow(FormatError);
    expect(() => float32ToJson(1e39)).toThrow(FormatError); // rounds to float32 infinity
  });

  test("every float32 round-trips bit-exactly through JSON, never longer than JS's own double form", () => {
    const bits = new Uint32Array(1), f = new Float32Array(bits.buffer);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (b) => {
        bits[0] = b;
        const v = f[0];
        if (!Number.isFinite(v)) return;
        const s = float32ToJson(v);
        const back = new Float32Array([JSON.parse(s)]);
        expect(new Uint32Array(back.buffer)[0]).toBe(b);
        expect(s.length).toBeLessThanOrEqual(String(v).length);
      }),
      { numRuns: 3000 },
    );
  });
});

describe("generateVectorCase", () => {
  const cfg = makeConfig({ dim: 13, n_heads: 3, q_lora_rank: 6, kv_lora_rank: 8, qk_nope_head_dim: 4, qk_rope_head_dim: 6, v_head_dim: 5, max_seq_len: 40, original_seq_len: 10, rope_factor: 8, mscale: 0.707, max_batch_size: 2 });
  const g = generateVectorCase({ config: cfg, batch: 2, prefill: 5, decodes: 3, seed: 3, name: "t" });

  test("same layout as the official files", () => {
    const mine = JSON.parse(g.json), theirs = official("tiny-qlora-noyarn-b2");
    expect(Object.keys(mine).sort()).toEqual(Object.keys(theirs).sort());
    // the official derived fields, plus mlakit's convention and the cos/sin factor (1 under the official convention)
    expect(Object.keys(mine.derived).sort()).toEqual([...Object.keys(theirs.derived), "convention", "rope_attention_factor"].sort());
    expect([mine.derived.convention, mine.derived.rope_attention_factor]).toEqual(["official", 1]);
    expect(Object.keys(mine.calls[1]).sort()).toEqual(Object.keys(theirs.calls[1]).sort());
    expect(mine.args_used_by_mla).toEqual(theirs.args_used_by_mla);
    expect(mine.calls.map((c: { mask: unknown }) => c.mask)).toEqual(["causal", null, null, null]);
    expect(mine.derived.end_pos).toBe(8);
  });

  test("reads back with the official reader and verifies against the oracle (float32 rounding only)", async () => {
    const c = parseVectorCaseText(g.json, "t");
    expect(c.calls.length).toBe(4);
    const r = await verifyCase(referenceBackend, c);
    expect(r.pass).toBe(true);
    expect(Math.max(...Object.values(r.maxAbsErr))).toBeLessThan(1e-6);
  });

  test("the derived fields agree with DeepSeek's own numbers for an official case's config", () => {
    const off = official("tiny-noqlora-yarn-b2");
    const c = parseVectorCaseText(JSON.stringify(off), "off");
    const mine = JSON.parse(generateVectorCase({ config: c.config, batch: 2, prefill: 8, decodes: 4, seed: 1, name: "x" }).json);
    expect(mine.derived.softmax_scale).toBeCloseTo(off.derived.softmax_scale, 6); // official: float32 softmax_scale
    expect(mine.derived.mscale_factor).toBeCloseTo(off.derived.mscale_factor, 12);
    expect(mine.derived.yarn_enabled).toBe(true);
    const cos = mine.tensors["freqs_cis.cos"].data as number[], theirs = off.tensors["freqs_cis.cos"].data as number[];
    expect(Math.max(...cos.map((v, i) => Math.abs(v - theirs[i])))).toBeLessThan(2e-6); // theirs: float32 angles
  });

  test("generated cases catch the classic bugs (YaRN forgotten, wrong rope pairs)", async () => {
    const c = parseVectorCaseText(g.json, "t");
    for (const b of [noYarnAbsorbed, wrongRopeLayout]) {
      const r = await verifyCase(b, c);
      expect(r.pass, b.name).toBe(false);
    }
  });

  test("weights in a safetensors file beside the JSON: the JSON names it and holds no weight tensors", async () => {
    const e = generateVectorCase({ config: cfg, batch: 1, prefill: 3, decodes: 2, seed: 4, name: "e", weightsFile: "e.safetensors" });
    const json = JSON.parse(e.json);
    expect(json.weights_file).toBe("e.safetensors");
    expect(json.weights).toEqual(["wq_a.weight", "q_norm.weight", "wq_b.weight", "wkv_a.weight", "kv_norm.weight", "wkv_b.weight", "wo.weight"]);
    for (const n of json.weights) expect(json.tensors[n]).toBeUndefined();
    const store = await openSafetensors(bytesSource(e.weightsBytes!));
    const c = await parseVectorCaseExternal(json, "e", store);
    const r = await verifyCase(referenceBackend, c);
    expect(r.pass).toBe(true);
    await expect(parseVectorCaseExternal(json, "e")).rejects.toThrow(FormatError);
    await expect(parseVectorCaseExternal({ ...json, weights: ["nope.weight"] }, "e", store)).rejects.toThrow(/nope.weight/);
  });

  test("bad requests are refused", () => {
    expect(() => generateVectorCase({ config: cfg, batch: 3, prefill: 1, decodes: 0, seed: 1, name: "x" })).toThrow(/max_batch_size/);
    expect(() => generateVectorCase({ config: cfg, batch: 1, prefill: 30, decodes: 11, seed: 1, name: "x" })).toThrow(/max_seq_len/);
    expect(() => generateVectorCase({ config: cfg, batch: 1, prefill: 0, decodes: 1, seed: 1, name: "x" })).toThrow(FormatError);
  });
});
