#!/usr/bin/env node
// The thread pool outside Node's worker_threads: Web Workers (module workers from a Blob URL)
// running the same Atomics protocol, in Deno and Bun (and Node, for comparison). Builds a paged f32
// cache, runs split-KV decode attention on 2 threads and the one-range kernel on the caller, and
// prints the largest difference relative to the output's scale (float32 reordering: ~1e-6).
//
//   npm run build:ts && npx deno run --allow-read tools/threads/runtime-smoke.mjs
//   npm run build:ts && npx bun tools/threads/runtime-smoke.mjs
//   npm run build:ts && node tools/threads/runtime-smoke.mjs

import { readFileSync } from "node:fs";
import { ThreadPool, webSpawner } from "../../dist/wasm/threads/index.js";
import { compileAnyCore, sharedMemorySupport } from "../../dist/wasm/loader.js";

const g = globalThis;
const runtime = g.Deno ? `deno ${g.Deno.version.deno}` : g.Bun ? `bun ${g.Bun.version}` : `node ${process.version}`;
if (!g.Deno && !g.Bun) (await import("node:v8")).setFlagsFromString("--experimental-wasm-relaxed-simd");
const read = (f) => readFileSync(new URL(`../../build/${f}`, import.meta.url));
const core = await compileAnyCore({ simd128: read("mla-simd128.wasm"), relaxed: read("mla-relaxed.wasm"), "simd128-threads": read("mla-simd128-threads.wasm"), "relaxed-threads": read("mla-relaxed-threads.wasm") });
let spawn = webSpawner();
if (!g.Deno && !g.Bun && typeof g.Worker !== "function") spawn = (await import("../../dist/wasm/threads/node.js")).nodeSpawner(); // Node 20 has no Web Worker
const pool = await ThreadPool.create({ threads: 2, core, spawn, stepTimeoutMs: 10_000, minWorkPerThread: 0 });
const k = pool.kernels;
const H = 5, C = 96, dr = 8, W = C + dr, S = 1000, nb = Math.ceil(S / 64);
let seed = 7;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const cache = k.alloc(nb * 64 * W);
{ const v = cache.view(); for (let i = 0; i < v.length; i++) v[i] = rand(); }
const q = k.alloc(H * W);
{ const v = q.view(); for (let i = 0; i < v.length; i++) v[i] = rand() * 0.3; }
const a = { format: "f32", sq: 1, H, C, dr, len: S, q, pool: { ptr: cache.ptr, bytes: nb * 64 * W * 4 }, blocks: Int32Array.from({ length: nb }, (_, i) => i), table: k.alloc(nb), scale: 1 / Math.sqrt(W) };
const o1 = k.alloc(H * C).fill(NaN), l1 = k.alloc(H).fill(NaN), o2 = k.alloc(H * C).fill(NaN), l2 = k.alloc(H).fill(NaN);
k.attnMlaDecode({ ...a, o: o1, lse: l1, scratch: k.alloc(k.attnPagedScratchFloats(H, C, dr)) });
const { parts } = pool.attnMlaDecodeSplit({ ...a, o: o2, lse: l2 });
const x = o1.toArray(), y = o2.toArray(), lx = l1.toArray(), ly = l2.toArray();
let scaleO = 0, d = 0, dl = 0, nan = 0;
for (let i = 0; i < x.length; i++) (scaleO = Math.max(scaleO, Math.abs(x[i])), (d = Math.max(d, Math.abs(x[i] - y[i]))), (nan += Number.isNaN(y[i]) ? 1 : 0));
for (let i = 0; i < H; i++) dl = Math.max(dl, Math.abs(lx[i] - ly[i]));
await pool.terminate();
const ok = parts === 2 && nan === 0 && d <= 1e-5 * scaleO && dl <= 1e-5 * Math.max(...Array.from(lx, Math.abs));
console.log(`${runtime}: shared memory ${JSON.stringify(sharedMemorySupport())}, build ${core.variant}, ${pool.threads} threads, ${parts} parts: max |o diff| ${(d / scaleO).toExponential(2)} of max |o|, max |lse diff| ${dl.toExponential(2)}: ${ok ? "ok" : "FAILED"}`);
if (!ok) process.exit(1);
