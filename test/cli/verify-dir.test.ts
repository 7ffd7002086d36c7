// verify DIR checks every case on its own: a malformed file is an ERROR row (its message below the
// table, or an {name, pass: false, error} entry under --json) and the others are still checked.
// Exit 2 when any file could not be checked (one stderr line naming the first), else 1 when any
// case fails, else 0.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cli, errLines } from "./in-process.js";
import { ROOT, jsonError } from "./run-cli.js";

const OFFICIAL = join(ROOT, "vectors", "deepseek-v3-mla");
const GOOD = ["tiny-qlora-noyarn-b2.json", "tiny-noqlora-yarn-b2.json"];
const root = mkdtempSync(join(tmpdir(), "mlakit-verify-dir-"));

function caseDir(name: string, extra: Record<string, string>): string {
  const d = join(root, name);
  mkdirSync(d);
  for (const f of GOOD) copyFileSync(join(OFFICIAL, f), join(d, f));
  for (const [f, text] of Object.entries(extra)) writeFileSync(join(d, f), text);
  return d;
}

/** An official case with one output moved by 0.01: it parses, and fails. */
function failing(): string {
  const j = JSON.parse(readFileSync(join(OFFICIAL, GOOD[0]), "utf8"));
  j.tensors["calls.0.output_absorb"].data[0] += 0.01;
  j.name = "z-failing";
  return JSON.stringify(j);
}

describe("verify DIR with bad files", () => {
  it("a malformed file: the others are checked and pass, the bad one is an ERROR row, exit 2 with one line", async () => {
    const d = caseDir("one-bad", { "b-broken.json": "{ not json" });
    const r = await cli(["verify", d]);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/^tiny-qlora-noyarn-b2 .* pass$/m);
    expect(r.out).toMatch(/^tiny-noqlora-yarn-b2 .* pass$/m);
    expect(r.out).toMatch(/^b-broken\.json .* ERROR$/m);
    expect(r.out).toMatch(/^b-broken\.json: ERROR .*b-broken\.json = .*: expected JSON text/m);
    expect(r.out).toMatch(/FAIL: 2\/3 cases/);
    expect(errLines(r)).toEqual([expect.stringMatching(/^mlakit verify: 1 of 3 cases could not be checked: .*b-broken\.json/)]);
  });

  it("malformed beats failing: exit 2 when one file is malformed and another fails; exit 1 with only the failure", async () => {
    const both = caseDir("bad-and-failing", { "a-broken.json": "[1, 2", "z-failing.json": failing() });
    const r = await cli(["verify", both, "--json"]);
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.out);
    expect(doc.pass).toBe(false);
    const byName = Object.fromEntries(doc.cases.map((c: { name: string }) => [c.name, c]));
    expect(byName["a-broken.json"]).toEqual({ name: "a-broken.json", pass: false, error: expect.stringMatching(/expected JSON text/) });
    expect(byName["tiny-qlora-noyarn-b2"]).toMatchObject({ pass: true, maxAbsErr: expect.any(Number) });
    expect(byName["z-failing"]).toMatchObject({ pass: false, maxAbsErr: expect.any(Number) });
    expect(byName["z-failing"].maxAbsErr).toBeGreaterThan(0.009);
    expect(jsonError(r.err.trim())?.message).toMatch(/^1 of 4 cases could not be checked/);
    const failOnly = caseDir("failing-only", { "z-failing.json": failing() });
    const f = await cli(["verify", failOnly]);
    expect(f.code).toBe(1);
    expect(f.err).toBe("");
    expect(f.out).toMatch(/FAIL: 2\/3 cases/);
  });

  it("two bad files: each an ERROR row, one stderr line counting both", async () => {
    const d = caseDir("two-bad", { "x1.json": "", "x2.json": "null" });
    const r = await cli(["verify", d]);
    expect(r.code).toBe(2);
    expect(r.out.match(/ ERROR$/gm)).toHaveLength(2);
    expect(errLines(r)).toEqual([expect.stringMatching(/^mlakit verify: 2 of 4 cases could not be checked: .*\(and 1 more: see the ERROR rows\)$/)]);
  });

  it("a single bad file (or a directory of only bad files) prints nothing on stdout, just its line", async () => {
    const d = join(root, "only-bad");
    mkdirSync(d);
    writeFileSync(join(d, "x.json"), "{");
    for (const target of [d, join(d, "x.json")]) {
      const r = await cli(["verify", target]);
      expect(r).toMatchObject({ code: 2, out: "" });
      expect(errLines(r)).toEqual([expect.stringMatching(/^mlakit verify: .*x\.json = .*: expected JSON text/)]);
    }
  });
});
