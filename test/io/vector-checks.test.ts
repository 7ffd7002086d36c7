// Issue 13 item 10: what an official-vector case states is checked against its own args. These
// files all passed `mlakit verify` (exit 0) or failed it with "error Infinity" (exit 1): an empty
// freqs table, a wrong derived.softmax_scale, a transposed weight (same number of values), output
// and cache tensors of another shape. Now a malformed file is a FormatError (exit 2, one line) and
// a scale that disagrees with mlaSoftmaxScale fails the case (exit 1, its own column). Also the
// names that live on Object.prototype ("constructor", "toString", "__proto__") are no preset,
// command or config field.
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/run.js";
import { validateConfig } from "../../src/config.js";
import { mlaSoftmaxScale } from "../../src/derived.js";
import { ConfigError, FormatError } from "../../src/errors.js";
import { parseVectorCase } from "../../src/io/mla-vectors.js";
import { referenceBackend } from "../../src/reference/index.js";
import { SOFTMAX_SCALE_RTOL, verifyCase } from "../../src/verify.js";

const VECTORS = fileURLToPath(new URL("../../vectors/deepseek-v3-mla/", import.meta.url));
const CASE = join(VECTORS, "tiny-qlora-noyarn-b2.json");
type Json = { tensors: Record<string, { shape: number[]; data: number[] }>; derived: Record<string, number>; calls: Record<string, unknown>[]; weights: string[]; batch_size: number };
let base: Json;
let dir: string;
beforeAll(() => {
  base = JSON.parse(readFileSync(CASE, "utf8"));
  dir = mkdtempSync(join(tmpdir(), "mlakit-checks-"));
});

async function verify(edit: (j: Json) => void): Promise<{ code: number; out: string; err: string }> {
  const j = structuredClone(base);
  edit(j);
  const file = join(dir, `case-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(j));
  let out = "", err = "";
  const code = await run(["verify", file], { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

describe("item 10: a malformed case is exit 2 with one line naming the tensor and the shape it should have", () => {
  const malformed: [string, (j: Json) => void, RegExp][] = [
    ["an empty freqs table", (j) => void (j.tensors["freqs_cis.cos"] = j.tensors["freqs_cis.sin"] = { ...j.tensors["freqs_cis.cos"], shape: [0, 2], data: [] }), /freqs_cis\.cos\.shape = \[0, 2\]: expected \[9, 2\] \(freqs_cis \[end_pos, dr\/2\]/],
    ["a freqs table of 8 rows for 9 positions", (j) => void (j.tensors["freqs_cis.sin"] = { ...j.tensors["freqs_cis.sin"], shape: [8, 2], data: j.tensors["freqs_cis.sin"].data.slice(0, 16) }), /freqs_cis\.sin\.shape = \[8, 2\]: expected \[9, 2\]/],
    ["a transposed weight", (j) => void (j.tensors["wkv_a.weight"].shape = [24, 14]), /wkv_a\.weight\.shape = \[24, 14\]: expected \[14, 24\] \(wkv_a\.weight of this config, \[out, in\]\)/],
    ["an output of another batch", (j) => void (j.tensors["calls.1.output_naive"] = { ...j.tensors["calls.1.output_naive"], shape: [1, 1, 24], data: j.tensors["calls.1.output_naive"].data.slice(0, 24) }), /output_naive\.shape = \[1, 1, 24\]: expected \[2, 1, 24\] \(\[B, s, D\]/],
    ["an input flattened", (j) => void (j.tensors["calls.0.input"].shape = [12, 24]), /calls\.0\.input\.shape = \[12, 24\]: expected \[2, 6, 24\]/],
    ["a cache one position short", (j) => void (j.tensors["cache.absorb.kv_cache"] = { ...j.tensors["cache.absorb.kv_cache"], shape: [2, 8, 10], data: j.tensors["cache.absorb.kv_cache"].data.slice(0, 160) }), /kv_cache\.shape = \[2, 8, 10\]: expected \[2, 9, 10\]/],
    ["a weight missing from the list", (j) => void j.weights.pop(), /weights = .*: expected all of wq_a\.weight/],
    ["a weight listed twice", (j) => void j.weights.push(j.weights[0]), /weights\[\] = "wq_a\.weight": expected each of .* once/],
    ["a weight of another config", (j) => void (j.weights[0] = "wq.weight"), /weights\[\] = "wq\.weight": expected each of wq_a\.weight/],
    ["a gap between calls", (j) => void (j.calls[1].start_pos = 7), /calls\[1\]\.start_pos = 7: expected <= 6/],
    ["derived.end_pos that is not the last call's end", (j) => void (j.derived.end_pos = 10), /derived\.end_pos = 10: expected 9/],
    ["a value beyond float32", (j) => void (j.tensors["calls.0.input"].data[3] = 1e39), /calls\.0\.input\.data\[3\] = 1e\+39: expected a finite float32 number/],
    ["a softmax_scale that is no number", (j) => void ((j.derived as Record<string, unknown>).softmax_scale = null), /softmax_scale = null: expected a finite number/],
    ["a tensor name from Object.prototype", (j) => void (j.calls[0].input = "constructor"), /tensors\["constructor"\] = undefined \(missing\): expected a tensor/],
  ];
  for (const [what, edit, message] of malformed) {
    it(what, async () => {
      const r = await verify(edit);
      expect(r.code, r.out + r.err).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(r.out).toBe("");
    });
  }
  it("the reader throws FormatError for each (not ShapeError from the layer, not Infinity from the comparison)", () => {
    for (const [what, edit] of malformed) {
      const j = structuredClone(base);
      edit(j);
      expect(() => parseVectorCase(j, "case"), what).toThrow(FormatError);
    }
  });
});

describe("item 10: derived.softmax_scale is compared with mlaSoftmaxScale, within one float32 ulp", () => {
  it("a scale off by 30% (YaRN's m^2 left out) fails the case, exit 1, in its own column", async () => {
    const r = await verify((j) => void (j.derived.softmax_scale *= 1.3));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/scale \(rel\)/);
    expect(r.out).toMatch(/3\.00e-1\s+FAIL/);
  });
  it("the float32 rounding of the scale passes; two float32 ulps fail", async () => {
    const c = parseVectorCase(base, "case");
    const f32 = { ...c, softmaxScale: Math.fround(c.softmaxScale) };
    const ok = await verifyCase(referenceBackend, f32);
    expect(ok.softmaxScaleRelErr).toBeLessThanOrEqual(SOFTMAX_SCALE_RTOL);
    expect(ok.pass).toBe(true);
    const off = await verifyCase(referenceBackend, { ...c, softmaxScale: c.softmaxScale * (1 + 2 * SOFTMAX_SCALE_RTOL) });
    expect(off.pass).toBe(false);
  });
  it("every bundled case's scale is mlakit's to the bit", () => {
    for (const f of readdirSync(VECTORS).filter((f) => f.endsWith(".json"))) {
      const c = parseVectorCase(JSON.parse(readFileSync(join(VECTORS, f), "utf8")), f);
      expect(c.softmaxScale, f).toBe(mlaSoftmaxScale(c.config));
    }
  });
});

describe("item 10: names on Object.prototype are no preset, command or config field", () => {
  it("--preset constructor names the preset (it said config.dim = undefined)", async () => {
    for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      let err = "";
      const code = await run(["analyze", "--preset", name], { out: () => {}, err: (s) => void (err += s) });
      expect(code).toBe(2);
      expect(err).toMatch(new RegExp(`preset = "${name}": expected one of deepseek-v3`));
    }
  });
  it("mlakit constructor is an unknown command, exit 2 (it was exit 70: cmd.run is not a function)", async () => {
    for (const name of ["constructor", "toString", "__proto__"]) {
      let err = "";
      const code = await run([name], { out: () => {}, err: (s) => void (err += s) });
      expect(code).toBe(2);
      expect(err).toMatch(new RegExp(`unknown command "${name}"`));
    }
  });
  it("config keys constructor, toString and __proto__ are refused as unknown fields", () => {
    const good = JSON.parse(JSON.stringify(validateConfig({ ...parseVectorCase(base, "case").config })));
    for (const key of ["constructor", "toString", "__proto__"]) {
      const cfg = JSON.parse(JSON.stringify(good).replace(/^\{/, `{"${key}": 1, `));
      expect(() => validateConfig(cfg), key).toThrow(ConfigError);
      expect(() => validateConfig(cfg), key).toThrow(`config.${key} = 1: expected no such field`);
    }
  });
});
