// @ts-check
// The examples under examples/ run as a user would run them (Deno and Bun scripts with --json,
// the Worker bundled and served by workerd from its own config.capnp on 127.0.0.1), and their
// outputs are judged against the oracle run here on the same weights and tokens.
import { join } from "node:path";
import * as lib from "../../dist/index.js";
import { DEMO_CONFIG, demoWeights, tokenVector } from "../../examples/demo-layer.js";
import { bundle, ROOT } from "./bundle.mjs";
import { run, start, stop } from "./procs.mjs";
import { freePort, waitReady } from "./runtimes.mjs";

const TOKENS = [3, 1, 4, 1, 5];

/** Oracle outputs of one session fed `tokens`. @param {number[]} tokens */
async function oracleSession(tokens) {
  const layer = await lib.referenceBackend.createMla(DEMO_CONFIG, demoWeights(), { path: "absorbed" });
  const out = tokens.map((t, pos) => layer.forward(tokenVector(t), { batch: 1, seqlen: 1, startPos: pos }));
  layer.dispose();
  return out;
}

/** @param {number[][]} got @param {ArrayLike<number>[]} want */
function maxErr(got, want) {
  if (got.length !== want.length) return Infinity;
  return Math.max(0, ...got.map((g, i) => lib.maxAbsDiff(g, want[i])));
}

/**
 * @param {"deno" | "bun"} name @param {string} bin @param {string} outDir
 * @returns {Promise<{ name: string, pass: boolean, detail: string, err: number }>}
 */
async function scriptExample(name, bin, outDir) {
  const script = join(ROOT, "examples", name, "main.ts");
  const args = name === "deno" ? ["run", "--no-prompt", "--no-lock", `--allow-read=${ROOT}`, script, TOKENS.join(","), "--json"] : [script, TOKENS.join(","), "--json"];
  const env = { ...process.env, NO_COLOR: "1", DENO_DIR: join(outDir, "deno-dir"), DENO_NO_UPDATE_CHECK: "1", DO_NOT_TRACK: "1" };
  const r = await run(bin, args, { timeoutMs: 60_000, env, cwd: ROOT });
  if (r.code !== 0) return { name: `example ${name}`, pass: false, detail: `exit ${r.code ?? r.signal}: ${r.stderr.slice(-2000)}`, err: NaN };
  const res = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}");
  const err = maxErr(res.outputs, await oracleSession(TOKENS));
  const pass = err <= lib.VECTOR_ATOL && res.cacheBytes === TOKENS.length * res.bytesPerToken;
  return { name: `example ${name}`, pass, runtime: res.runtime, backend: res.backend, build: res.build, detail: `${TOKENS.length} steps, cache ${res.cacheBytes} B = ${TOKENS.length} x ${res.bytesPerToken} B`, err };
}

/**
 * Serve examples/workerd/config.capnp (its socket moved to a free port) and drive two interleaved
 * sessions, a bad request and a session reset.
 * @param {string} bin
 */
async function workerdExample(bin) {
  const name = "example workerd";
  await bundle({ worker: join(ROOT, "examples", "workerd", "worker.js") }, join(ROOT, "examples", "workerd", "dist"));
  const port = await freePort();
  const server = start(bin, ["serve", join(ROOT, "examples", "workerd", "config.capnp"), "--socket-addr", `http=127.0.0.1:${port}`]);
  const base = `http://127.0.0.1:${port}`;
  /** @param {string} path @param {string} method @param {unknown} [body] */
  const call = async (path, method, body) => {
    const r = await fetch(base + path, { method, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
    return { status: r.status, body: await r.json() };
  };
  try {
    if (!(await waitReady(`${base}/`, server, 30_000))) return { name, pass: false, detail: `no answer on ${base}/ within 30 s: ${server.out.stderr}`, err: NaN };
    const info = (await call("/", "GET")).body;
    const capOk = info.memoryLimitBytes === lib.WORKERS_MEMORY_LIMIT_BYTES; // detected inside Workers, not configured
    /** @type {Record<string, number[][]>} */
    const got = { a: [], b: [] };
    const plan = [["a", 3], ["b", 2], ["a", 1], ["b", 7], ["a", 4]];
    for (const [s, token] of plan) {
      const r = await call(`/sessions/${s}/step`, "POST", { token });
      if (r.status !== 200) return { name, pass: false, detail: `step ${s}: HTTP ${r.status} ${JSON.stringify(r.body)}`, err: NaN };
      got[/** @type {string} */ (s)].push(r.body.output);
    }
    const err = Math.max(maxErr(got.a, await oracleSession([3, 1, 4])), maxErr(got.b, await oracleSession([2, 7])));
    const bad = await call("/sessions/a/step", "POST", { x: [1, 2] });
    const badOk = bad.status === 400 && bad.body.error === "ShapeError" && bad.body.field === "x.length";
    const after = await call("/sessions/a/step", "POST", { token: 1 }); // the failed call must not have advanced the cache
    const end = await call("/sessions/a", "DELETE");
    const again = await call("/sessions/a/step", "POST", { token: 3 });
    const resetOk = after.body.position === 3 && end.body.ended === true && again.body.position === 0 && lib.maxAbsDiff(again.body.output, got.a[0]) === 0;
    // Past 4 sessions the least recently used (b) is evicted: b starts over at position 0.
    for (const s of ["c", "d", "e"]) await call(`/sessions/${s}/step`, "POST", { token: 1 });
    const evicted = await call("/sessions/b/step", "POST", { token: 2 });
    const evictOk = evicted.status === 200 && evicted.body.position === 0 && lib.maxAbsDiff(evicted.body.output, got.b[0]) === 0;
    const pass = err <= lib.VECTOR_ATOL && badOk && resetOk && capOk && evictOk;
    return {
      name,
      pass,
      runtime: "workerd",
      backend: info.backend,
      build: info.build,
      detail: `2 interleaved sessions; bad input -> ${bad.status} ${bad.body.error}${badOk ? "" : " (expected 400 ShapeError x.length)"}; position after it ${after.body.position}; reset ${resetOk ? "ok" : "WRONG"}; LRU eviction ${evictOk ? "ok" : "WRONG"}; memory limit ${info.memoryLimitBytes} B${capOk ? " (detected)" : " (expected the Workers cap)"}`,
      err,
    };
  } catch (e) {
    return { name, pass: false, detail: `${/** @type {Error} */ (e).message}: ${server.out.stderr}`, err: NaN };
  } finally {
    await stop(server);
  }
}

/** @param {{ deno: string, bun: string, workerd: string }} bins @param {string} outDir */
export async function runExamples(bins, outDir) {
  return Promise.all([scriptExample("deno", bins.deno, outDir), scriptExample("bun", bins.bun, outDir), workerdExample(bins.workerd)]);
}
