// The kernel-level MLA decode API (src/kernel-api, FlashMLA's flash_mla_with_kvcache):
// - the float64 oracle is the V3.2 layer's attention: (o, lse) from the API, taken through W_UV
//   and wo, give the ReferenceDsa decode output (dense: index_topk >= context; sparse: the layer's
//   own top-k indices), to float64 reordering;
// - the WASM kernel (both builds and the asserting build) == the oracle within the float32 bound
//   test/wasm/f32-attention-bound.ts derives for o, and the lse bound below, over random paged
//   caches in every storage format (shuffled block ids, unread bytes 0xFF = NaN in every format),
//   dense causal / non-causal and sparse with -1 slots (all -1: o = 0, lse = +Infinity);
// - the vectors export round-trips: read back, the oracle reproduces its expected (o, lse).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { type DsaConfig, makeConfig } from "../../src/config.js";
import { BLOCK_TOKENS, STORAGE_FORMATS, type StorageFormat, tokenLayout } from "../../src/cache/layout.js";
import { encodeTokens } from "../../src/cache/codecs.js";
import { callRopeTable, mlaSoftmaxScale, ropeFrequencies } from "../../src/derived.js";
import { ShapeError } from "../../src/errors.js";
import { randomDsaWeights } from "../../src/io/dsa-weights.js";
import { linear } from "../../src/reference/linear.js";
import { absorbOutput, latentQuery } from "../../src/reference/mla.js";
import { ReferenceDsa, mlaQueryFromLatent, queryLatent } from "../../src/reference/dsa/layer.js";
import { type MlaDecodeArgs, gatherSequence, mlaDecodeReference, mlaDecodeVectors, mlaDecodeWasm, physicalIndices, readMlaDecodeVectors } from "../../src/kernel-api/index.js";
import { attentionBound, gamma } from "../wasm/f32-attention-bound.js";
import { KERNEL_BUILDS, Rng, describe_, firstOutside, kernels } from "../wasm/helpers.js";

const U = 2 ** -24;
const RUNS = 30;

const arbCall = fc.record({
  format: fc.constantFrom(...STORAGE_FORMATS),
  B: fc.integer({ min: 1, max: 2 }),
  sq: fc.integer({ min: 1, max: 3 }),
  H: fc.integer({ min: 1, max: 4 }),
  C: fc.oneof(fc.integer({ min: 1, max: 24 }), fc.integer({ min: 120, max: 200 })),
  dr: fc.integer({ min: 0, max: 5 }).map((v) => 2 * v),
  lens: fc.array(fc.oneof(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 60, max: 140 })), { minLength: 2, maxLength: 2 }),
  mode: fc.constantFrom("dense", "causal", "sparse"),
  topk: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 60, max: 70 })),
  emptyRate: fc.constantFrom(0, 0.3, 1),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});
type Call = typeof arbCall extends fc.Arbitrary<infer T> ? T : never;

/** A paged cache of random rows (shuffled block ids, two spare blocks, unused bytes 0xFF) and a call over it. */
function makeArgs(c: Call): MlaDecodeArgs {
  const rng = new Rng(c.seed);
  const { B, sq, H, C, dr } = c, W = C + dr;
  const lens = c.lens.slice(0, B).map((l) => (c.mode === "causal" ? Math.max(l, sq) : l));
  const perSeq = lens.map((l) => Math.ceil(l / BLOCK_TOKENS));
  const maxBlocksPerSeq = Math.max(1, ...perSeq), numBlocks = perSeq.reduce((a, b) => a + b, 0) + 2;
  const ids = Array.from({ length: numBlocks }, (_, i) => i);
  for (let i = ids.length - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform(0, i + 1));
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  const layout = tokenLayout(c.format, C, dr), bpt = layout.bytesPerToken;
  const pool = new Uint8Array(numBlocks * BLOCK_TOKENS * bpt).fill(0xff);
  const blockTable = new Int32Array(B * maxBlocksPerSeq).fill(-7); // unused entries are never read
  let next = 0;
  lens.forEach((len, b) => {
    for (let k = 0; k < perSeq[b]; k++) {
      const id = ids[next++], n = Math.min(BLOCK_TOKENS, len - k * BLOCK_TOKENS);
      blockTable[b * maxBlocksPerSeq + k] = id;
      encodeTokens(layout, rng.normalArray(n * W), 0, n, pool, id * BLOCK_TOKENS * bpt);
    }
  });
  const q = rng.normalArray(B * sq * H * W, 1 / Math.sqrt(Math.max(1, W / 8)));
  const args: MlaDecodeArgs = { q, batch: B, seqlenQ: sq, heads: H, C, dr, cache: { format: c.format, pool, blockTable, maxBlocksPerSeq, seqlens: Int32Array.from(lens) }, softmaxScale: Math.fround(1 / Math.sqrt(W)), causal: c.mode === "causal" };
  if (c.mode === "sparse") {
    const idx = new Int32Array(B * sq * c.topk);
    for (let i = 0; i < idx.length; i++) {
      const len = lens[Math.floor(i / (sq * c.topk))];
      idx[i] = len === 0 || rng.uniform(0, 1) < c.emptyRate ? -1 : Math.floor(rng.uniform(0, len)); // repeats allowed: each slot is a key
    }
    args.indices = idx;
    args.topk = c.topk;
    args.causal = false;
  }
  return args;
}

/** Per element bounds on the float32 (o, lse) of a call: each query row over exactly the keys it sees. */
function bounds(a: MlaDecodeArgs): { o: Float64Array; lse: Float64Array } {
  const { batch: B, seqlenQ: sq, heads: H, C, dr } = a, W = C + dr, topk = a.topk ?? 0;
  const o = new Float64Array(B * sq * H * C), lse = new Float64Array(B * H * sq);
  for (let b = 0; b < B; b++) {
    const rows = gatherSequence(a, b), len = a.cache.seqlens[b];
    for (let t = 0; t < sq; t++) {
      const keys = a.indices ? Array.from(a.indices.subarray((b * sq + t) * topk, (b * sq + t + 1) * topk)).filter((j) => j >= 0) : Array.from({ length: a.causal ? len - sq + 1 + t : len }, (_, j) => j);
      const n = keys.length;
      if (n === 0) continue; // exact: o = 0, lse = +Infinity
      const kr = new Float32Array(n * W), vr = new Float32Array(n * C);
      keys.forEach((j, i) => {
        kr.set(rows.subarray(j * W, (j + 1) * W), i * W);
        vr.set(rows.subarray(j * W, j * W + C), i * C);
      });
      const qRow = a.q instanceof Float32Array ? a.q.subarray((b * sq + t) * H * W, (b * sq + t + 1) * H * W) : Array.from(a.q).slice((b * sq + t) * H * W, (b * sq + t + 1) * H * W);
      // sparse: every list position may start a rescale, so count blocks as single keys (keyBlock 1: more rescales, a looser bound)
      o.set(attentionBound(qRow, kr, vr, 1, n - 1, H, W, C, a.softmaxScale, a.indices ? 1 : BLOCK_TOKENS), (b * sq + t) * H * C);
      const nb = a.indices ? n : Math.ceil(n / BLOCK_TOKENS);
      for (let h = 0; h < H; h++) {
        // lse = m + ln l: the scores move by <= D (lse is 1-Lipschitz in them), each exp term and
        // rescale by e relative, the sum by gamma_(n+1), Mathf.log and the final add by 2u |ln l| + u |lse|.
        let maxAbsDot = 0, maxAbsS = 0, m = -Infinity, s: number[] = [];
        for (let i = 0; i < n; i++) {
          let d = 0, ad = 0;
          for (let x = 0; x < W; x++) {
            d += qRow[h * W + x] * kr[i * W + x];
            ad += Math.abs(qRow[h * W + x] * kr[i * W + x]);
          }
          s.push(d * a.softmaxScale);
          m = Math.max(m, d * a.softmaxScale);
          maxAbsDot = Math.max(maxAbsDot, ad);
          maxAbsS = Math.max(maxAbsS, Math.abs(d * a.softmaxScale));
        }
        const lnl = Math.log(s.reduce((acc, x) => acc + Math.exp(x - m), 0));
        const D = Math.abs(a.softmaxScale) * gamma(W) * maxAbsDot + 4 * U * maxAbsS, e = 10 * U + 2 * (nb + 1) * U;
        lse[(b * H + h) * sq + t] = (D + 2 * e + 2 * gamma(n + 1) + 4 * U * (Math.abs(m) + Math.abs(lnl) + Math.abs(m + lnl))) * (1 + 1e-9);
      }
    }
  }
  return { o, lse };
}

function expectWithin(got: ArrayLike<number>, want: ArrayLike<number>, bound: ArrayLike<number>, what: string): void {
  const i = firstOutside(got, want, bound);
  expect(i, i >= 0 ? `${what}: ${describe_(got, want, bound, i)}` : "").toBe(-1);
}

describe.each(KERNEL_BUILDS)("kernel API: WASM attn_mla_decode vs the float64 oracle (%s)", (build) => {
  it("(o, lse) within the derived float32 bounds; rows with no key: o = 0, lse = +Infinity exactly", async () => {
    const k = await kernels(build);
    fc.assert(
      fc.property(arbCall, (c) => {
        const a = makeArgs(c);
        const ref = mlaDecodeReference(a), got = mlaDecodeWasm(k, a), bd = bounds(a);
        expectWithin(got.o, ref.o, bd.o, "o");
        for (let i = 0; i < ref.lse.length; i++) {
          if (ref.lse[i] === Infinity) expect(got.lse[i], `lse[${i}]`).toBe(Infinity);
          else expect(Math.abs(got.lse[i] - ref.lse[i]), `lse[${i}] = ${got.lse[i]}, want ${ref.lse[i]} +- ${bd.lse[i]}`).toBeLessThanOrEqual(bd.lse[i]);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("refuses bad arguments with ShapeError naming the field, and leaves the arena as it was", async () => {
    const k = await kernels(build);
    const a = makeArgs({ format: "f32", B: 1, sq: 1, H: 2, C: 8, dr: 2, lens: [70, 0], mode: "sparse", topk: 3, emptyRate: 0, seed: 3 });
    const used = k.arena.bytesInUse();
    expect(() => mlaDecodeWasm(k, { ...a, indices: Int32Array.from([0, 70, -1]) })).toThrow(/indices\[0\]\[0\]\[1\]/);
    expect(() => mlaDecodeWasm(k, { ...a, indices: Int32Array.from([0, -2, 1]) })).toThrow(ShapeError);
    expect(() => mlaDecodeWasm(k, { ...a, causal: true })).toThrow(/causal/);
    expect(() => mlaDecodeWasm(k, { ...a, q: (a.q as Float32Array).slice(1) })).toThrow(/q.length/);
    const bt = Int32Array.from(a.cache.blockTable);
    bt[1] = 99;
    expect(() => mlaDecodeWasm(k, { ...a, cache: { ...a.cache, blockTable: bt } })).toThrow(/blockTable\[0\]\[1\]/);
    expect(() => mlaDecodeWasm(k, { ...a, cache: { ...a.cache, seqlens: Int32Array.from([200]) } })).toThrow(/seqlens\[0\]/);
    expect(k.arena.bytesInUse()).toBe(used);
  });
});

describe("kernel API: the oracle is the V3.2 layer's attention", () => {
  const arbLayer = fc.record({
    D: fc.integer({ min: 3, max: 16 }),
    H: fc.integer({ min: 1, max: 3 }),
    Q: fc.integer({ min: 1, max: 8 }),
    dn: fc.integer({ min: 1, max: 3 }).map((v) => 2 * v),
    dr: fc.integer({ min: 1, max: 3 }).map((v) => 2 * v),
    dv: fc.integer({ min: 1, max: 5 }),
    HI: fc.integer({ min: 1, max: 3 }),
    prefill: fc.integer({ min: 1, max: 12 }),
    dense: fc.boolean(),
    topk: fc.integer({ min: 1, max: 6 }),
    seed: fc.integer({ min: 1, max: 2 ** 30 }),
  });

  it("decode: o from the API through W_UV and wo == the layer's output (dense and sparse), lse finite", () => {
    fc.assert(
      fc.property(arbLayer, (p) => {
        const B = 2;
        const cfg = makeConfig({
          dim: p.D, n_heads: p.H, q_lora_rank: p.Q, kv_lora_rank: 128, qk_nope_head_dim: p.dn, qk_rope_head_dim: p.dr, v_head_dim: p.dv,
          max_seq_len: 32, original_seq_len: 32, max_batch_size: B, index_n_heads: p.HI, index_head_dim: 128, index_topk: p.dense ? 64 : p.topk, scale_fmt: "ue8m0",
        }) as DsaConfig;
        const rng = new Rng(p.seed);
        const w = randomDsaWeights(cfg, rng);
        const layer = new ReferenceDsa(cfg, w);
        layer.forward(rng.normalArray(B * p.prefill * cfg.dim), { batch: B, seqlen: p.prefill, startPos: 0 });
        const x = rng.normalArray(B * cfg.dim), pos = p.prefill, T = pos + 1;
        const { output, trace } = layer.forwardTrace(x, { batch: B, seqlen: 1, startPos: pos });
        // the absorbed query the layer attends with, from the oracle's own steps
        const table = callRopeTable(cfg, ropeFrequencies(cfg), pos, 1);
        const qLat = latentQuery(cfg, w, mlaQueryFromLatent(cfg, w, queryLatent(cfg, w, x, B), B, 1, table), B);
        // the layer's cache as an f32 paged pool (one block per sequence, table [0], [1])
        const snap = layer.cache.snapshot(B, T), C = 128, dr = p.dr, W = C + dr;
        const layout = tokenLayout("f32", C, dr), rows = new Float32Array(W);
        const pool = new Uint8Array(2 * BLOCK_TOKENS * layout.bytesPerToken);
        for (let b = 0; b < B; b++)
          for (let t = 0; t < T; t++) {
            for (let i = 0; i < C; i++) rows[i] = snap.kv_cache.data[(b * T + t) * C + i];
            for (let i = 0; i < dr; i++) rows[C + i] = snap.pe_cache.data[(b * T + t) * dr + i];
            encodeTokens(layout, rows, 0, 1, pool, ((1 - b) * BLOCK_TOKENS + t) * layout.bytesPerToken); // sequence 0 in block 1
          }
        const K = trace.topk_k;
        const a: MlaDecodeArgs = {
          q: qLat, batch: B, seqlenQ: 1, heads: p.H, C, dr, softmaxScale: mlaSoftmaxScale(cfg),
          cache: { format: "f32", pool, blockTable: Int32Array.from([1, 0]), maxBlocksPerSeq: 1, seqlens: Int32Array.from([T, T]) },
          ...(p.dense ? {} : { indices: trace.indexer.topk_indices, topk: K }),
        };
        if (p.dense) expect(K).toBe(T); // index_topk >= the context: the layer is dense
        const { o, lse } = mlaDecodeReference(a);
        const y = linear(absorbOutput(cfg, w, o, B), B, w.wo, cfg.dim, p.H * p.dv);
        // The pool's f32 records round the layer's float64 k_pe (kv_cache is already float32):
        // each score moves by <= delta = |scale| u sum_d |q_pe,d k_pe,d|, each softmax weight by a
        // factor within e^(+-2 delta), so o_lat_i by <= expm1(2 delta_max) max_j |c_ji|; W_UV and wo
        // carry that through their absolute values. Plus float64 reordering (1e-12 relative).
        const eLat = new Float64Array(B * p.H * C), kpe = snap.pe_cache.data;
        for (let b = 0; b < B; b++)
          for (let h = 0; h < p.H; h++) {
            let dmax = 0;
            for (let t = 0; t < T; t++) {
              let d = 0;
              for (let i = 0; i < dr; i++) d += Math.abs(qLat[(b * p.H + h) * W + C + i] * kpe[(b * T + t) * dr + i]);
              dmax = Math.max(dmax, Math.abs(a.softmaxScale) * U * d * (1 + 1e-9));
            }
            for (let i = 0; i < C; i++) {
              let cmax = 0;
              for (let t = 0; t < T; t++) cmax = Math.max(cmax, Math.abs(snap.kv_cache.data[(b * T + t) * C + i]));
              eLat[(b * p.H + h) * C + i] = Math.expm1(2 * dmax) * cmax;
            }
          }
        const abs = (x: ArrayLike<number>) => Float64Array.from(x, Math.abs);
        const eY = linear(absorbOutput(cfg, { ...w, wkv_b: abs(w.wkv_b) }, eLat, B), B, abs(w.wo), cfg.dim, p.H * p.dv);
        const yAbs = linear(absorbOutput(cfg, { ...w, wkv_b: abs(w.wkv_b) }, abs(o), B), B, abs(w.wo), cfg.dim, p.H * p.dv);
        const bound = Float64Array.from(eY, (e, i) => e + 1e-12 * (yAbs[i] + 1));
        expectWithin(y, output, bound, "API o through W_UV and wo vs the layer's output");
        expect(Array.from(lse).every(Number.isFinite)).toBe(true);
        if (!p.dense) {
          // FlashMLA's physical indices point at the same records
          const phys = physicalIndices(a);
          for (let i = 0; i < phys.length; i++) {
            const t = a.indices![i];
            if (t >= 0) expect(phys[i]).toBe((i < K ? 1 : 0) * BLOCK_TOKENS + t);
          }
        }
      }),
      { numRuns: 20 },
    );
  });
});

describe("kernel API vectors", () => {
  it("round-trip through JSON: the oracle reproduces the expected (o, lse); +Infinity lse survives", () => {
    fc.assert(
      fc.property(arbCall, (c) => {
        const a = makeArgs(c);
        const v = JSON.parse(JSON.stringify(mlaDecodeVectors("case", a)));
        const back = readMlaDecodeVectors(v);
        const ref = mlaDecodeReference(back.args);
        expect(Array.from(ref.o)).toEqual(Array.from(back.o));
        expect(Array.from(ref.lse)).toEqual(Array.from(back.lse));
        expect(v.inputs.is_fp8_kvcache).toBe(c.format === "fp8_e4m3");
        if (a.indices) expect(v.inputs.indices.data).toEqual(Array.from(physicalIndices(a)));
      }),
      { numRuns: 10 },
    );
  });
});
