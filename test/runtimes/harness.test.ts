// The runtime matrix's own machinery can fail: the judge rejects numbers just past the tolerance,
// a wrong WASM build, a failed probe and a missing case; the bundler refuses Node built-ins; a
// child that overruns its time limit is killed. (The matrix itself: npm run test:runtimes.)
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
// @ts-ignore: plain ES modules of the harness (// @ts-check JavaScript, not compiled)
import { expectations, judge } from "./judge.mjs";
// @ts-ignore: see above
import { encodeTensor } from "./checks.js";
// @ts-ignore: see above
import { bundle, ROOT } from "./bundle.mjs";
// @ts-ignore: see above
import { run, liveCount } from "./procs.mjs";
import { VECTOR_ATOL } from "../../src/numerics.js";

const VECTOR = join(ROOT, "vectors", "deepseek-v3-mla", "tiny-qlora-noyarn-b2.json");
type Exp = Awaited<ReturnType<typeof expectations>>;
let exp: Exp;

/** A runtime result that reproduces `exp` exactly, optionally with one output element moved by `delta`. */
function resultFrom(e: Exp, delta = 0, extra: Record<string, unknown> = {}) {
  const cases = [...e.cases].map(([name, paths]: [string, any]) => {
    const enc = (p: any) => ({ outputs: p.oracle.outputs.map((y: ArrayLike<number>) => encodeTensor(y)), cache: Object.fromEntries(Object.entries(p.oracle.cache).map(([k, t]) => [k, encodeTensor(t as ArrayLike<number>)])) });
    return { name, naive: enc(paths.naive), absorbed: enc(paths.absorbed) };
  });
  if (delta !== 0) {
    const y = Float64Array.from(e.cases.get(cases[0].name).absorbed.oracle.outputs[1]);
    y[3] += delta;
    cases[0].absorbed.outputs[1] = encodeTensor(y);
  }
  return { runtime: "test", backend: "reference", build: "-", relaxedValid: false, cases, probes: [], decode: { output: encodeTensor(e.decode), bytesPerToken: e.latentWidth * 8 }, ...extra };
}

beforeAll(async () => {
  exp = await expectations([VECTOR]);
});

describe("judge", () => {
  it("passes the oracle's own numbers and numbers within the tolerance", () => {
    expect(judge(resultFrom(exp), exp).pass).toBe(true);
    expect(judge(resultFrom(exp, 0.5 * VECTOR_ATOL), exp).pass).toBe(true);
  });
  it("fails one output element just past the tolerance, naming the case", () => {
    const j = judge(resultFrom(exp, 1.5 * VECTOR_ATOL), exp);
    expect(j.pass).toBe(false);
    expect(j.failures.join("\n")).toMatch(/tiny-qlora-noyarn-b2/);
  });
  it("fails a wasm result whose build does not match what the runtime validates", () => {
    const wrong = resultFrom(exp, 0, { backend: "wasm", build: "simd128", relaxedValid: true, decode: { output: encodeTensor(exp.decode), bytesPerToken: exp.latentWidth * 4 }, threads: { count: 1, reason: "1: threads not asked for" } });
    expect(judge(wrong, exp).failures.join("\n")).toMatch(/expected relaxed/);
    const right = { ...wrong, build: "relaxed" };
    expect(judge(right, exp).pass).toBe(true);
  });
  it("fails a failed probe, a missing case and a wrong cache size", () => {
    expect(judge(resultFrom(exp, 0, { probes: [{ name: "memory cap", ok: false, detail: "no error" }] }), exp).pass).toBe(false);
    expect(judge(resultFrom(exp, 0, { cases: [] }), exp).failures.join("\n")).toMatch(/missing/);
    expect(judge(resultFrom(exp, 0, { decode: { output: encodeTensor(exp.decode), bytesPerToken: 1 } }), exp).failures.join("\n")).toMatch(/bytesPerToken/);
  });
});

describe("judge: threads", () => {
  const wasm = (runtime: string, threads: unknown) => resultFrom(exp, 0, { runtime, backend: "wasm", build: "relaxed", relaxedValid: true, decode: { output: encodeTensor(exp.decode), bytesPerToken: exp.latentWidth * 4 }, threads });
  const moved = (delta: number) => {
    const y = Float64Array.from(exp.decodeThreads);
    y[5] += delta;
    return encodeTensor(y);
  };
  it("passes a 2-thread decode within the tolerance and a stated 1 where threads are optional", () => {
    const kit = { pass: true, properties: 11, failed: [], seed: 1 };
    expect(judge(wasm("deno 2", { count: 2, reason: "2: asked for, relaxed-threads", output: moved(0.5 * VECTOR_ATOL), kit }), exp).pass).toBe(true);
    expect(judge(wasm("workerd x", { count: 1, reason: "1: no Worker" }), exp).pass).toBe(true);
  });
  it("fails a 2-thread decode past the tolerance, a threaded runtime that fell back, and a count without its reason", () => {
    const kit = { pass: true, properties: 11, failed: [], seed: 1 };
    expect(judge(wasm("node 20", { count: 2, reason: "2: asked for", output: moved(1.5 * VECTOR_ATOL), kit }), exp).failures.join("\n")).toMatch(/2-thread decode step/);
    expect(judge(wasm("node 20", { count: 2, reason: "2: asked for", output: moved(0), kit: { ...kit, pass: false, failed: ["oracle/absorbed"], report: "FAIL oracle/absorbed" } }), exp).failures.join("\n")).toMatch(/kit failed on 2 threads \(oracle\/absorbed/);
    expect(judge(wasm("node 20", { count: 2, reason: "2: asked for", output: moved(0) }), exp).failures.join("\n")).toMatch(/kit did not run/);
    expect(judge(wasm("deno 2", { count: 1, reason: "1: SharedArrayBuffer unavailable" }), exp).failures.join("\n")).toMatch(/asked for 2, got 1: SharedArrayBuffer/);
    expect(judge(wasm("bun 1", { count: 2, reason: "asked for" }), exp).pass).toBe(false);
    expect(judge(wasm("bun 1", undefined), exp).pass).toBe(false);
  });
});

describe("bundle", () => {
  it("refuses an entry that reaches a Node built-in", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mlakit-bundle-"));
    writeFileSync(join(dir, "bad.js"), 'import { readFileSync } from "node:fs"; export const f = readFileSync;\n');
    await expect(bundle({ bad: join(dir, "bad.js") }, join(dir, "out"))).rejects.toThrow(/Node built-in "node:fs"/);
  });
});

describe("processes", () => {
  it("kills a child that overruns its limit and leaves none behind", async () => {
    const r = await run(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { timeoutMs: 300 });
    expect(r.timedOut).toBe(true);
    expect(liveCount()).toBe(0);
  });
});

describe("relaxed-SIMD probe", () => {
  it("matches Node 20's refusal of relaxed-simd opcodes without the flag, and its acceptance with it", async () => {
    // In a fresh process: V8 flags are process-wide, and other tests turn relaxed SIMD on.
    const probe = (flags: string[]) =>
      run(process.execPath, [...flags, "--input-type=module", "-e", `import { relaxedSimdValid } from ${JSON.stringify(join(ROOT, "test", "runtimes", "backend-select.js"))}; console.log(relaxedSimdValid())`], { timeoutMs: 20_000 });
    const plain = await probe([]);
    const flagged = await probe(["--experimental-wasm-relaxed-simd"]);
    expect(flagged.stdout.trim()).toBe("true");
    // Node 20 (V8 11.3) rejects relaxed-simd opcodes unless flagged (TOOLCHAIN.md); later Node versions ship them.
    expect(plain.stdout.trim()).toBe(Number(process.versions.node.split(".")[0]) === 20 ? "false" : "true");
  });
});
