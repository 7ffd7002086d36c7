// `mlakit probe` measures this machine from the package's own WASM core and --save stores it
// where analyze finds it; `mlakit report` writes into --out DIR (default ./mlakit-report) and
// nowhere else: never into the package.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cli } from "./in-process.js";
import { ROOT, requireBuild, runMain } from "./run-cli.js";

const dir = mkdtempSync(join(tmpdir(), "mlakit-probe-"));

describe("mlakit probe", () => {
  it("--json: positive finite figures in the documented schema; --save stores the same document and analyze uses it", async () => {
    const saved = join(dir, "conf", "mlakit", "machine.json");
    const env = { MLAKIT_MACHINE_FILE: saved };
    const r = await cli(["probe", "--samples", "3", "--json", "--save"], { env });
    expect(r.code, r.err).toBe(0);
    const doc = JSON.parse(r.out);
    expect(Object.keys(doc).sort()).toEqual(["builds", "format", "l2GBs", "measuredAt", "peakGflops", "peakRelaxedGflops", "peakSimd128Gflops", "runtime", "samples", "savedTo", "seconds", "stream1GBs", "stream4GBs", "stream8GBs", "streamGBs"]);
    expect(doc.format).toBe("mlakit-machine/1");
    for (const k of ["peakGflops", "peakSimd128Gflops", "streamGBs", "stream1GBs", "stream4GBs", "stream8GBs", "l2GBs", "seconds"]) {
      expect(Number.isFinite(doc[k]) && doc[k] > 0, `${k} = ${doc[k]}`).toBe(true);
    }
    // plausible for one core of any current CPU: a WASM f32x4 peak of 1-1000 GFLOP/s, a DRAM stream of 0.5-500 GB/s below the L2 figure
    expect(doc.peakGflops).toBeGreaterThan(1);
    expect(doc.peakGflops).toBeLessThan(1000);
    expect(doc.streamGBs).toBeGreaterThan(0.5);
    expect(doc.streamGBs).toBeLessThan(doc.l2GBs * 1.5);
    expect(doc.streamGBs).toBe(Math.max(doc.stream1GBs, doc.stream4GBs, doc.stream8GBs));
    expect(doc.peakGflops).toBe(Math.max(doc.peakSimd128Gflops, doc.peakRelaxedGflops ?? 0));
    expect(doc.builds[0]).toBe("simd128");
    expect(doc.peakRelaxedGflops === null).toBe(!doc.builds.includes("relaxed"));
    expect(doc.samples).toBe(3);
    expect(doc.savedTo).toBe(saved);
    const { savedTo: _, ...stored } = doc;
    expect(JSON.parse(readFileSync(saved, "utf8"))).toEqual(stored);
    const a = await cli(["analyze", "--preset", "deepseek-v2-lite", "--json"], { env });
    expect(JSON.parse(a.out).machine).toEqual({ gflops: doc.peakGflops, gbps: doc.streamGBs, source: `measured by mlakit probe at ${doc.measuredAt} (${saved})` });
  });

  it("a saved-probe path that is a FIFO or a device: refused in one line, not read or written (no hang)", async () => {
    const fifo = join(dir, "fifo.json");
    execFileSync("mkfifo", [fifo]);
    for (const [argv, file, re] of [
      [["analyze"], fifo, /saved probe = ".*fifo\.json": expected a regular file \(found a FIFO/],
      [["analyze"], "/dev/zero", /saved probe = "\/dev\/zero": expected a regular file \(found a character device\)/],
      [["probe", "--save"], fifo, /saved probe = ".*fifo\.json": expected a regular file or a new path to write \(found a FIFO/],
    ] as [string[], string, RegExp][]) {
      const r = await cli(argv, { env: { MLAKIT_MACHINE_FILE: file } });
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.out).toBe("");
      expect(r.err.trim().split("\n")).toEqual([expect.stringMatching(re)]);
    }
  });

  it("the text form names both figures; --build simd128 measures that build only", async () => {
    const r = await cli(["probe", "--samples", "1", "--build", "simd128", "--quiet"]);
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    expect(r.out).toMatch(/^peak: [\d.]+ GFLOP\/s \(simd128 [\d.]+, relaxed not measured\)\nstreaming read: [\d.]+ GB\/s/);
  });
});

/** name -> mtime of every file under a directory. */
function snapshot(d: string, out: Record<string, number> = {}): Record<string, number> {
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) snapshot(p, out);
    else out[p] = statSync(p).mtimeMs;
  }
  return out;
}

describe("mlakit report writes only where it is told", () => {
  it("default ./mlakit-report in the current directory, --out DIR elsewhere; the package's docs/ untouched", async () => {
    requireBuild();
    const docs = snapshot(join(ROOT, "docs"));
    const cwd = mkdtempSync(join(tmpdir(), "mlakit-report-cwd-"));
    const env = { MLAKIT_MACHINE_FILE: join(dir, "none.json") };
    const r = await runMain(["report", "--machine", "31,14"], { cwd, env, timeoutMs: 60_000 });
    expect(r.code, r.err).toBe(0);
    expect(readdirSync(cwd)).toEqual(["mlakit-report"]);
    const files = readdirSync(join(cwd, "mlakit-report")).sort();
    expect(files).toContain("analysis.md");
    expect(files.every((f) => /\.(md|svg)$/.test(f))).toBe(true);
    const out = join(dir, "elsewhere", "r");
    const j = await runMain(["report", "--machine", "31,14", "--out", out, "--json"], { cwd, env, timeoutMs: 60_000 });
    expect(j.code, j.err).toBe(0);
    expect(JSON.parse(j.out).files.sort()).toEqual(files.map((f) => join(out, f)));
    expect(readdirSync(cwd)).toEqual(["mlakit-report"]);
    expect(snapshot(join(ROOT, "docs"))).toEqual(docs);
    // an installed user has no bench/results: the report must not point them at the repository's files or scripts
    const md = readFileSync(join(cwd, "mlakit-report", "analysis.md"), "utf8");
    expect(md).toMatch(/31 GFLOP\/s/);
    expect(existsSync(join(ROOT, "mlakit-report"))).toBe(false);
  });
});
