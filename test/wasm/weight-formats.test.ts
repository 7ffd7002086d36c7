// Compressed-weight projections (assembly/weights.ts) == float64 math on the dequantised weights,
// every format, both builds (and the assert build), edge sizes: N % 8, fewer than 4 panels (the
// GEMV's streams), odd K, K across the GEMM's 256-block, scale blocks that are not 128 and views
// whose offsets are not block-aligned (per-head W_UK / W_UV), more than one chunk of 32 output
// panels (the GEMM's L2 blocking). Outputs start as NaN.
//
// Tolerance. The core sums each k-group (at most KG terms) in float32, multiplies the partial by
// its float32 scale (one rounding) and adds it into the row (at most one rounding per group or
// K-block): every product x_k w_k passes through at most K + 1 + K roundings, so Higham's bound
// gives |y - y64| <= gamma_(2K+1) * sum_k |x_k w_k| (w the exact dequantised value).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { f32SumBound } from "../../src/numerics.js";
import { E4M3_VALUES } from "../../src/cache/scalar.js";
import { type QuantisedWeight, codeValue, dequantiseWeight, quantiseWeight, scaleAt } from "../../src/weight-formats.js";
import type { WasmKernels } from "../../src/wasm/kernels.js";
import type { PanelView } from "../../src/wasm/weight-panels.js";
import { KERNEL_BUILDS, kernels, firstOutside, describe_, Rng, SENTINEL } from "./helpers.js";

const FORMATS = ["bf16", "int8", "fp8"] as const;

/** y = x W^T through the packed view, for M rows; checked against float64 on the dequantised view. */
function checkView(k: WasmKernels, v: PanelView, M: number, seed: number): void {
  const rng = new Rng(seed);
  const { N, K } = v, x = rng.normalArray(M * K);
  const deq = dequantiseWeight(v.w), cols = v.w.shape[1];
  const at = (n: number, kk: number) => deq[v.kn ? (v.r0 + kk) * cols + v.c0 + n : (v.r0 + n) * cols + v.c0 + kk];
  const ref = new Float64Array(M * N), bound = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let n = 0; n < N; n++) {
      let s = 0, a = 0;
      for (let j = 0; j < K; j++) {
        s += x[i * K + j] * at(n, j);
        a += Math.abs(x[i * K + j] * at(n, j));
      }
      ref[i * N + n] = s;
      bound[i * N + n] = f32SumBound(2 * K + 1, a) + 1e-30;
    }
  const w = k.packQuantised(v);
  const xb = k.alloc(M * K, x), y = k.alloc(M * N).fill(SENTINEL);
  k.linear(M, xb, w, y);
  const got = y.toArray();
  const bad = firstOutside(got, ref, bound);
  expect(bad, bad >= 0 ? `${v.w.format} M=${M} N=${N} K=${K} kg=${w.kg}: ${describe_(got, ref, bound, bad)}` : "").toBe(-1);
  for (const b of [xb, y, w.buf, w.scales]) b?.free();
}

/** A random quantised [rows, cols] weight with a random scale block. */
function randomQuantised(format: (typeof FORMATS)[number], rows: number, cols: number, block: [number, number], seed: number): QuantisedWeight {
  const rng = new Rng(seed);
  return quantiseWeight(format, rng.normalArray(rows * cols, 0.5), [rows, cols], block);
}

describe.each(KERNEL_BUILDS)("%s build", (build) => {
  it("decodes every fp8 and int8 code, and bf16 codes, to the TypeScript codecs' value bit for bit (GEMV streams and leftovers, GEMM 4-row and 1-row)", async () => {
    const k = await kernels(build);
    for (const format of FORMATS) {
      // N = 40 columns (4 GEMV streams + 1 leftover panel) x K = 256 codes each (fp8: all 254
      // non-NaN codes + 2 zeros in every column, rotated); x = e_j picks code (n, j); M = 1 is the
      // GEMV, M = 5 the GEMM's 4-row and 1-row kernels
      const N = 40, K = 256, codes = format === "bf16" ? new Uint16Array(N * K) : format === "int8" ? new Int8Array(N * K) : new Uint8Array(N * K);
      const rng = new Rng(7);
      for (let i = 0; i < N * K; i++) {
        const c = (i + 37 * Math.floor(i / K)) & 0xff;
        if (format === "fp8") codes[i] = (c & 0x7f) === 0x7f ? 0 : c;
        else if (format === "int8") codes[i] = (c % 255) - 127;
        else codes[i] = (rng.next() * 0x10000) & 0xff7f; // no exponent 0xff: finite
      }
      const w: QuantisedWeight = format === "bf16" ? { format, shape: [N, K], codes } : { format, shape: [N, K], codes, scales: new Float32Array([0.25, 0.5, 2, 0.125, 1]), block: [8, 256] };
      const pw = k.packQuantised({ w, N, K, r0: 0, c0: 0, kn: false });
      for (const M of [1, 5]) {
        const x = k.alloc(M * K).fill(0), y = k.alloc(M * N);
        for (let j = 0; j < K; j++) {
          x.fill(0);
          for (let r = 0; r < M; r++) x.view()[r * K + j] = 1;
          y.fill(SENTINEL);
          k.linear(M, x, pw, y);
          for (let r = 0; r < M; r++) {
            for (let n = 0; n < N; n++) {
              const want = Math.fround(codeValue(w, n * K + j) * scaleAt(w, n, j)), got = y.view()[r * N + n];
              expect(Object.is(got, want) || (want === 0 && got === 0), `${format} M=${M} row ${r} code ${codes[n * K + j]}: got ${got}, want ${want}`).toBe(true);
            }
          }
        }
        x.free();
        y.free();
      }
      if (format === "fp8") expect(new Set(Array.from(codes.subarray(0, K))).size).toBe(254); // every code but the two NaNs (their slots hold 0x00)
    }
    expect(E4M3_VALUES[0x01]).toBe(2 ** -9); // the smallest subnormal decodes through the float32 subnormal path
  });

  it("linear over compressed panels == float64 on the dequantised weights, random shapes, blocks and views", async () => {
    const k = await kernels(build);
    await fc.assert(
      fc.property(
        fc.constantFrom(...FORMATS), fc.integer({ min: 1, max: 9 }), fc.oneof(fc.integer({ min: 1, max: 27 }), fc.integer({ min: 30, max: 70 }), fc.integer({ min: 255, max: 280 })), fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 250, max: 420 })),
        fc.constantFrom<[number, number]>([128, 128], [8, 16], [3, 5], [16, 1000], [1, 7]), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 }), fc.boolean(), fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        (format, M, N, K, block, dr, dc, kn, seed) => {
          // the view sits at (r0, c0) inside a larger source
          const r0 = dr, c0 = dc, rows = r0 + (kn ? K : N) + 3, cols = c0 + (kn ? N : K) + 2;
          const w = randomQuantised(format, rows, cols, block, seed);
          checkView(k, { w, N, K, r0, c0, kn }, M, seed + 1);
          checkView(k, { w, N, K, r0, c0, kn }, 1, seed + 2); // the GEMV
        },
      ),
      { numRuns: 60 },
    );
  });

  it("per-head packing (W_UK as B, W_UV as W) at offsets h*(dn+dv): every head == float64", async () => {
    const k = await kernels(build);
    for (const format of FORMATS) {
      for (const [H, C, dn, dv] of [[3, 20, 5, 7], [2, 136, 128, 128], [1, 9, 1, 1]] as const) {
        const w = randomQuantised(format, H * (dn + dv), C, [128, 128], H * C + dn);
        const uk = Array.from({ length: H }, (_, h) => ({ w, N: C, K: dn, r0: h * (dn + dv), c0: 0, kn: true }));
        const hw = k.packQuantisedHeads(uk);
        const rng = new Rng(3), N = 2, qk = dn + 2;
        const q = rng.normalArray(N * H * qk), qb = k.alloc(N * H * qk, q), qabs = k.alloc(N * H * C).fill(SENTINEL);
        k.absorbQ(N, H, C, dn, qk, qb, hw, qabs);
        const deq = dequantiseWeight(w), got = qabs.toArray();
        for (let r = 0; r < N; r++)
          for (let h = 0; h < H; h++)
            for (let c = 0; c < C; c++) {
              let s = 0, a = 0;
              for (let i = 0; i < dn; i++) {
                const t = q[(r * H + h) * qk + i] * deq[(h * (dn + dv) + i) * C + c];
                s += t;
                a += Math.abs(t);
              }
              const e = Math.abs(got[(r * H + h) * C + c] - s);
              expect(e <= f32SumBound(2 * dn + 1, a) + 1e-30, `${format} H=${H} head ${h} c ${c}: got ${got[(r * H + h) * C + c]}, want ${s}`).toBe(true);
            }
      }
    }
  });
});

describe("conversion from float weights", () => {
  it("bf16, int8 and fp8 codes dequantise within each format's rounding of the float32 value", () => {
    fc.assert(
      fc.property(fc.constantFrom(...FORMATS), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), (format, N, K, seed) => {
        const rng = new Rng(seed), w = Float32Array.from(rng.normalArray(N * K, 0.3));
        const q = quantiseWeight(format, w, [N, K]), d = dequantiseWeight(q);
        for (let i = 0; i < N * K; i++) {
          const s = scaleAt(q, Math.floor(i / K), i % K), e = Math.abs(d[i] - w[i]);
          // bf16: half an ulp of 8 bits; int8: half a step of s; fp8: half an ulp of 3 mantissa bits, or half the subnormal step 2^-9 s
          const allowed = format === "bf16" ? Math.abs(w[i]) * 2 ** -8 : format === "int8" ? s / 2 : Math.max(Math.abs(w[i]) * 2 ** -4, s * 2 ** -10);
          expect(e <= allowed * (1 + 1e-6), `${format} element ${i}: ${w[i]} -> ${d[i]} (scale ${s})`).toBe(true);
        }
      }),
      { numRuns: 40 },
    );
  });
});
