// End to end in a real browser: Debian's chromium, driven by playwright-core, opens the built
// page, runs the official vectors and a decode step there, and every number is checked against
// the float64 oracle run here in Node, with the tolerances of src/numerics.ts.
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseVectorCaseText } from "../../src/io/mla-vectors.js";
import { F64_REORDER_TOL, VECTOR_ATOL, maxAbsDiff, vectorTolerance } from "../../src/numerics.js";
import { referenceBackend } from "../../src/reference/index.js";
import { verifyCase } from "../../src/verify.js";
import { Rng, mlaWeightShapes, randomMlaWeights } from "../../src/weights.js";
import { convertMlaWeights } from "../../src/weight-formats.js";
import { preset, validateConfig } from "../../src/config.js";
import { decodeShape, layerCost } from "../../src/analysis/cost.js";
import { analyze } from "../../src/analysis/analyze.js";
import { DEFAULT_MACHINE } from "../../src/analysis/bench-results.js";
import { KV_SCHEMES } from "../../src/analysis/kv-cache.js";
import { fmtBytes } from "../../src/analysis/units.js";
import type { PageState } from "../../web/src/state.js";
import { forbidNodeBuiltins } from "../../web/forbid-node-builtins.js";
import { LIBRARY_ENTRY } from "../../web/vite.config.js";
import { CHROMIUM_PATH, HAVE_CHROMIUM, REQUIRE_BROWSER, ROOT, buildPage, launchChromium, servePage } from "./harness.js";

const VECTORS = `${ROOT}vectors/deepseek-v3-mla/`;
const BENCH_PRESET = "deepseek-v2-lite";
/** Small enough that the Node oracle recomputes the step in a second or two. */
const BENCH_CONTEXT = "16";
/** The page's prefill runs in calls of this many tokens: 15 tokens -> calls of 6, 6, 3. */
const PREFILL_CHUNK = 6;
/** Cases per property of the page's conformance run (the kit's own tests run more; this proves it runs here on threads). */
const KIT_RUNS = 8;

describe("browser bundle has no Node built-ins", () => {
  // The check the page build relies on must be able to fail: a fixture importing each kind of
  // built-in is rejected with a message naming it.
  for (const spec of ["node:fs", "path", "v8"]) {
    it(`rejects an import of ${spec}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "mlakit-builtin-"));
      writeFileSync(join(dir, "entry.js"), `import * as m from "${spec}";\nconsole.log(m);\n`);
      const run = build({ configFile: false, root: dir, logLevel: "silent", plugins: [forbidNodeBuiltins()], build: { write: false, lib: { entry: join(dir, "entry.js"), formats: ["es"] } } });
      await expect(run).rejects.toThrow(`Node built-in "${spec}"`);
    });
  }
});

const why = HAVE_CHROMIUM ? "" : ` (SKIPPED: no chromium at ${CHROMIUM_PATH}; apt-get install chromium, or set CHROMIUM_PATH)`;
if (!HAVE_CHROMIUM && REQUIRE_BROWSER) {
  describe("real browser", () => {
    it("needs chromium (MLAKIT_REQUIRE_BROWSER=1)", () => {
      throw new Error(`MLAKIT_REQUIRE_BROWSER=1 but ${CHROMIUM_PATH} does not exist`);
    });
  });
} else {
  describe.skipIf(!HAVE_CHROMIUM)(`real browser: web/ page in Debian chromium${why}`, () => {
    let browser: Browser;
    let server: { url: string; close: () => Promise<void> };
    let page: Page;
    const pageErrors: string[] = [];
    let nodeEntryNames: string[] = [];

    beforeAll(async () => {
      await buildPage(); // the bundle of the library's entry; throws on a Node built-in
      // Read right after the build, from the same dist/ files the bundle was made of.
      nodeEntryNames = Object.keys((await import(/* @vite-ignore */ LIBRARY_ENTRY)) as object).sort();
      server = await servePage();
      browser = await launchChromium();
      page = await browser.newPage({ viewport: { width: 1320, height: 900 } });
      page.on("pageerror", (e) => pageErrors.push(String(e)));
      page.on("console", (m) => {
        if (m.type() === "error") pageErrors.push(m.text());
      });
      page.on("response", (r) => {
        if (r.status() >= 400) pageErrors.push(`HTTP ${r.status()} ${r.url()}`);
      });
      await page.goto(`${server.url}?prefillChunk=${PREFILL_CHUNK}&kitRuns=${KIT_RUNS}`);
      await page.waitForSelector("body[data-state=ready], body[data-state=error]");
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
      await server?.close();
    });

    const pageState = (): Promise<PageState> => page.evaluate(() => window.__mlakit);

    it("loads the library entry and its backends without errors", async () => {
      const s = await pageState();
      expect(s.errors).toEqual([]);
      expect(await page.getAttribute("body", "data-state")).toBe("ready");
      // The bundle carries the whole published entry: the same names Node's import of it gives.
      expect(s.entryExports).toEqual(nodeEntryNames);
      for (const name of ["verifyCase", "parseVectorCaseText", "referenceBackend", "randomMlaWeights", "preset"]) expect(s.entryExports).toContain(name);
      // The loader's own choice comes first: relaxed exactly when this browser validates it; the
      // simd128 build runs beside it then, so both builds are checked in the browser.
      expect(s.relaxedValidates).not.toBeNull();
      const wasmBuilds = s.relaxedValidates ? ["relaxed", "simd128"] : ["simd128"];
      expect(s.backends.map((b) => b.label)).toEqual([...wasmBuilds.map((b) => `wasm (${b})`), "reference"]);
      expect(s.backends.map((b) => b.chosen)).toEqual([true, ...wasmBuilds.slice(1).map(() => false), false]);
      for (const name of ["createWasmBackendFromBytes", "analyze", "timeChart"]) expect(s.entryExports).toContain(name);
      // How many names the entry exports is a developer detail: the page does not show it.
      const status = (await page.textContent("#status")) ?? "";
      expect(status).toMatch(/^Backends: wasm \(/);
      expect(status).not.toMatch(/export/i);
      expect(status).not.toContain(String(nodeEntryNames.length));
      expect(pageErrors).toEqual([]);
    });

    it("shows the cost model's KV-cache figures and both charts for the chosen preset", async () => {
      await page.selectOption("#kv-preset", "kimi-k2");
      await page.fill("#kv-context", "65536");
      await page.selectOption("#kv-format", "fp8");
      const cfg = preset("kimi-k2");
      const a = analyze(cfg, "kimi-k2", { context: 65536, batch: 1, format: "fp8", machine: DEFAULT_MACHINE });
      const rows = await page.$$eval("#kv-table table:first-of-type tbody tr", (trs) => trs.map((tr) => Array.from(tr.children, (td) => td.textContent)));
      expect(rows.map((r) => r[0])).toEqual([...KV_SCHEMES]);
      for (const r of rows) expect(r[3]).toBe(fmtBytes(a.kvCache[r[0] as (typeof KV_SCHEMES)[number]].totalBytes));
      expect(await page.$$eval("#kv-charts svg", (svgs) => svgs.map((s) => s.textContent ?? ""))).toEqual([expect.stringContaining("KV cache of kimi-k2"), expect.stringContaining("Decode step of one kimi-k2 layer")]);
    });

    it("refuses a context that is not a whole number from 1 to max_seq_len, says why, and keeps the last valid tables and charts", async () => {
      await page.selectOption("#kv-preset", "deepseek-v3");
      await page.selectOption("#kv-format", "bf16");
      await page.fill("#kv-context", "4096");
      const max = preset("deepseek-v3").max_seq_len; // 163840
      const drawn = async () => ({ table: await page.innerHTML("#kv-table"), charts: await page.innerHTML("#kv-charts") });
      const valid = await drawn();
      expect(valid.table).toContain("cache at 4,096 tokens");
      expect(await page.textContent("#kv-context-error")).toBe("");
      for (const bad of ["", "0", "-5", "2.5", "abc", "1e9", String(max + 1), "1000000000"]) {
        await page.fill("#kv-context", bad);
        const err = (await page.textContent("#kv-context-error")) ?? "";
        // The value (quoted, or grouped when it is a number over the limit), the expectation and the limit.
        const named = /^[0-9]+$/.test(bad) && Number(bad) > max ? Number(bad).toLocaleString("en-US") : JSON.stringify(bad);
        expect(err).toContain(named);
        expect(err).toContain("from 1 to 163,840 (deepseek-v3's max_seq_len)");
        expect(await page.isVisible("#kv-context-error")).toBe(true);
        expect(await page.getAttribute("#kv-context", "aria-invalid")).toBe("true");
        expect(await drawn()).toEqual(valid);
        expect((await pageState()).kv).toEqual({ text: bad, error: err, shown: 4096 });
      }
      // A preset whose max_seq_len is below the typed context refuses it too (kimi-k2: 131072).
      await page.fill("#kv-context", "150000");
      expect(await page.textContent("#kv-context-error")).toBe("");
      expect(await page.innerHTML("#kv-table")).toContain("cache at 150,000 tokens");
      const at150k = await drawn();
      await page.selectOption("#kv-preset", "kimi-k2");
      expect(await page.textContent("#kv-context-error")).toContain("150,000 is above kimi-k2's max_seq_len");
      expect(await page.textContent("#kv-context-error")).toContain("from 1 to 131,072");
      expect(await drawn()).toEqual(at150k);
      // The limit itself is taken, and clears the error.
      await page.fill("#kv-context", "131072");
      expect(await page.textContent("#kv-context-error")).toBe("");
      expect(await page.getAttribute("#kv-context", "aria-invalid")).toBe("false");
      expect(await page.innerHTML("#kv-table")).toContain("cache at 131,072 tokens");
      expect(await page.textContent("#kv-charts svg:first-of-type")).toContain("KV cache of kimi-k2");
    });

    // Rendered size of the charts' tick labels (the smallest text on them): the font size in CSS px
    // is the label's getBoundingClientRect height over its getBBox height (user units), times its font-size.
    const tickLabels = (): Promise<{ px: number; boxHeight: number; text: string }[]> =>
      page.$$eval("#kv-charts svg text", (texts) =>
        (texts as SVGTextElement[])
          .filter((t) => t.getAttribute("font-size") === "11" && /^(start|middle|end)$/.test(t.getAttribute("text-anchor") ?? ""))
          .map((t) => ({ px: Number(t.getAttribute("font-size")) * (t.getBoundingClientRect().height / t.getBBox().height), boxHeight: t.getBoundingClientRect().height, text: t.textContent ?? "" })),
      );

    for (const width of [760, 1024, 1320]) { // the last one is the window the later tests and the screenshot use
      it(`draws the charts' tick labels at >= 11 px at a ${width} px wide window`, async () => {
        await page.setViewportSize({ width, height: 900 });
        await page.waitForFunction(() => {
          const c = document.getElementById("kv-charts")!;
          return Array.from(c.querySelectorAll("svg"), (s) => Number(s.getAttribute("width"))).every((w) => w === Math.max(600, c.clientWidth));
        });
        const labels = await tickLabels();
        expect(labels.length).toBeGreaterThan(10); // both charts' x and y decades
        for (const l of labels) {
          expect(l.px, l.text).toBeGreaterThanOrEqual(11);
          expect(l.boxHeight, l.text).toBeGreaterThanOrEqual(11);
        }
        // Nothing wider than the window: the page does not scroll sideways.
        expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
      });
    }

    it("verifies every bundled official vector, agreeing with the oracle in Node", async () => {
      await page.click("#verify-run");
      await page.waitForSelector("body[data-verify]", { timeout: 60_000 });
      const s = await pageState();
      expect(s.errors).toEqual([]);
      const rows = s.verify!;
      const files = readdirSync(VECTORS).filter((f) => f.endsWith(".json")).sort();
      const cases = files.map((f) => parseVectorCaseText(readFileSync(VECTORS + f, "utf8"), f));
      for (const b of s.backends) {
        const mine = rows.filter((r) => r.backend === b.label);
        expect(mine.map((r) => r.name).sort()).toEqual(cases.map((c) => c.name).sort());
      }
      for (const r of rows) {
        const tol = vectorTolerance(s.backends.find((b) => b.label === r.backend)!.precision as "float32" | "float64");
        expect(r.tolerance).toBe(tol); // what `mlakit verify --backend <name>` applies
        for (const e of Object.values(r.maxAbsErr)) expect(e).toBeLessThanOrEqual(tol);
        expect(r.pass).toBe(true);
      }
      expect(rows).toHaveLength(cases.length * s.backends.length);
      // The reference backend is the same float64 code in both engines: its errors against the
      // official numbers must match Node's up to float64 reordering.
      for (const c of cases) {
        const node = await verifyCase(referenceBackend, c);
        const inBrowser = rows.find((r) => r.backend === "reference" && r.name === c.name)!;
        for (const [k, v] of Object.entries(node.maxAbsErr)) expect(Math.abs(inBrowser.maxAbsErr[k] - v)).toBeLessThanOrEqual(F64_REORDER_TOL);
      }
      expect(await page.textContent("#verify-summary")).toMatch(new RegExp(`^${rows.length}/${rows.length} pass `));
    }, 90_000);

    const benchCfg = validateConfig({ ...preset(BENCH_PRESET), max_batch_size: 1 });
    // The recipe the page documents (state.ts BenchRun.seed), recomputed here once per path and context.
    const oracle = new Map<string, ArrayLike<number>>();
    const expected = async (seed: number, path: "absorbed" | "naive", context = Number(BENCH_CONTEXT)): Promise<ArrayLike<number>> => {
      const key = `${seed}/${path}/${context}`, cfg = benchCfg;
      if (!oracle.has(key)) {
        const T = context - 1, D = cfg.dim; // prefill T tokens, then one at position T: T+1 keys
        const layer = await referenceBackend.createMla(cfg, randomMlaWeights(cfg, new Rng(seed)), { path });
        layer.forward(new Rng(seed + 1).normalArray(T * D), { batch: 1, seqlen: T, startPos: 0 });
        oracle.set(key, layer.forward(new Rng(seed + 2).normalArray(D), { batch: 1, seqlen: 1, startPos: T }));
      }
      return oracle.get(key)!;
    };
    /** Run the page's decode step with these controls and return the page's state after it. */
    const runBench = async (p: Page, o: { backend: string; context: string; threads: string }): Promise<PageState> => {
      await p.selectOption("#bench-preset", BENCH_PRESET);
      await p.selectOption("#bench-context", o.context);
      await p.selectOption("#bench-backend", { label: o.backend });
      await p.selectOption("#bench-threads", o.threads);
      await p.click("#bench-run");
      await p.waitForSelector("body[data-bench]", { timeout: 120_000 });
      return p.evaluate(() => window.__mlakit);
    };

    it("runs an absorbed and a naive decode step, on each WASM build, whose outputs match the oracle in Node", async () => {
      const cfg = benchCfg;
      const context = Number(BENCH_CONTEXT);
      const s0 = await pageState();
      const wasm = s0.backends.filter((b) => b.name === "wasm");
      expect(wasm.length).toBeGreaterThanOrEqual(1);
      await page.selectOption("#bench-preset", BENCH_PRESET);
      await page.selectOption("#bench-context", BENCH_CONTEXT);
      for (const b of wasm) {
        await page.selectOption("#bench-backend", { label: b.label });
        await page.click("#bench-run");
        await page.waitForSelector("body[data-bench]", { timeout: 60_000 });
        const s = await pageState();
        expect(s.errors).toEqual([]);
        const run = s.bench!;
        expect(run.config).toEqual(cfg);
        expect(run.context).toBe(context);
        expect(run.prefillChunk).toBe(PREFILL_CHUNK);
        expect(run.backend).toBe(b.label);
        expect(run.build).toBe(b.build);
        expect(run.chosen).toBe(b.chosen);
        expect(run.paths.map((p) => p.path)).toEqual(["absorbed", "naive"]);
        // Run in the page's decode worker, which reported each stage: the prefill chunk by chunk, per path.
        expect(run.inWorker).toBe(true);
        const chunkEnds: number[] = [];
        for (let end = PREFILL_CHUNK; end < context - 1 + PREFILL_CHUNK; end += PREFILL_CHUNK) chunkEnds.push(Math.min(end, context - 1));
        for (const path of ["absorbed", "naive"] as const) {
          expect(s.benchProgress.filter((p) => p.path === path && p.stage === "prefill").map((p) => p.done)).toEqual(chunkEnds);
          expect(s.benchProgress.filter((p) => p.path === path && p.stage === "timing")).toHaveLength(1);
        }
        for (const p of run.paths) {
          const want = await expected(run.seed, p.path);
          expect(p.y.length).toBe(cfg.dim);
          // VECTOR_ATOL, the bound `mlakit verify` holds every backend to: outputs here are O(1)
          // (max |y| ~ 1.8) as its derivation requires. F32_VECTOR_ATOL is derived for the vectors'
          // sums of n <= 256; V2-Lite sums n = 2048 terms, which scales that bound to ~6e-5.
          // Measured: ~2e-6 on both paths and both builds.
          expect(maxAbsDiff(p.y, want)).toBeLessThanOrEqual(VECTOR_ATOL);
          expect(p.ms).toBeGreaterThan(0);
          expect(Number.isFinite(p.ms)).toBe(true);
          expect(p.reps).toBeGreaterThanOrEqual(5);
          expect(p.flops).toBe(layerCost(cfg, p.path, decodeShape(run.context, 1), { format: "f32" }).flops);
        }
      }
      // With the same preset chosen above and the f32 storage the timed layer used, the analysis' time
      // chart carries the measured steps (another format's chart would not: they were not measured on it).
      await page.selectOption("#kv-preset", BENCH_PRESET);
      await page.selectOption("#kv-format", "f32");
      const timeChartText = await page.$eval("#kv-charts svg:last-of-type", (svg) => svg.textContent ?? "");
      expect(timeChartText).toContain("measured absorbed step");
      expect(timeChartText).toContain("measured naive step");
      // Leave the default backend selected (the screenshot uses it).
      await page.selectOption("#bench-backend", { label: wasm[0].label });
    }, 120_000);

    it("with fp8 or int8 weights, the decode step matches the oracle in Node on the weights' exact values, and V3's layer becomes selectable in fp8", async () => {
      const cfg = benchCfg;
      const s0 = await pageState();
      const b = s0.backends.find((x) => x.name === "wasm")!;
      await page.selectOption("#bench-backend", { label: b.label });
      // V3 in float32 (750 MB) does not fit the page; in fp8 (193 MB) it does
      await page.selectOption("#bench-weights", "f32");
      expect(await page.$eval("#bench-preset option[value=deepseek-v3]", (o) => (o as HTMLOptionElement).disabled)).toBe(true);
      await page.selectOption("#bench-weights", "fp8");
      expect(await page.$eval("#bench-preset option[value=deepseek-v3]", (o) => (o as HTMLOptionElement).disabled)).toBe(false);
      for (const format of ["fp8", "int8"] as const) {
        await page.selectOption("#bench-weights", format);
        await page.selectOption("#bench-preset", BENCH_PRESET);
        await page.selectOption("#bench-context", BENCH_CONTEXT);
        await page.click("#bench-run");
        await page.waitForSelector("body[data-bench]", { timeout: 60_000 });
        const s = await pageState();
        expect(s.errors).toEqual([]);
        const run = s.bench!;
        expect(run.weightFormat).toBe(format);
        expect(run.paths.map((p) => p.path)).toEqual(["absorbed", "naive"]);
        const T = run.context - 1, D = cfg.dim;
        for (const p of run.paths) {
          // the oracle on the converted weights' exact values (ReferenceMla dequantises them), the page's recipe
          const ref = await referenceBackend.createMla(cfg, convertMlaWeights(cfg, randomMlaWeights(cfg, new Rng(run.seed)), format) as never, { path: p.path });
          ref.forward(new Rng(run.seed + 1).normalArray(T * D), { batch: 1, seqlen: T, startPos: 0 });
          const want = ref.forward(new Rng(run.seed + 2).normalArray(D), { batch: 1, seqlen: 1, startPos: T });
          // VECTOR_ATOL as for float32 weights above: the dequantisation is exact, so only the kernels' float32 arithmetic differs
          expect(maxAbsDiff(p.y, want)).toBeLessThanOrEqual(VECTOR_ATOL);
          // codes and scales: about a quarter of the float32 layer
          expect(p.weightBytes!).toBeLessThan(0.3 * 4 * Object.values(mlaWeightShapes(cfg)).reduce((n, sh) => n + (sh as number[]).reduce((x, y) => x * y, 1), 0));
        }
      }
      await page.selectOption("#bench-weights", "f32");
    }, 120_000);

    it("times the decode step in a Web Worker that loads the .wasm the library's default way, and the page stays responsive", async () => {
      // The worker exists, and fetched the chosen build's .wasm itself (createWasmBackend's default
      // URL, which Vite rewrote to the hashed asset next to the worker's script).
      const workers = page.workers().filter((w) => /bench-worker-[^/]*\.js$/.test(w.url()));
      expect(workers).toHaveLength(1);
      const fetched = await workers[0].evaluate(() => performance.getEntriesByType("resource").map((e) => e.name));
      const s0 = await pageState();
      for (const b of s0.backends.filter((b) => b.name === "wasm")) {
        expect(fetched.filter((u) => new RegExp(`/assets/mla-${b.build}-[^/]*\\.wasm$`).test(u))).toHaveLength(1);
      }
      // A longer run (511 prefill tokens in calls of 6, two paths, ~0.3 s of timing each), while a
      // timer on the page records its gaps and a PerformanceObserver its long tasks.
      await page.selectOption("#bench-preset", BENCH_PRESET);
      await page.selectOption("#bench-context", "512");
      await page.selectOption("#bench-backend", { label: s0.backends[0].label });
      await page.evaluate(() => {
        const w = window as unknown as { __gaps: number[]; __long: number[]; __stop: () => void };
        w.__gaps = [];
        w.__long = [];
        let last = performance.now();
        const timer = setInterval(() => {
          const t = performance.now();
          w.__gaps.push(t - last);
          last = t;
        }, 25);
        const obs = new PerformanceObserver((list) => {
          for (const e of list.getEntries()) w.__long.push(e.duration);
        });
        obs.observe({ type: "longtask" });
        w.__stop = () => {
          clearInterval(timer);
          obs.disconnect();
        };
      });
      const t0 = Date.now();
      await page.click("#bench-run");
      await page.waitForSelector("body[data-bench]", { timeout: 120_000 });
      const wall = Date.now() - t0;
      const { gaps, long } = await page.evaluate(() => {
        const w = window as unknown as { __gaps: number[]; __long: number[]; __stop: () => void };
        w.__stop();
        return { gaps: w.__gaps, long: w.__long };
      });
      const s = await pageState();
      expect(s.errors).toEqual([]);
      expect(s.bench!.context).toBe(512);
      expect(s.bench!.inWorker).toBe(true);
      expect(s.benchProgress.filter((p) => p.stage === "prefill")).toHaveLength(2 * Math.ceil(511 / PREFILL_CHUNK));
      // The run took long enough that a blocked thread would show (the timing alone is >= 2 x 0.3 s).
      expect(wall).toBeGreaterThan(600);
      expect(gaps.length).toBeGreaterThan(wall / 25 / 4);
      // A timer every 25 ms kept firing, and no task on the page's thread came near the 0.3 s a
      // timing loop on it would take.
      expect(Math.max(...gaps)).toBeLessThan(200);
      expect(Math.max(0, ...long)).toBeLessThan(200);
      await page.selectOption("#bench-context", BENCH_CONTEXT);
    }, 150_000);

    it("splits the decode over 2 threads in the cross-origin isolated page, with outputs that match the oracle, and passes the conformance kit there", async () => {
      const s0 = await pageState();
      expect(s0.isolated).toBe(true);
      const wasm = s0.backends.filter((b) => b.name === "wasm");
      // context 128: two 64-key ranges, so split-KV combines two parts
      for (const b of wasm) {
        const s = await runBench(page, { backend: b.label, context: "128", threads: "2" });
        expect(s.errors).toEqual([]);
        const run = s.bench!;
        expect(run.isolated).toBe(true);
        expect(run.threadsAsked).toBe(2);
        expect(run.threads).toEqual({ count: 2, reason: `2: asked for, ${b.build}-threads` });
        for (const p of run.paths) {
          // VECTOR_ATOL as in the 1-thread test above: the split's combine adds a few rounding steps
          // per part (derived in test/wasm/threads/split-bound.ts), orders of magnitude below it here.
          expect(maxAbsDiff(p.y, await expected(run.seed, p.path, 128))).toBeLessThanOrEqual(VECTOR_ATOL);
        }
      }
      await page.selectOption("#bench-backend", { label: wasm[0].label });
      await page.selectOption("#bench-threads", "2");
      await page.click("#check-run");
      await page.waitForSelector("body[data-check]", { timeout: 240_000 });
      const s = await pageState();
      expect(s.errors).toEqual([]);
      const check = s.check!;
      expect(check.threads.count, check.threads.reason).toBe(2);
      expect(check.properties.map((p) => p.name)).toEqual(expect.arrayContaining(["oracle/absorbed", "oracle/naive", "prefill==decodes/absorbed", "rollback==fresh/absorbed", "bad-input-rejected/absorbed"]));
      expect(check.pass, check.report).toBe(true);
      expect(await page.textContent("#check-summary")).toMatch(/threads 2: asked for/);
      await page.selectOption("#bench-threads", "1");
      await page.selectOption("#bench-context", BENCH_CONTEXT);
    }, 300_000);

    it("served without cross-origin isolation, runs on 1 thread when 2 are asked for and says why", async () => {
      const p2 = await browser.newPage();
      const errs: string[] = [];
      p2.on("pageerror", (e) => errs.push(String(e)));
      try {
        await p2.goto(`${server.url}?isolation=off&prefillChunk=${PREFILL_CHUNK}`);
        await p2.waitForSelector("body[data-state=ready], body[data-state=error]");
        const s0 = await p2.evaluate(() => window.__mlakit);
        expect(s0.isolated).toBe(false);
        expect(await p2.textContent("#bench-isolation")).toMatch(/not cross-origin isolated/);
        const s = await runBench(p2, { backend: s0.backends[0].label, context: BENCH_CONTEXT, threads: "2" });
        expect(s.errors).toEqual([]);
        const run = s.bench!;
        expect(run.isolated).toBe(false);
        expect(run.threads.count).toBe(1);
        expect(run.threads.reason).toMatch(/^1: SharedArrayBuffer unavailable \(not cross-origin isolated/);
        for (const p of run.paths) expect(maxAbsDiff(p.y, await expected(run.seed, p.path))).toBeLessThanOrEqual(VECTOR_ATOL);
        expect(errs).toEqual([]);
      } finally {
        await p2.close();
      }
    }, 120_000);

    // `npm run web:screenshot`: the page as a visitor sees it (default prefill chunks) after a
    // verification and a default-sized decode step.
    it.runIf(Boolean(process.env.MLAKIT_SCREENSHOT))("writes the screenshot for the README", async () => {
      await page.goto(server.url);
      await page.waitForSelector("body[data-state=ready]");
      await page.click("#verify-run");
      await page.waitForSelector("body[data-verify=done]", { timeout: 60_000 });
      await page.selectOption("#bench-context", process.env.MLAKIT_SCREENSHOT_CONTEXT ?? "1024");
      await page.click("#bench-run");
      await page.waitForSelector("body[data-bench=done]", { timeout: 120_000 });
      expect((await pageState()).bench!.prefillChunk).toBe(256);
      await page.screenshot({ path: process.env.MLAKIT_SCREENSHOT!, fullPage: true });
    }, 150_000);
  });
}
