// Progress on stderr (src/cli/progress.ts): a redrawn line on a terminal, plain `[t s]` lines
// otherwise, for slow stages (or any stage once a command has run a second, or every stage under
// --progress); never under --json or --quiet.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { progress } from "../../src/cli/progress.js";
import { cli, errLines } from "./in-process.js";

const dir = mkdtempSync(join(tmpdir(), "mlakit-progress-"));

function fakeIo(tty: boolean) {
  let err = "";
  return { io: { out: () => {}, err: (s: string) => void (err += s), errIsTty: tty }, err: () => err };
}

describe("progress module", () => {
  it("plain: a quick stage prints nothing, a slow one a line, and every stage after the first second", () => {
    let t = 0;
    const { io, err } = fakeIo(false);
    const p = progress(io, undefined, () => t);
    p.stage("quick");
    p.stage("expected slow", true);
    t = 400;
    p.stage("still under a second");
    t = 1500;
    p.stage("after a second");
    p.step(1, 3); // within a second of the last line: not printed
    t = 1600;
    p.step(2, 3); // nor this
    t = 2700;
    p.step(3, 3);
    p.end();
    expect(err()).toBe("[0.0 s] expected slow\n[1.5 s] after a second\n[2.7 s] after a second (3/3)\n");
  });

  it("a terminal: one line redrawn in place, cleared at the end; off (false) prints nothing", () => {
    let t = 0;
    const { io, err } = fakeIo(true);
    const p = progress(io, undefined, () => t);
    p.stage("reading");
    t = 2000;
    p.step(1, 2);
    p.end();
    expect(err()).toBe("\r\x1b[2K[0.0 s] reading\r\x1b[2K[2.0 s] reading (1/2)\r\x1b[2K");
    const off = fakeIo(true);
    const q = progress(off.io, false, () => t);
    q.stage("x", true);
    q.step(1, 1);
    q.end();
    expect(off.err()).toBe("");
  });
});

describe("progress in the commands", () => {
  const gen = (...extra: string[]) => ["vectors", "generate", "--preset", "deepseek-v3", "--scale-down", "64", "--tokens", "2+1", "--out", join(dir, "g"), ...extra];

  it("--progress: plain lines on stderr; --json or --quiet: none", async () => {
    const loud = await cli(gen("--progress"));
    expect(loud.code).toBe(0);
    expect(errLines(loud).length).toBeGreaterThan(3);
    expect(errLines(loud).every((l) => /^\[\d+\.\d s\] /.test(l))).toBe(true);
    for (const flag of ["--json", "--quiet"]) {
      const r = await cli(gen("--progress", flag));
      expect(r.code).toBe(0);
      expect(r.err, flag).toBe("");
    }
  });

  it("on a terminal the line is redrawn and cleared before the results", async () => {
    const r = await cli(gen("--name", "tty"), { tty: true });
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^\r\x1b\[2K\[0\.0 s\] weights: /);
    expect(r.err.endsWith("\r\x1b[2K")).toBe(true);
    expect(r.err).not.toMatch(/\n/);
  });

  it("the probe (seconds long) reports each stage; under --json nothing", async () => {
    const r = await cli(["probe", "--samples", "1", "--build", "simd128"]);
    expect(r.code).toBe(0);
    expect(errLines(r)).toEqual([
      expect.stringMatching(/^\[\d+\.\d s\] measuring peak FLOP\/s \(simd128\) \(1\/3\)$/),
      expect.stringMatching(/measuring streaming read of 256 MiB \(2\/3\)$/),
      expect.stringMatching(/measuring L2-resident read \(3\/3\)$/),
    ]);
    expect((await cli(["probe", "--samples", "1", "--build", "simd128", "--json"])).err).toBe("");
  });
});
