// createWasmBackend({ threads }) in Node: absorbed and naive layers on a worker pool (split-KV and
// prefill row splits, head splits, projection panel splits) on the threaded build of the backend's
// ISA. The conformance kit on both paths at 2 and at 3 threads (an odd count), a long context that
// the splits really cut (> 64 keys: several ranges; > 16 prefill tokens: several pieces) against
// the float64 oracle at the float32 tolerance, and what backend.threads says when threads are not
// asked for or not possible.
import { describe, expect, it } from "vitest";
import { PROPERTY_NAMES, checkBackend } from "../../src/conformance/index.js";
import { makeConfig } from "../../src/config.js";
import { ConfigError } from "../../src/errors.js";
import { firstMismatch, toleranceFor } from "../../src/numerics.js";
import { ReferenceMla } from "../../src/reference/mla.js";
import { Rng, randomMlaWeights } from "../../src/weights.js";
import { createWasmBackend } from "../../src/wasm/node.js";
import fc from "fast-check";
import { ThreadPool } from "../../src/wasm/threads/index.js";
import { loadThreadedCoreNode, nodeSpawner } from "../../src/wasm/threads/node.js";

// every MLA property of the kit but the weight checks (those never reach a thread)
const THREADED_PROPERTIES = PROPERTY_NAMES.filter((n) => !n.startsWith("bad-weights"));

describe("ThreadPool.linearSplit", () => {
  it("splits output panels over the threads with the same bits as one thread (GEMV and GEMM, N not a multiple of 8, strides and offsets)", async () => {
    const pool = await ThreadPool.create({ threads: 3, core: await loadThreadedCoreNode("auto"), spawn: nodeSpawner(), minWorkPerThread: 0 });
    try {
      const k = pool.kernels;
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 ** 30 }), async (M, N, K, pad, threads, seed) => {
          const rng = new Rng(seed);
          const w = k.packNK(rng.normalArray(N * K), N, K);
          const ldx = K + pad, ldy = N + pad;
          const x = k.alloc(M * ldx + 1, rng.normalArray(M * ldx + 1));
          const one = k.alloc(M * ldy + 1).fill(Number.NaN), split = k.alloc(M * ldy + 1).fill(Number.NaN);
          k.linear(M, x, w, one, { ldx, ldy, xOff: 1, yOff: 1 });
          const { parts } = pool.linearSplit(M, x, w, split, { ldx, ldy, xOff: 1, yOff: 1 }, threads);
          expect(parts).toBe(Math.max(1, Math.min(threads, Math.ceil(Math.ceil(N / 8) / 4))));
          expect(Array.from(split.toArray())).toEqual(Array.from(one.toArray())); // NaN where neither wrote (padding), equal bits elsewhere
          for (const b of [w.buf, x, one, split]) b.free();
        }),
        { numRuns: 60 },
      );
      // CI's counterexample (seed 1104172470): M 1, N 25, K 2 split by single panels gave other bits (the GEMV's leftover panels sum differently)
      for (const [M, N, K] of [[1, 25, 2], [1, 200, 33], [1, 8 * 13, 5], [3, 25, 2]] as const) {
        const rng = new Rng(N * K + M);
        const w = k.packNK(rng.normalArray(N * K), N, K), x = k.alloc(M * K, rng.normalArray(M * K));
        const one = k.alloc(M * N), split = k.alloc(M * N);
        k.linear(M, x, w, one);
        pool.linearSplit(M, x, w, split);
        expect(Array.from(split.toArray()), `M ${M} N ${N} K ${K}`).toEqual(Array.from(one.toArray()));
      }
      expect(() => pool.linearSplit(2, k.alloc(3), k.packNK(new Float32Array(8 * 4), 8, 4), k.alloc(16))).toThrow(/x/);
    } finally {
      await pool.terminate();
    }
  });
});

describe("createWasmBackend({ threads })", () => {
  it("says 1 and why when threads are not asked for; refuses a bad count", async () => {
    expect((await createWasmBackend()).threads).toEqual({ count: 1, reason: "1: threads not asked for" });
    expect((await createWasmBackend({ threads: 1 })).threads.count).toBe(1);
    for (const bad of [0, 1.5, -2, 65]) await expect(createWasmBackend({ threads: bad })).rejects.toThrow(ConfigError);
  });

  for (const threads of [2, 3]) {
    it(`${threads} threads: the kit's properties hold on both paths`, async () => {
      // threadMinWork 0: the kit's small shapes split every call as far as it goes
      const backend = await createWasmBackend({ threads, threadMinWork: 0 });
      expect(backend.threads.count, backend.threads.reason).toBe(threads);
      const r = await checkBackend(backend, { numRuns: 12, seed: 77 + threads, properties: THREADED_PROPERTIES });
      expect(r.pass, r.report).toBe(true);
    }, 60_000);
  }

  for (const path of ["absorbed", "naive"] as const) {
    it(`${path}, 2 threads: a long prefill (several 64-key ranges and 16-token pieces) and decodes equal the oracle; dispose ends the workers`, async () => {
      const backend = await createWasmBackend({ threads: 2, threadMinWork: 0 });
      const cfg = makeConfig({ dim: 24, n_heads: 3, q_lora_rank: 0, kv_lora_rank: 16, qk_nope_head_dim: 8, qk_rope_head_dim: 4, v_head_dim: 8, max_seq_len: 400, max_batch_size: 2 });
      const rng = new Rng(5);
      const w = randomMlaWeights(cfg, rng);
      const layer = await backend.createMla(cfg, w, { path }), ref = new ReferenceMla(cfg, w, { path });
      const { atol, rtol } = toleranceFor("float32");
      const prefill = rng.normalArray(2 * 300 * cfg.dim);
      const yp = layer.forward(prefill, { batch: 2, seqlen: 300, startPos: 0 }), wp = ref.forward(prefill, { batch: 2, seqlen: 300, startPos: 0 });
      expect(firstMismatch(yp, wp, atol, rtol), "prefill").toBe(-1);
      for (let t = 300; t < 304; t++) {
        const x = rng.normalArray(2 * cfg.dim);
        const got = layer.forward(x, { batch: 2, seqlen: 1, startPos: t }), want = ref.forward(x, { batch: 2, seqlen: 1, startPos: t });
        const i = firstMismatch(got, want, atol, rtol);
        expect(i, `step ${t} output[${i}]: ${got[i]} vs ${want[i]}`).toBe(-1);
      }
      layer.dispose();
      expect(() => layer.forward(rng.normalArray(2 * cfg.dim), { batch: 2, seqlen: 1, startPos: 304 })).toThrow();
    }, 60_000);
  }
});
