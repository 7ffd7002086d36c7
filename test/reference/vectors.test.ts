// The oracle against DeepSeek's official model.py vectors, and the CLI's verify contract.
import { readFileSync, readdirSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Backend } from "../../src/backend.js";
import type { MlaConfig } from "../../src/config.js";
import { run } from "../../src/cli/run.js";
import { FormatError } from "../../src/errors.js";
import { parseVectorCaseText } from "../../src/io/mla-vectors.js";
import { VECTOR_ATOL } from "../../src/numerics.js";
import { referenceBackend } from "../../src/reference/index.js";
import { ReferenceMla } from "../../src/reference/mla.js";
import { verifyCase } from "../../src/verify.js";

const DIR = new URL("../../vectors/deepseek-v3-mla/", import.meta.url);
const FILES = readdirSync(DIR).filter((f) => f.endsWith(".json")).sort();
const load = (f: string) => parseVectorCaseText(readFileSync(new URL(f, DIR), "utf8"), f);

function capture() {
  const out: string[] = [], err: string[] = [];
  return { io: { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s) }, out, err };
}

describe("official vectors", () => {
  it("are all bundled", () => {
    expect(FILES).toEqual(["medium-qlora-yarn-b1.json", "small-noqlora-noyarn-b2-theta.json", "small-qlora-yarn-b1.json", "tiny-noqlora-noyarn-b1.json", "tiny-noqlora-yarn-b2.json", "tiny-qlora-noyarn-b2.json"]);
  });

  it.each(FILES)("%s: both paths, every call and both caches match model.py", async (f) => {
    const c = load(f);
    const r = await verifyCase(referenceBackend, c);
    expect(r.pass).toBe(true);
    // A float64 oracle should land near float32 rounding of the official run (~1e-6), far below the tolerance.
    for (const e of Object.values(r.maxAbsErr)) expect(e).toBeLessThan(1e-5);
    // The softmax scale (YaRN mscale squared) is the most common bug elsewhere: check it directly.
    expect(Math.abs(new ReferenceMla(c.config, c.weights).softmaxScale - c.softmaxScale)).toBeLessThan(1e-12);
  });

  // Known bugs must fail verification (vectors README, "Notes and limits"): the tolerance separates them.
  const mutant = (name: string, patch: (cfg: MlaConfig) => Partial<MlaConfig>): Backend => ({
    name,
    precision: "float64",
    createMla: (cfg, w, o) => new ReferenceMla({ ...cfg, ...patch(cfg) }, w, o),
  });
  it.each([
    ["half-split rope layout", mutant("half", () => ({ rope_layout: "half" })), "tiny-noqlora-noyarn-b1.json"],
    ["mscale dropped", mutant("no-mscale", () => ({ mscale: 0 })), "tiny-noqlora-yarn-b2.json"],
    ["YaRN off (no frequency ramp, no mscale)", mutant("no-yarn", (c) => ({ original_seq_len: c.max_seq_len })), "small-qlora-yarn-b1.json"],
  ])("a backend with the bug '%s' fails", async (_label, backend, f) => {
    const r = await verifyCase(backend, load(f));
    expect(r.pass).toBe(false);
    expect(Math.max(r.maxAbsErr.naive, r.maxAbsErr.absorbed)).toBeGreaterThan(100 * VECTOR_ATOL);
  });
});

describe("mla-vectors/1 reader", () => {
  it("reads float32 bit-exactly", () => {
    const text = readFileSync(new URL(FILES[0], DIR), "utf8");
    const raw = JSON.parse(text).tensors["kv_norm.weight"].data as number[];
    const c = load(FILES[0]);
    expect(Array.from(c.weights.kv_norm)).toEqual(raw.map(Math.fround));
  });

  it("rejects malformed files with a FormatError naming the field", () => {
    const good = JSON.parse(readFileSync(new URL("tiny-noqlora-noyarn-b1.json", DIR), "utf8"));
    expect(() => parseVectorCaseText("{", "x.json")).toThrow(FormatError);
    expect(() => parseVectorCaseText(JSON.stringify({ ...good, format: "mla-vectors/2" }), "x.json")).toThrow(/x\.json\.format = "mla-vectors\/2": expected "mla-vectors\/1"/);
    const bad = structuredClone(good);
    bad.tensors["wo.weight"].data.pop();
    expect(() => parseVectorCaseText(JSON.stringify(bad), "x.json")).toThrow(/tensors\.wo\.weight\.data\.length/);
    const noCalls = { ...good, calls: [] };
    expect(() => parseVectorCaseText(JSON.stringify(noCalls), "x.json")).toThrow(/calls/);
  });
});

describe("mlakit demo", () => {
  it("verifies the bundled vectors and prints DeepSeek-V3's KV cache (70,272 bytes per token at bf16, 61 layers)", async () => {
    const { io, out } = capture();
    expect(await run(["demo"], io)).toBe(0);
    const text = out.join("");
    expect(text).toMatch(/All official vectors pass/);
    expect(text).toMatch(/^mla\s+576\s+70,272\s/m);
  });
});

describe("mlakit verify", () => {
  it("--json on the bundled directory: every case passes, exit 0", async () => {
    const { io, out } = capture();
    const code = await run(["verify", "vectors/deepseek-v3-mla", "--json"], io);
    expect(code).toBe(0);
    const j = JSON.parse(out.join(""));
    expect(j.pass).toBe(true);
    expect(j.cases.map((c: { name: string }) => c.name)).toEqual(FILES.map((f) => f.replace(/\.json$/, "")));
    for (const c of j.cases) expect(c.maxAbsErr).toBeLessThan(1e-5);
  });

  it("a case that does not match exits 1; a missing path or malformed file exits 2 with a clear message", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mlakit-verify-"));
    const good = JSON.parse(readFileSync(new URL("tiny-qlora-noyarn-b2.json", DIR), "utf8"));
    good.tensors["calls.0.output_naive"].data[0] += 0.01;
    writeFileSync(join(dir, "wrong.json"), JSON.stringify(good));
    const a = capture();
    expect(await run(["verify", join(dir, "wrong.json")], a.io)).toBe(1);
    expect(a.out.join("")).toMatch(/FAIL/);
    const b = capture();
    expect(await run(["verify", join(dir, "nope")], b.io)).toBe(2);
    expect(b.err.join("")).toMatch(/no such file or directory/);
    writeFileSync(join(dir, "garbage.json"), "not json");
    const c = capture();
    expect(await run(["verify", join(dir, "garbage.json")], c.io)).toBe(2);
    expect(c.err.join("")).toMatch(/garbage\.json.*expected JSON text/);
    const d = capture();
    expect(await run(["verify", "vectors/deepseek-v3-mla", "--backend", "cuda"], d.io)).toBe(2);
    expect(d.err.join("")).toMatch(/unknown backend "cuda"/);
    const e = capture();
    expect(await run(["verify", "--bogus"], e.io)).toBe(2);
  });
});
