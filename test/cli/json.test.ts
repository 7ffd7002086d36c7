// --json on every command: one JSON document on stdout, nothing on stderr, `pass` on every
// command that checks something, and one spelling of each field across commands (maxAbsErr, never
// maxAbsError). Errors under --json are one JSON line on stderr, exit 2.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cli, errLines } from "./in-process.js";
import { ROOT, jsonError } from "./run-cli.js";

const dir = mkdtempSync(join(tmpdir(), "mlakit-json-"));
const CASE = join(ROOT, "vectors", "deepseek-v3-mla", "tiny-qlora-noyarn-b2.json");

/** Every key anywhere in a JSON value. */
function keys(x: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(x)) for (const v of x) keys(v, out);
  else if (x && typeof x === "object") for (const [k, v] of Object.entries(x)) keys(v, out).add(k);
  return out;
}

const EVERY: { argv: string[]; checks: boolean }[] = [
  { argv: ["demo", "--context", "1024", "--quick", "--measure-at", "200"], checks: true },
  { argv: ["verify", CASE], checks: true },
  { argv: ["verify", CASE, "--backend", "wasm"], checks: true },
  { argv: ["verify", join(ROOT, "vectors", "hf-deepseek")], checks: true },
  { argv: ["verify", join(ROOT, "vectors", "deepseek-v3.2-dsa")], checks: true },
  { argv: ["check", "--runs", "2", "--seed", "1", "--property", "oracle/naive"], checks: true },
  { argv: ["cache", CASE, "--format", "f32,fp8_e4m3"], checks: true },
  { argv: ["analyze", "--preset", "deepseek-v2-lite", "--machine", "31,14"], checks: false },
  { argv: ["report", "--machine", "31,14", "--out", join(dir, "report")], checks: false },
  { argv: ["vectors", "generate", "--preset", "deepseek-v3", "--scale-down", "64", "--tokens", "2+1", "--out", join(dir, "gen")], checks: false },
  { argv: ["probe", "--samples", "1"], checks: false },
];

describe("--json on every command", () => {
  it("one document on stdout, stderr empty, `pass` where a command checks, maxAbsErr the one spelling", async () => {
    const seen = new Set<string>();
    for (const { argv, checks } of EVERY) {
      const r = await cli([...argv, "--json"]);
      expect(r.code, `${argv.join(" ")}: ${r.err}`).toBe(0);
      expect(r.err, argv.join(" ")).toBe("");
      const doc = JSON.parse(r.out);
      expect(typeof doc, argv.join(" ")).toBe("object");
      if (checks) expect(doc.pass, argv.join(" ")).toBe(true);
      for (const k of keys(doc)) seen.add(k);
    }
    expect([...seen].filter((k) => /^max_?abs_?err(or)?$/i.test(k)).sort()).toEqual(["maxAbsErr"]); // not maxAbsError, max_abs_err, ...
  }, 120_000);

  it("an error under --json is one line {error: {command, message, field?, value?, expected?}} on stderr, exit 2", async () => {
    const typed = await cli(["analyze", "--preset", "gpt-2", "--json"]);
    expect(typed.code).toBe(2);
    expect(typed.out).toBe("");
    expect(errLines(typed)).toHaveLength(1);
    expect(JSON.parse(typed.err)).toEqual({ error: { command: "analyze", message: expect.stringMatching(/^preset = "gpt-2": expected one of deepseek-v3/), field: "preset", value: "gpt-2", expected: expect.stringMatching(/^one of deepseek-v3/) } });
    const usage = await cli(["verify", join(dir, "missing.json"), "--json"]);
    expect(usage.code).toBe(2);
    expect(jsonError(usage.err.trim())).toMatchObject({ command: "verify", message: expect.stringMatching(/missing\.json/) });
    const unknown = await cli(["frob", "--json"]);
    expect(JSON.parse(unknown.err).error).toMatchObject({ command: null, message: expect.stringMatching(/^unknown command "frob"/) });
  });
});
