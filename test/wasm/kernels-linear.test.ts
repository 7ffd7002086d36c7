// GEMM, GEMV, RMSNorm and RoPE kernels == float64 math on the same float32 inputs, both builds,
// edge sizes (rows < tile, N % 8, odd K, K across the KC=256 block, GEMV's 4 streams with
// leftover panels), strided rows; outputs start as NaN so an unwritten element fails, and the
// gaps between strided rows must stay NaN.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { f32SumBound, F32_U } from "../../src/numerics.js";
import { KERNEL_BUILDS, kernels, firstOutside, describe_, Rng, SENTINEL } from "./helpers.js";
import { ropeFrequencies, ropeTable } from "../../src/derived.js";
import { applyRope } from "../../src/reference/rope.js";
import type { WasmKernels } from "../../src/wasm/kernels.js";

const RUNS = 50;

/** gemm, gemv (row 0) and linear on x [M, K] (row stride K+padX), W [N, K], y [M, N] (row stride N+padY) against float64. */
async function checkLinear(k: WasmKernels, M: number, N: number, K: number, padX: number, padY: number, seed: number): Promise<void> {
  const rng = new Rng(seed);
  const ldx = K + padX, ldy = N + padY;
  const X = rng.normalArray(M * ldx), W = rng.normalArray(N * K, 1 / Math.sqrt(K));
  const ref = new Float64Array(M * ldy).fill(NaN), bound = new Float64Array(M * ldy).fill(NaN);
  for (let i = 0; i < M; i++)
    for (let n = 0; n < N; n++) {
      let s = 0, a = 0;
      for (let j = 0; j < K; j++) { s += X[i * ldx + j] * W[n * K + j]; a += Math.abs(X[i * ldx + j] * W[n * K + j]); }
      ref[i * ldy + n] = s;
      bound[i * ldy + n] = f32SumBound(K, a) + 1e-30;
    }
  const w = k.packNK(W, N, K);
  const x = k.alloc(M * ldx, X), y = k.alloc(M * ldy).fill(SENTINEL);
  k.gemm(M, x, w, y, { ldx, ldy });
  const got = y.toArray();
  for (let i = 0; i < got.length; i++) if (Number.isNaN(ref[i])) { expect(Number.isNaN(got[i]), `gap ${i} written`).toBe(true); got[i] = 0; ref[i] = 0; bound[i] = 0; }
  const bad = firstOutside(got, ref, bound);
  expect(bad, bad >= 0 ? describe_(got, ref, bound, bad) : "").toBe(-1);
  // GEMV on row 0 and linear() with M rows
  const yv = k.alloc(N).fill(SENTINEL);
  k.gemv(x, w, yv);
  const gv = yv.toArray();
  const bv = firstOutside(gv, ref.subarray(0, N), bound.subarray(0, N));
  expect(bv, bv >= 0 ? describe_(gv, ref.subarray(0, N), bound.subarray(0, N), bv) : "").toBe(-1);
  y.fill(SENTINEL);
  k.linear(M, x, w, y, { ldx, ldy });
  const gl = y.toArray();
  for (let i = 0; i < M; i++) for (let n = 0; n < N; n++) expect(Math.abs(gl[i * ldy + n] - ref[i * ldy + n]) <= bound[i * ldy + n]).toBe(true);
  for (const b of [x, y, yv, w.buf]) b.free();
}

describe.each(KERNEL_BUILDS)("%s build", (build) => {
  it("gemm_4x8 / gemv_1x8 / linear: y = x W^T within gamma_K * sum|x w| per element", async () => {
    const k = await kernels(build);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 13 }), fc.oneof(fc.integer({ min: 1, max: 27 }), fc.integer({ min: 60, max: 90 })), fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 250, max: 600 })),
        fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        async (M, N, K, padX, padY, seed) => checkLinear(k, M, N, K, padX, padY, seed),
      ),
      { numRuns: RUNS },
    );
  });

  // XNNPACK-style edge sweep: every M mod 4 (the tile's rows) x N mod 8 (a panel) x K remainder
  // (mod 4, and across the 256-deep K block), each once, beside the random draws above.
  it("gemm_4x8 / gemv_1x8 / linear: every M mod 4 x N mod 8 x K remainder", async () => {
    const k = await kernels(build);
    let seed = 1;
    for (const K of [1, 2, 3, 4, 5, 7, 8, 9, 255, 256, 257]) for (let M = 1; M <= 8; M++) for (let N = 1; N <= 16; N++) await checkLinear(k, M, N, K, M % 2, N % 3, seed++);
  });

  it("packKN: y = x B for B [K, N] equals gemm with W = B^T", async () => {
    const k = await kernels(build);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 21 }), fc.integer({ min: 1, max: 19 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), (M, N, K, seed) => {
        const rng = new Rng(seed);
        const X = rng.normalArray(M * K), B = rng.normalArray(K * N);
        const w = k.packKN(B, N, K);
        const x = k.alloc(M * K, X), y = k.alloc(M * N).fill(SENTINEL);
        k.gemm(M, x, w, y);
        const got = y.toArray();
        for (let i = 0; i < M; i++)
          for (let n = 0; n < N; n++) {
            let s = 0, a = 0;
            for (let j = 0; j < K; j++) { s += X[i * K + j] * B[j * N + n]; a += Math.abs(X[i * K + j] * B[j * N + n]); }
            expect(Math.abs(got[i * N + n] - s)).toBeLessThanOrEqual(f32SumBound(K, a));
          }
        x.free(); y.free(); w.buf.free();
      }),
      { numRuns: RUNS },
    );
  });

  it("rmsnorm: x * rsqrt(mean(x^2) + eps) * w, strided and in place", async () => {
    const k = await kernels(build);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.boolean(), (rows, n, pad, seed, inPlace) => {
        const rng = new Rng(seed);
        const ld = n + pad;
        const X = rng.normalArray(rows * ld, 3), Wt = rng.normalArray(n);
        const x = k.alloc(rows * ld, X), w = k.alloc(n, Wt), y = inPlace ? x : k.alloc(rows * ld).fill(SENTINEL);
        k.rmsnorm(rows, n, x, w, y, { ldx: ld, ldy: ld });
        const got = y.toArray();
        for (let r = 0; r < rows; r++) {
          let ss = 0;
          for (let i = 0; i < n; i++) ss += X[r * ld + i] ** 2;
          const inv = 1 / Math.sqrt(ss / n + 1e-6);
          for (let i = 0; i < n; i++) {
            const want = X[r * ld + i] * inv * Wt[i];
            // sum of squares: relative error gamma_n; sqrt, divide, 2 multiplies: 5u more; rsqrt halves the first
            const bound = (gamma(n) / 2 + 6 * F32_U) * Math.abs(want) * 1.01 + 1e-30;
            expect(Math.abs(got[r * ld + i] - want), `row ${r} i ${i}`).toBeLessThanOrEqual(bound);
          }
          if (!inPlace) for (let i = n; i < ld; i++) if (r * ld + i < rows * ld) expect(Number.isNaN(got[r * ld + i])).toBe(true);
        }
        x.free(); w.free(); if (!inPlace) y.free();
      }),
      { numRuns: RUNS },
    );
  });

  it("rope_interleaved / rope_half: equal the oracle's applyRope over rows x heads", async () => {
    const k = await kernels(build);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 300 }), fc.constantFrom("interleaved" as const, "half" as const), fc.boolean(), fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        (s, heads, halfDr, extra, startPos, layout, yarn, seed) => {
          const rng = new Rng(seed);
          const dr = 2 * halfDr, headStride = dr + extra, rows = 2 * s;
          const ld = heads * headStride + 1;
          const freqs = ropeFrequencies({ qk_rope_head_dim: dr, rope_theta: 10000, max_seq_len: yarn ? 8192 : 1024, original_seq_len: 1024, rope_factor: 40, beta_fast: 32, beta_slow: 1 });
          const positions = Array.from({ length: s }, (_, t) => startPos + t);
          const X = rng.normalArray(rows * ld);
          const x = k.alloc(rows * ld, X);
          const t = k.allocRopeTable(s, dr);
          k.fillRopeTable(t, freqs, positions);
          k.rope(layout, rows, heads, x, dr, t, s, { ldx: ld, headStride });
          const got = x.toArray();
          const want = Float64Array.from(X);
          const table = ropeTable(freqs, positions);
          for (let r = 0; r < rows; r++) for (let h = 0; h < heads; h++) applyRope(want, r * ld + h * headStride, dr, table, r % s, layout);
          for (let i = 0; i < want.length; i++) {
            // table entries carry one float32 rounding each, then 2 products and a sum: <= 4u(|a|+|b|) <= 4u*2*max|x|
            expect(Math.abs(got[i] - want[i]), `i ${i}`).toBeLessThanOrEqual(8 * F32_U * 6 + 1e-30);
          }
          x.free(); t.cos.free(); t.sin.free();
        }),
      { numRuns: RUNS },
    );
  });
});

function gamma(n: number): number {
  return (n * F32_U) / (1 - n * F32_U);
}
