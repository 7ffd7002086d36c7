// One parser for every command: every numeric flag refuses what is not an integer in its range
// with one line naming the flag, the value and the range (exit 2; a JSON error line under
// --json), the same cache-format names on analyze and cache, --version, help per command, and
// "did you mean" for a mistyped command, flag or name.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { STORAGE_FORMATS } from "../../src/cache/layout.js";
import { cli, errLines } from "./in-process.js";
import { ROOT, jsonError } from "./run-cli.js";

/** Every numeric flag, with the argv that reaches it (the rest of the command valid) and its smallest allowed value. */
const NUMERIC: { argv: (v: string) => string[]; flag: string; min: number }[] = [
  { flag: "context", min: 1, argv: (v) => ["analyze", "--machine", "31,14", "--context", v] },
  { flag: "batch", min: 1, argv: (v) => ["analyze", "--machine", "31,14", "--batch", v] },
  { flag: "groups", min: 1, argv: (v) => ["analyze", "--machine", "31,14", "--groups", v] },
  { flag: "seed-rank", min: 1, argv: (v) => ["analyze", "--machine", "31,14", "--seed-rank", v] },
  { flag: "context", min: 1, argv: (v) => ["demo", "--context", v] },
  { flag: "measure-at", min: 1, argv: (v) => ["demo", "--measure-at", v] },
  { flag: "random", min: 0, argv: (v) => ["cache", "--random", v] },
  { flag: "runs", min: 1, argv: (v) => ["check", "--runs", v] },
  { flag: "seed", min: -(2 ** 31), argv: (v) => ["check", "--runs", "1", "--seed", v] },
  { flag: "samples", min: 1, argv: (v) => ["probe", "--samples", v] },
  { flag: "seed", min: 0, argv: (v) => ["vectors", "generate", "--preset", "deepseek-v3", "--seed", v] },
  { flag: "batch", min: 1, argv: (v) => ["vectors", "generate", "--preset", "deepseek-v3", "--batch", v] },
  { flag: "scale-down", min: 1, argv: (v) => ["vectors", "generate", "--preset", "deepseek-v3", "--scale-down", v] },
  { flag: "max-params", min: 1, argv: (v) => ["vectors", "generate", "--preset", "deepseek-v3", "--scale-down", "64", "--max-params", v] },
  { flag: "layer", min: 0, argv: (v) => ["vectors", "generate", "--preset", "deepseek-v3", "--weights-from", "/nonexistent", "--layer", v] },
];

/** Not integers, or out of any sane range (2^53 + 1 is not even representable). */
const BAD = ["abc", "2.5", "1e3", "0x10", "-3", " 7", "1,000", "", "9007199254740993", "99999999999999999999"];

describe("every numeric flag: one line naming it, exit 2", () => {
  for (const f of NUMERIC) {
    const bad = [...BAD.filter((v) => !(v === "-3" && f.min < 0)), ...(f.min > 0 ? ["0"] : [])];
    it(`${f.argv("N").slice(0, 2).join(" ")} --${f.flag}: ${bad.map((b) => JSON.stringify(b)).join(" ")}`, async () => {
      for (const v of bad) {
        const r = await cli(f.argv(v));
        expect(r.code, `--${f.flag} ${v}: ${r.err}`).toBe(2);
        expect(r.out).toBe("");
        const lines = errLines(r);
        expect(lines, `--${f.flag} ${JSON.stringify(v)}`).toHaveLength(1);
        expect(lines[0]).toContain(`--${f.flag} ${JSON.stringify(v)}: expected an integer from `);
        const j = await cli([...f.argv(v), "--json"]);
        expect(j.code).toBe(2);
        expect(j.out).toBe("");
        expect(errLines(j)).toHaveLength(1);
        expect(jsonError(errLines(j)[0])?.message).toBe(lines[0].replace(/^mlakit [a-z]+: /, ""));
      }
    });
  }

  it("demo's lists and names: a bad entry of --measure-at names the whole value; --preset suggests; --no-measure with measuring flags is refused", async () => {
    for (const v of ["1024,abc", "1024,", ",1024", "1024,0", "1024;4096"]) {
      const lines = errLines(await cli(["demo", "--measure-at", v]));
      expect(lines, v).toEqual([`mlakit demo: --measure-at ${JSON.stringify(v)}: expected an integer from 1 to 163,838, or several separated by commas`]);
    }
    expect(errLines(await cli(["demo", "--preset", "deepseek-v2-lte"]))[0]).toMatch(/--preset "deepseek-v2-lte": expected one of .*\(did you mean deepseek-v2-lite\?\)/);
    for (const extra of [["--quick"], ["--measure-at", "64"], ["--preset", "deepseek-v3"]]) {
      const r = await cli(["demo", "--no-measure", ...extra]);
      expect(r.code).toBe(2);
      expect(errLines(r)).toEqual(["mlakit demo: --no-measure skips the measured compute section: --preset, --measure-at and --quick have nothing to do"]);
    }
  });

  it("a value after a flag that starts with '-' is read as the value (and refused by its range), not as a flag", async () => {
    expect(errLines(await cli(["analyze", "--context", "-5"]))).toEqual(['mlakit analyze: --context "-5": expected an integer from 1 to 1,073,741,824']);
    expect(errLines(await cli(["analyze", "--context"]))[0]).toMatch(/--context needs a value/);
  });

  it("the top of each range is taken, one above it is not", async () => {
    expect((await cli(["analyze", "--machine", "31,14", "--preset", "deepseek-v2-lite", "--context", String(2 ** 30), "--json"])).code).toBe(0);
    expect((await cli(["analyze", "--machine", "31,14", "--context", String(2 ** 30 + 1)])).code).toBe(2);
    expect((await cli(["analyze", "--machine", "31,14", "--weights", "fp16"])).err).toMatch(/--weights "fp16": expected one of f32, bf16, int8, fp8/);
  });

  it("--machine and --tokens: one line each", async () => {
    for (const [argv, re] of [
      [["analyze", "--machine", "31"], /--machine "31": expected GFLOPS,GBPS/],
      [["analyze", "--machine", "31,abc"], /--machine "31,abc": expected GFLOPS,GBPS/],
      [["analyze", "--machine", "0,14"], /--machine "0,14"/],
      [["analyze", "--machine", "1e999,14"], /--machine "1e999,14"/],
      [["vectors", "generate", "--preset", "deepseek-v3", "--tokens", "2.5+1"], /--tokens "2.5\+1": expected P\+D/],
      [["vectors", "generate", "--preset", "deepseek-v3", "--tokens", "0+1"], /--tokens "0\+1"/],
    ] as [string[], RegExp][]) {
      const r = await cli(argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(errLines(r)).toHaveLength(1);
      expect(r.err).toMatch(re);
    }
  });
});

describe("one set of cache-format names", () => {
  it("analyze --format and cache --format take the same names (the latent cache's, plus fp8 for fp8_e4m3) and refuse the same", async () => {
    for (const name of [...STORAGE_FORMATS, "fp8"]) {
      const a = await cli(["analyze", "--machine", "31,14", "--preset", "deepseek-v2-lite", "--format", name, "--json"]);
      expect(a.code, `analyze --format ${name}: ${a.err}`).toBe(0);
      expect(JSON.parse(a.out).format).toBe(name === "fp8" ? "fp8_e4m3" : name);
      const c = await cli(["cache", join(ROOT, "vectors", "deepseek-v3-mla", "tiny-qlora-noyarn-b2.json"), "--format", name, "--json"]);
      expect(c.code, `cache --format ${name}: ${c.err}`).toBe(0);
      expect(JSON.parse(c.out).rows.map((r: { format: string }) => r.format)).toEqual([name === "fp8" ? "fp8_e4m3" : name]);
    }
    const refusals = await Promise.all([cli(["analyze", "--format", "fp8_e5m2"]), cli(["cache", "--format", "fp8_e5m2"])]);
    for (const r of refusals) expect(r.code).toBe(2);
    expect(errLines(refusals[0])[0].replace(/^mlakit analyze: /, "")).toBe(errLines(refusals[1])[0].replace(/^mlakit cache: /, ""));
    expect(refusals[0].err).toMatch(/did you mean fp8_e4m3\?/);
  });
});

describe("--version, help, suggestions", () => {
  const pkgVersion = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
  it("--version prints the package's version (JSON under --json)", async () => {
    expect(await cli(["--version"])).toEqual({ code: 0, out: `mlakit ${pkgVersion}\n`, err: "" });
    expect(JSON.parse((await cli(["--version", "--json"])).out)).toEqual({ name: "mlakit", version: pkgVersion });
  });

  it("mlakit help <command> and mlakit <command> --help print that command's help, not the list", async () => {
    const list = (await cli(["help"])).out;
    const commands = [...list.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]);
    expect(commands).toEqual(["demo", "verify", "vectors", "check", "analyze", "report", "cache", "probe"]);
    for (const c of commands) {
      const a = await cli(["help", c]), b = await cli([c, "--help"]), h = await cli([c, "-h"]);
      expect(a.code).toBe(0);
      expect(a.out.startsWith(`mlakit ${c} `), c).toBe(true);
      expect(b).toEqual(a);
      expect(h).toEqual(a);
      expect(a.out).not.toBe(list);
    }
    expect((await cli(["vectors", "generate", "--help"])).out).toMatch(/^mlakit vectors generate /);
  });

  it("a mistyped command, flag or choice gets a suggestion, exit 2, one line", async () => {
    for (const [argv, re] of [
      [["verfy", "x"], /^mlakit: unknown command "verfy" \(did you mean verify\?\)/],
      [["help", "anlyze"], /^mlakit help: unknown command "anlyze" \(did you mean analyze\?\)/],
      [["analyze", "--contxt", "5"], /^mlakit analyze: unknown option --contxt \(did you mean --context\?\)/],
      [["verify", "x", "--backend", "wams"], /unknown backend "wams": expected one of reference, wasm \(did you mean wasm\?\)/],
      [["probe", "--build", "relaxd"], /--build "relaxd": expected one of auto, simd128, relaxed \(did you mean relaxed\?\)/],
      [["check", "--property", "rollback"], /--property "rollback": expected one of/],
      [["verify", "a", "b"], /verify takes at most 1 positional argument, got "b"/],
    ] as [string[], RegExp][]) {
      const r = await cli(argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(errLines(r), argv.join(" ")).toHaveLength(1);
      expect(r.err, argv.join(" ")).toMatch(re);
    }
  });

  it("--build picks the WASM build where the wasm backend runs, and is refused without it", async () => {
    const r = await cli(["verify", join(ROOT, "vectors", "deepseek-v3-mla", "tiny-qlora-noyarn-b2.json"), "--backend", "wasm", "--build", "simd128", "--json"]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ pass: true, backend: "wasm", build: "simd128" });
    const ref = await cli(["verify", "x", "--build", "simd128"]);
    expect(ref.code).toBe(2);
    expect(ref.err).toMatch(/--build simd128 picks a build of the wasm backend; add --backend wasm/);
  });
});
