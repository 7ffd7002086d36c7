// The WASM V3.2 layer (src/wasm/dsa-layer.ts) against the float64 oracle, both builds and both
// latent records, over random small configs, weights, inputs and call schedules (prefill, decodes
// at startPos > 0, batch 2).
//
// A float32 layer rounds its values to bf16 and FP8 at the same places as the oracle, and where a
// float32 value lies within its rounding error of a bf16 boundary the two sides may round to
// neighbouring values; such a flip moves everything after it by more than float32 rounding. So the
// oracle runs CONDITIONED on the layer's discrete decisions: its steps that produce a quantised
// value (the latent's FP8 simulation, rotate_activation, the head weights, the selection, pe_cache)
// take the layer's values, after checking that each is the oracle's own value or its bf16
// neighbour, and that the layer's selection agrees with the oracle's selection from the exact
// scores of the same inputs by the float32 rule (topkSetsAgree). Then outputs, scores and caches
// differ by float32 arithmetic only and are held to it: outputs within F32_ORACLE_TOL (inner
// lengths here reach C+dr = 264: the chained worst case 6 * 264 * 2^-24 = 9.4e-5 of O(1) scales
// stays under 1e-4 * (1 + |ref|)), scores within indexScoreBound, the quantised caches exactly.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type DsaConfig, makeConfig } from "../../src/config.js";
import { NonFiniteError } from "../../src/errors.js";
import { type DsaWeights, randomDsaWeights } from "../../src/io/dsa-weights.js";
import { firstMismatch, toleranceFor } from "../../src/numerics.js";
import { type DsaSteps, type DsaTrace, ReferenceDsa } from "../../src/reference/dsa/layer.js";
import { topkRow } from "../../src/reference/dsa/topk.js";
import { indexScoreBound, topkSetsAgree } from "../../src/dsa-numerics.js";
import { WasmDsa, type WasmDsaCacheFormat } from "../../src/wasm/dsa-layer.js";
import { Rng } from "../../src/weights.js";
import { BUILDS, kernels } from "./helpers.js";
import { readFileSync, readdirSync } from "node:fs";
import { parseDsaVectorCaseText } from "../../src/io/mla-vectors-v2.js";
import { DSA_VECTOR_TOL_F32, verifyDsaCase } from "../../src/verify.js";

const VECTORS = new URL("../../vectors/deepseek-v3.2-dsa/", import.meta.url);

const RUNS = 12;
const { atol, rtol } = toleranceFor("float32");

const arbCase = fc.record({
  D: fc.integer({ min: 3, max: 20 }),
  H: fc.integer({ min: 1, max: 3 }),
  Q: fc.integer({ min: 1, max: 12 }),
  C: fc.constantFrom(128, 256),
  dn: fc.integer({ min: 1, max: 4 }).map((v) => 2 * v),
  dr: fc.integer({ min: 1, max: 4 }).map((v) => 2 * v),
  dv: fc.integer({ min: 1, max: 6 }),
  HI: fc.integer({ min: 1, max: 4 }),
  topk: fc.integer({ min: 1, max: 9 }),
  fmt: fc.constantFrom(null, "ue8m0" as const),
  yarn: fc.boolean(),
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
});
type Arb = typeof arbCase extends fc.Arbitrary<infer T> ? T : never;
/** Tokens per call: a prefill, then pieces (decodes and chunks at startPos > 0). */
const arbSplit = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 5 });

function build(a: Arb): { cfg: DsaConfig; w: DsaWeights; rng: Rng } {
  const cfg = makeConfig({
    dim: a.D, n_heads: a.H, q_lora_rank: a.Q, kv_lora_rank: a.C, qk_nope_head_dim: a.dn, qk_rope_head_dim: a.dr, v_head_dim: a.dv,
    max_seq_len: a.yarn ? 64 : 32, original_seq_len: 32, rope_factor: 4, max_batch_size: 2,
    index_n_heads: a.HI, index_head_dim: 128, index_topk: a.topk, scale_fmt: a.fmt,
  }) as DsaConfig;
  const rng = new Rng(a.seed);
  return { cfg, w: randomDsaWeights(cfg, rng), rng };
}

/**
 * The first element where the layer's bf16 value `got` cannot come from the oracle's unrounded
 * value's neighbourhood, or -1: |got - ref| <= ulp_bf16 + 2^-12 * (the row's max |ref|). The
 * layer's value before rounding is the oracle's plus float32 error: inner lengths here are <= 20
 * (D) and 12 (Q), and after RMSNorm/LayerNorm (which divide by the row's rms) and RoPE that error is
 * a few hundred u = 2^-24 of the row's scale even for rows of small spread, far under 2^-12; where
 * a value near zero (a cancellation) sits within that error of a bf16 boundary it may round either
 * way, by many of its own ulps. A real bug (a wrong RoPE pairing, a missing norm) moves values by
 * O(the row's max).
 */
function firstOutsideRounding(got: ArrayLike<number>, ref: ArrayLike<number>, row: number): number {
  if (got.length !== ref.length) return 0;
  for (let r0 = 0; r0 < ref.length; r0 += row) {
    let rowMax = 0;
    for (let i = r0; i < r0 + row; i++) rowMax = Math.max(rowMax, Math.abs(ref[i]));
    for (let i = r0; i < r0 + row; i++) {
      const a = got[i], b = ref[i];
      if (a === b) continue;
      const m = Math.max(Math.abs(a), Math.abs(b));
      const ulp = 2 ** (Math.max(Math.floor(Math.log2(m)), -126) - 7);
      if (!(Math.abs(a - b) <= ulp + 2 ** -12 * rowMax)) return i;
    }
  }
  return -1;
}

/** Steps of an oracle that takes the layer's quantised decisions of one call (its trace), checking each first; problems are pushed to `errors`. */
function conditionedSteps(cfg: DsaConfig, t: DsaTrace, format: WasmDsaCacheFormat, keys: { k8: number[][]; ks: number[][] }, errors: string[], where: string): Partial<DsaSteps> {
  let rotations = 0, row = 0;
  const near = (name: string, got: ArrayLike<number>, ref: ArrayLike<number>, row: number) => {
    const i = firstOutsideRounding(got, ref, row);
    if (i >= 0) errors.push(`${where} ${name}[${i}]: wasm ${got[i]}, oracle before rounding ${ref[i]} (beyond bf16 rounding of float32 error)`);
  };
  return {
    simulateKvFp8: (c) => {
      near("kv_quant.input_bf16", t.kv_quant.input_bf16, c, cfg.kv_lora_rank);
      return { input_bf16: t.kv_quant.input_bf16, quant: { values: t.kv_quant.fp8, codes: t.kv_quant.codes, scales: t.kv_quant.scale }, dequantized: t.kv };
    },
    rotateActivation: (x) => {
      const q = rotations++ === 0;
      near(q ? "indexer.q_bf16" : "indexer.k_bf16", q ? t.indexer.q_bf16 : t.indexer.k_bf16, x, cfg.index_head_dim);
      return q ? { input: t.indexer.q_bf16, rotated: t.indexer.q_rot } : { input: t.indexer.k_bf16, rotated: t.indexer.k_rot };
    },
    indexerWeights: () => t.indexer.weights,
    peCache: (kpe) => {
      if (format === "f32") return kpe;
      near("pe_cache", t.k_pe, kpe, cfg.qk_rope_head_dim);
      return t.k_pe;
    },
    selectTopk: (scores, off, visible, end, k) => {
      const r = row++, b = Math.floor(r / t.seqlen), m = r % t.seqlen;
      const HIc = cfg.index_n_heads, DI = cfg.index_head_dim;
      const q8 = t.indexer.q_fp8.subarray(r * HIc * DI, (r + 1) * HIc * DI), w = t.indexer.weights.subarray(r * HIc, (r + 1) * HIc);
      const bound = indexScoreBound(q8, 0, w, 0, keys.k8[b], keys.ks[b], end, HIc, DI, scores, off);
      const ours = t.indexer.topk_indices.subarray(r * k, (r + 1) * k);
      const agree = topkSetsAgree(scores, off, visible, k, ours, topkRow(scores, off, visible, k), bound);
      if (!agree.agree) errors.push(`${where} top-k row ${r}: ${agree.reason}`);
      for (let j = 0; j < end; j++) {
        const d = Math.abs(t.indexer.index_score[r * end + j] - scores[off + j]);
        if (!(d <= bound[j])) errors.push(`${where} index score [${b}, ${m}, ${j}]: wasm ${t.indexer.index_score[r * end + j]}, float64 ${scores[off + j]}, beyond the float32 bound ${bound[j]}`);
      }
      return Int32Array.from(ours);
    },
  };
}

describe.each(BUILDS)("WasmDsa (%s build)", (build_) => {
  for (const format of ["f32", "fp8_e4m3_v32"] as const) {
    it(`${format} record: equals the oracle conditioned on its bf16/FP8 decisions (outputs, scores, selections, caches)`, async () => {
      await fc.assert(
        fc.asyncProperty(arbCase, arbSplit, async (a, split) => {
          const { cfg, w, rng } = build(a);
          const total = split.reduce((x, y) => x + y, 0);
          fc.pre(total <= cfg.max_seq_len);
          const layer = new WasmDsa(cfg, w, await kernels(build_), { cacheFormat: format });
          const calls: Call[] = [];
          let p = 0;
          for (const s of split) {
            const x = rng.normalArray(2 * s * cfg.dim), where = `call at ${p} (${s} tokens)`;
            const { output, trace } = layer.forwardTrace(x, { batch: 2, seqlen: s, startPos: p });
            // A fresh oracle replays every call so far, each conditioned on the layer's trace of it.
            calls.push({ x, s, p, t: trace });
            const errors: string[] = [];
            const ref = runConditioned(cfg, w, calls, format, errors);
            expect(errors.slice(0, 3), errors.join("\n")).toEqual([]);
            const i = firstMismatch(output, ref.output, atol, rtol);
            expect(i, i >= 0 ? `${where} output[${i}]: wasm ${output[i]}, oracle ${ref.output[i]}` : "").toBe(-1);
            p += s;
            const mine = layer.cache.snapshot(2, p), theirs = ref.layer.cache.snapshot(2, p);
            for (const name of ["kv_cache", "indexer.k_cache", "indexer.k_scale_cache"]) expect(Array.from(mine[name].data), `${where} ${name}`).toEqual(Array.from(theirs[name].data));
            const pe = firstMismatch(mine.pe_cache.data, theirs.pe_cache.data, format === "f32" ? atol : 0, format === "f32" ? rtol : 0);
            expect(pe, `${where} pe_cache[${pe}]`).toBe(-1);
          }
          layer.dispose();
        }),
        { numRuns: RUNS },
      );
    });
  }

  it("the official V3.2 vectors (f32 record): outputs within 1e-4, top-k sets as torch's and by the float32 rule", async () => {
    for (const f of readdirSync(VECTORS).filter((n) => n.endsWith(".json")).sort()) {
      const c = parseDsaVectorCaseText(readFileSync(new URL(f, VECTORS), "utf8"), f);
      const layer = new WasmDsa(c.config, c.weights, await kernels(build_), { cacheFormat: "f32" });
      const r = verifyDsaCase(c, () => layer, DSA_VECTOR_TOL_F32, "float32");
      expect(r.pass, `${f}: ${JSON.stringify(r.maxErr)} ${r.firstMismatch ?? ""}`).toBe(true);
      expect(r.float32!.rows).toBe(r.topk.rows); // every row went through the float32 rule
      // flips at bf16 boundaries are rare events: a handful among tens of thousands of values
      expect(r.quantised.differing).toBeLessThan(r.quantised.compared / 1000);
    }
  });

  it("a chunked long call equals one call; a failed call changes nothing", async () => {
    await fc.assert(
      fc.asyncProperty(arbCase, fc.integer({ min: 2, max: 12 }), fc.integer({ min: 1, max: 4 }), async (a, s, chunk) => {
        const { cfg, w, rng } = build(a);
        const k = await kernels(build_);
        const whole = new WasmDsa(cfg, w, k), pieces = new WasmDsa(cfg, w, await kernels(build_), { maxChunkTokens: chunk });
        const x = rng.normalArray(2 * s * cfg.dim);
        const y1 = whole.forward(x, { batch: 2, seqlen: s, startPos: 0 }), y2 = pieces.forward(x, { batch: 2, seqlen: s, startPos: 0 });
        const i = firstMismatch(y2, y1, atol, rtol);
        expect(i, `output[${i}]: chunked ${y2[i]}, whole ${y1[i]}`).toBe(-1);
        // a call that fails (a NaN input) leaves the cache as it was: the next call equals the other layer's
        const before = pieces.cache.snapshot(2, s);
        const bad = rng.normalArray(2 * cfg.dim);
        bad[cfg.dim + 1] = Number.NaN;
        expect(() => pieces.forward(bad, { batch: 2, seqlen: 1, startPos: s })).toThrow(NonFiniteError);
        expect(pieces.cache.length(0)).toBe(s);
        const after = pieces.cache.snapshot(2, s);
        for (const name of Object.keys(before)) expect(Array.from(after[name].data)).toEqual(Array.from(before[name].data));
        const x2 = rng.normalArray(2 * cfg.dim);
        expect(Array.from(pieces.forward(x2, { batch: 2, seqlen: 1, startPos: s }))).toEqual(Array.from(whole.forward(x2, { batch: 2, seqlen: 1, startPos: s })));
      }),
      { numRuns: RUNS },
    );
  });
});

type Call = { x: Float32Array; s: number; p: number; t: DsaTrace };

/** A fresh oracle through every call so far, each conditioned on the layer's trace of that call; returns the last call's output and the oracle. */
function runConditioned(cfg: DsaConfig, w: DsaWeights, calls: Call[], format: WasmDsaCacheFormat, errors: string[]): { output: Float64Array; layer: ReferenceDsa } {
  const steps: { current: Partial<DsaSteps> } = { current: {} };
  const proxy: Partial<DsaSteps> = {
    simulateKvFp8: (...a) => steps.current.simulateKvFp8!(...a),
    rotateActivation: (...a) => steps.current.rotateActivation!(...a),
    indexerWeights: (...a) => steps.current.indexerWeights!(...a),
    peCache: (...a) => steps.current.peCache!(...a),
    selectTopk: (...a) => steps.current.selectTopk!(...a),
  };
  const layer = new ReferenceDsa(cfg, w, { steps: proxy });
  const keys = { k8: [[], []] as number[][], ks: [[], []] as number[][] };
  let output: Float64Array = new Float64Array(0);
  calls.forEach(({ x, s, p, t }, ci) => {
    const DI = cfg.index_head_dim;
    for (let b = 0; b < 2; b++) {
      keys.k8[b].push(...t.indexer.k_fp8.subarray(b * s * DI, (b + 1) * s * DI));
      keys.ks[b].push(...t.indexer.k_scale.subarray(b * s, (b + 1) * s));
    }
    steps.current = conditionedSteps(cfg, t, format, keys, ci === calls.length - 1 ? errors : [], `call at ${p} (${s} tokens)`);
    output = Float64Array.from(layer.forward(x, { batch: 2, seqlen: s, startPos: p }));
  });
  return { output, layer };
}
