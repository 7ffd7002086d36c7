// MLA step kernels (compression, decompression, q-absorption) and the three attention kernels
// == the oracle's step functions (src/reference/mla.ts, attention.ts), both builds. Destinations
// are NaN-filled: elements a kernel must not write stay NaN, and cache positions past the keys a
// call may read are NaN too, so reading them would poison the outputs.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { makeConfig } from "../../src/config.js";
import { absorbOutput, absorbQuery, mlaCompress, mlaDecompress, naiveKeys } from "../../src/reference/mla.js";
import { attendRow } from "../../src/reference/attention.js";
import { mlaSoftmaxScale, ropeFrequencies, ropeTable } from "../../src/derived.js";
import { f32SumBound, firstMismatch, toleranceFor } from "../../src/numerics.js";
import { randomMlaWeights } from "../../src/weights.js";
import { KERNEL_BUILDS, kernels, Rng, SENTINEL } from "./helpers.js";

const { atol, rtol } = toleranceFor("float32");
const RUNS = 60;

const dims = fc.record({
  B: fc.integer({ min: 1, max: 3 }),
  s: fc.integer({ min: 1, max: 6 }),
  startPos: fc.integer({ min: 0, max: 9 }),
  D: fc.integer({ min: 1, max: 37 }),
  H: fc.integer({ min: 1, max: 5 }),
  C: fc.integer({ min: 1, max: 40 }),
  dn: fc.integer({ min: 1, max: 12 }),
  half: fc.integer({ min: 1, max: 6 }),
  dv: fc.integer({ min: 1, max: 12 }),
  layout: fc.constantFrom("interleaved" as const, "half" as const),
  yarn: fc.boolean(),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});

function configOf(d: { D: number; H: number; C: number; dn: number; half: number; dv: number; layout: "interleaved" | "half"; yarn: boolean }) {
  return makeConfig({ dim: d.D, n_heads: d.H, q_lora_rank: 0, kv_lora_rank: d.C, qk_nope_head_dim: d.dn, qk_rope_head_dim: 2 * d.half, v_head_dim: d.dv, original_seq_len: 64, max_seq_len: d.yarn ? 256 : 64, rope_layout: d.layout, rope_factor: 8 });
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  const i = firstMismatch(got, want, atol, rtol);
  expect(i, i >= 0 ? `${what}: element ${i}: got ${got[i]}, want ${want[i]}` : "").toBe(-1);
}

describe.each(KERNEL_BUILDS)("%s build", (build) => {
  it("mla_compress: kv_norm(c_kv) and roped k_pe land in each batch row at startPos, nothing else written", async () => {
    await fc.assert(
      fc.asyncProperty(dims, async (d) => {
        const k = await kernels(build);
        const cfg = configOf(d), rng = new Rng(d.seed), w = randomMlaWeights(cfg, rng);
        const { B, s, startPos, D, C } = d, dr = 2 * d.half, N = B * s, cap = startPos + s + 2;
        const X = rng.normalArray(N * D);
        const positions = Array.from({ length: s }, (_, t) => startPos + t);
        const want = mlaCompress(cfg, w, X, N, s, ropeTable(ropeFrequencies(cfg), positions));
        const kvRows = Array.from({ length: B }, () => k.alloc(cap * C).fill(SENTINEL));
        const peRows = Array.from({ length: B }, () => k.alloc(cap * dr).fill(SENTINEL));
        const table = k.allocRopeTable(s, dr);
        k.fillRopeTable(table, ropeFrequencies(cfg), positions);
        k.compress({ N, s, C, dr, x: k.alloc(N * D, X), wkva: k.packNK(w.wkv_a, C + dr, D), kvNorm: k.alloc(C, w.kv_norm), layout: d.layout, table, scratch: k.alloc(N * (C + dr)), kvRows: kvRows.map((r) => r.at(startPos * C)), peRows: peRows.map((r) => r.at(startPos * dr)) });
        for (let b = 0; b < B; b++) {
          const kv = kvRows[b].toArray(), pe = peRows[b].toArray();
          expectClose(kv.subarray(startPos * C, (startPos + s) * C), want.c.subarray(b * s * C, (b + 1) * s * C), `kv row ${b}`);
          expectClose(pe.subarray(startPos * dr, (startPos + s) * dr), want.kpe.subarray(b * s * dr, (b + 1) * s * dr), `pe row ${b}`);
          for (const [arr, wd] of [[kv, C], [pe, dr]] as const) {
            for (let i = 0; i < arr.length; i++) if (i < startPos * wd || i >= (startPos + s) * wd) expect(Number.isNaN(arr[i]), `row ${b} element ${i} written`).toBe(true);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("mla_decompress: per-head [k_nope | k_pe] and v rows at startPos", async () => {
    await fc.assert(
      fc.asyncProperty(dims, async (d) => {
        const k = await kernels(build);
        const cfg = configOf(d), rng = new Rng(d.seed), w = randomMlaWeights(cfg, rng);
        const { B, s, startPos, H, C, dn, dv } = d, dr = 2 * d.half, qk = dn + dr, N = B * s, cap = startPos + s + 1;
        const c = rng.normalArray(N * C), kpe = rng.normalArray(N * dr);
        const { kNope, v } = mlaDecompress(cfg, w, c, N);
        const kWant = naiveKeys(cfg, kNope, kpe, N);
        const kRows = Array.from({ length: B }, () => k.alloc(cap * H * qk).fill(SENTINEL));
        const vRows = Array.from({ length: B }, () => k.alloc(cap * H * dv).fill(SENTINEL));
        k.decompress({ N, s, H, C, dn, dr, dv, c: k.alloc(N * C, c), wkvb: k.packNK(w.wkv_b, H * (dn + dv), C), kpe: k.alloc(N * dr, kpe), scratch: k.alloc(N * H * (dn + dv)), kRows: kRows.map((r) => r.at(startPos * H * qk)), vRows: vRows.map((r) => r.at(startPos * H * dv)) });
        for (let b = 0; b < B; b++) {
          const kr = kRows[b].toArray(), vr = vRows[b].toArray();
          expectClose(kr.subarray(startPos * H * qk, (startPos + s) * H * qk), kWant.subarray(b * s * H * qk, (b + 1) * s * H * qk), `k row ${b}`);
          expectClose(vr.subarray(startPos * H * dv, (startPos + s) * H * dv), v.subarray(b * s * H * dv, (b + 1) * s * H * dv), `v row ${b}`);
          expect(kr.subarray(0, startPos * H * qk).every(Number.isNaN) && kr.subarray((startPos + s) * H * qk).every(Number.isNaN)).toBe(true);
          expect(vr.subarray(0, startPos * H * dv).every(Number.isNaN) && vr.subarray((startPos + s) * H * dv).every(Number.isNaN)).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("mla_absorb_q: q_nope x W_UK per head within gamma_dn * sum|q w|", async () => {
    await fc.assert(
      fc.asyncProperty(dims, async (d) => {
        const k = await kernels(build);
        const cfg = configOf(d), rng = new Rng(d.seed), w = randomMlaWeights(cfg, rng);
        const { H, C, dn, dv } = d, dr = 2 * d.half, qk = dn + dr, N = d.B * d.s;
        const q = rng.normalArray(N * H * qk);
        const want = absorbQuery(cfg, w, q, N);
        const out = k.alloc(N * H * C).fill(SENTINEL);
        k.absorbQ(N, H, C, dn, qk, k.alloc(N * H * qk, q), k.packWUK(w.wkv_b, H, C, dn, dv), out);
        const got = out.toArray();
        for (let r = 0; r < N; r++)
          for (let h = 0; h < H; h++)
            for (let c = 0; c < C; c++) {
              let a = 0;
              for (let i = 0; i < dn; i++) a += Math.abs(q[(r * H + h) * qk + i] * w.wkv_b[(h * (dn + dv) + i) * C + c]);
              const i = (r * H + h) * C + c;
              expect(Math.abs(got[i] - want[i]), `r ${r} h ${h} c ${c}`).toBeLessThanOrEqual(f32SumBound(dn, a));
            }
      }),
      { numRuns: RUNS },
    );
  });

  const attnDims = fc.record({
    s: fc.integer({ min: 1, max: 9 }),
    startPos: fc.oneof(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 60, max: 140 })),
    H: fc.integer({ min: 1, max: 6 }),
    C: fc.integer({ min: 1, max: 40 }),
    dn: fc.integer({ min: 1, max: 12 }),
    half: fc.integer({ min: 1, max: 6 }),
    dv: fc.integer({ min: 1, max: 20 }),
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  });

  it("attn_causal_4x8 (prefill) and attn_decode_naive (s = 1) == attendRow over per-head K/V", async () => {
    await fc.assert(
      fc.asyncProperty(attnDims, async (d) => {
        const k = await kernels(build);
        const rng = new Rng(d.seed);
        const { s, startPos, H, dn, dv } = d, dr = 2 * d.half, qk = dn + dr, T = startPos + s, scale = 1 / Math.sqrt(qk);
        const q = rng.normalArray(s * H * qk), K = rng.normalArray(T * H * qk), V = rng.normalArray(T * H * dv);
        const want = attendRow({ q, k: K, v: V, s, startPos, hq: H, hkv: H, dqk: qk, dv, scale });
        const kRow = k.alloc((T + 3) * H * qk).fill(SENTINEL).set(K), vRow = k.alloc((T + 3) * H * dv).fill(SENTINEL).set(V);
        const qb = k.alloc(s * H * qk, q), o = k.alloc(s * H * dv).fill(SENTINEL), scratch = k.alloc(k.attnScratchFloats(Math.max(s, H)));
        k.attnCausal(s, H, qk, dv, startPos, qb, kRow.ptr, vRow.ptr, Math.fround(scale), o, scratch);
        expectClose(o.toArray(), want, "prefill");
        // decode: the last token alone
        const last = attendRow({ q: q.subarray((s - 1) * H * qk), k: K, v: V, s: 1, startPos: T - 1, hq: H, hkv: H, dqk: qk, dv, scale });
        const o1 = k.alloc(H * dv).fill(SENTINEL);
        k.attnDecodeNaive(H, qk, dv, T - 1, qb, kRow.ptr, vRow.ptr, Math.fround(scale), o1, scratch, (s - 1) * H * qk);
        expectClose(o1.toArray(), last, "decode");
      }),
      { numRuns: RUNS },
    );
  });

});
