// DeepSeek-V3.2's sparse decode step against dense absorbed decode, one layer, batch 1, on the
// same paged cache (fp8_e4m3_v32 blocks: 64 latent records of 656 B, then the indexer's 64 keys
// of 132 B): the lightning indexer's scores over all S cached keys (dsa_index_scores_paged), the
// top-2048 selection (dsa_topk), and sparse attention over the selection (attn_mla_decode,
// KEYS_SELECTED), timed as parts and as one step, beside dense attention over all S keys
// (attn_mla_decode, KEYS_PAGED). Attention only (the projections are the same for both and are
// timed in the step group). Geometry: V3.2 (H 128, C 512, dr 64; indexer HI 64, DI 128, top-k
// 2048) and the same indexer on a 16-head MLA (V2-Lite's H). FLOPs and bytes are the cost model's
// terms (src/analysis/cost.ts layerCost, paths "dsa" and "absorbed").
//
// Checked before timing, against float64: dense and sparse outputs of two heads (cal_diff), every
// visible index score of a sample of 512 keys plus every selected key within the float32 bound
// (indexScoreBound), and the selection equal to the oracle's rule (topkRow) on the kernel's own
// float32 scores.
import { type DsaConfig, PRESETS, makeConfig } from "../src/config.js";
import { decodeShape, layerCost } from "../src/analysis/cost.js";
import { indexScoreBound } from "../src/dsa-numerics.js";
import { topkRow } from "../src/reference/dsa/topk.js";
import { E4M3_VALUES } from "../src/cache/scalar.js";
import { WasmKernels } from "../src/wasm/kernels.js";
import { loadCoreNode } from "../src/wasm/node.js";
import { fillUniform } from "./lib/data.js";
import { assertOk, checkCalDiff } from "./lib/check.js";
import { timeIt, type TimingPlan } from "./lib/timing.js";
import type { Isa } from "./lib/env.js";
import type { ProbeResult } from "./probe.js";
import { makeFigure, type Figure } from "./figures.js";
import { attendHead64 } from "./paths.js";

export const DSA_S = [4096, 16384, 65536, 131072];
const KB = 64, REC = 656, KEY = 132;
const MODELS = [["V3.2", 128], ["V3.2 H16", 16]] as const;

/** float64 attention of head h of q [H, W] over the keys `keys` (token indices) of the decoded latent lat [S, W]; values = the first C. */
export function head64(q: Float32Array, h: number, W: number, C: number, lat: Float32Array, keys: ArrayLike<number>, scale: number): Float64Array {
  const row = (i: number, out: Float64Array) => {
    for (let x = 0; x < out.length; x++) out[x] = lat[keys[i] * W + x];
  };
  return attendHead64(q, h * W, W, C, keys.length, scale, row, row);
}

export async function runDsaDecode(probe: ProbeResult, isas: Isa[], plan: TimingPlan, quick: boolean, log: (s: string) => void): Promise<Figure[]> {
  const out: Figure[] = [];
  for (const isa of isas) {
    const k = await WasmKernels.create(await loadCoreNode(isa)); // one memory per build, grown to the largest case (a 103 MB pool) and reused
    for (const [model, H] of MODELS) {
      const cfg = makeConfig({ ...PRESETS["deepseek-v3.2"], n_heads: H, max_batch_size: 1, max_seq_len: 131072 }) as DsaConfig;
      const C = cfg.kv_lora_rank, dr = cfg.qk_rope_head_dim, W = C + dr, HI = cfg.index_n_heads, DI = cfg.index_head_dim, topk = cfg.index_topk;
      const scale = 1 / Math.sqrt(cfg.qk_nope_head_dim + dr);
      for (const S of quick ? [4096] : DSA_S) {
        const made: { free(): void }[] = [];
        const keep = <T extends { free(): void }>(b: T): T => (made.push(b), b);
        const blocks = Math.ceil(S / KB), blockBytes = KB * (REC + KEY), keysOffset = KB * REC, K = Math.min(topk, S);
        const pool = k.allocBytes(blocks * blockBytes);
        made.push({ free: () => k.arena.free(pool.ptr) });
        const ids = Int32Array.from({ length: blocks }, (_, i) => i);
        // latent records: random [c | k_pe] through the fp8_e4m3 encoder, block by block; index keys: random e4m3 codes and scales
        const src = keep(k.alloc(KB * W)), lat = new Float32Array(blocks * KB * W), dec = keep(k.alloc(KB * W));
        for (let b = 0; b < blocks; b++) {
          fillUniform(src.view(), S + b, 1);
          k.encode("fp8_e4m3", KB, C, dr, src, { ptr: pool.ptr + b * blockBytes, bytes: KB * REC });
          k.decode("fp8_e4m3", KB, C, dr, { ptr: pool.ptr + b * blockBytes, bytes: KB * REC }, dec);
          lat.set(dec.view(), b * KB * W);
        }
        const mem = () => new Uint8Array(k.arena.memory.buffer, pool.ptr, pool.bytes);
        const k8 = new Float32Array(S * DI), ks = new Float32Array(S);
        {
          let x = (S * 2654435761) >>> 0;
          const bytes = mem(), dv = new DataView(k.arena.memory.buffer, pool.ptr, pool.bytes);
          for (let t = 0; t < S; t++) {
            const at = Math.floor(t / KB) * blockBytes + keysOffset, slot = t % KB;
            for (let d = 0; d < DI; d++) {
              x ^= x << 13; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
              const code = (x & 0xff) === 0x7f || (x & 0xff) === 0xff ? 0x38 : x & 0xff; // no NaN codes
              bytes[at + slot * DI + d] = code;
              k8[t * DI + d] = E4M3_VALUES[code];
            }
            ks[t] = Math.fround(0.001 + (t % 97) / 97000);
            dv.setFloat32(at + KB * DI + 4 * slot, ks[t], true);
          }
        }
        const qArr = fillUniform(new Float32Array(H * W), S + 7, 0.05), q = keep(k.alloc(H * W, qArr));
        const q8Arr = Float32Array.from({ length: HI * DI }, (_, i) => E4M3_VALUES[(i * 37 + 11) % 126]), q8 = keep(k.alloc(HI * DI, q8Arr));
        const wArr = fillUniform(new Float32Array(HI), S + 9, 1), w = keep(k.alloc(HI, wArr));
        const table = keep(k.alloc(blocks)), scores = keep(k.alloc(S)), iscratch = keep(k.alloc(k.indexScratchFloats(HI, DI)));
        const selB = keep(k.alloc(K)), heapB = keep(k.alloc(K));
        const sel = { ptr: selB.ptr, bytes: 4 * K }, heap = { ptr: heapB.ptr, bytes: 4 * K };
        const o = keep(k.alloc(H * C)), lse = keep(k.alloc(H)), scratch = keep(k.alloc(k.attnPagedScratchFloats(H, C, dr)));
        const poolR = { ptr: pool.ptr, bytes: pool.bytes };
        const dense = () => k.attnMlaDecode({ format: "fp8_e4m3", sq: 1, H, C, dr, len: S, q, pool: poolR, blocks: ids, table, blockBytes, scale, o, lse, scratch });
        const indexer = () => k.indexScoresPaged({ s: 1, T: S, HI, DI, q8, w, pool: poolR, blocks: ids, table, blockBytes, keysOffset, out: scores, scratch: iscratch });
        const select = () => k.topk(scores, 0, S, K, sel, 0, heap);
        const sparse = () => k.attnMlaDecode({ format: "fp8_e4m3", sq: 1, H, C, dr, len: S, q, pool: poolR, blocks: ids, table, blockBytes, scale, sel: { range: sel, at: 0, topk: K }, o, lse, scratch });
        const step = () => { indexer(); select(); sparse(); };

        // checks: dense (two heads over all keys), indexer (sampled keys + the selection within the bound), top-k (the rule on our scores), sparse (two heads over the selection)
        const heads = [0, H - 1], all = Int32Array.from({ length: S }, (_, j) => j);
        dense();
        const pick = (arr: Float32Array) => Float64Array.from(heads.flatMap((h) => Array.from(arr.subarray(h * C, (h + 1) * C))));
        const denseChk = checkCalDiff(pick(o.toArray()), Float64Array.from(heads.flatMap((h) => Array.from(head64(qArr, h, W, C, lat, all, scale)))), "dense o");
        assertOk(`dense ${model} S=${S} ${isa}`, denseChk);
        step();
        const sc = scores.toArray(), chosen = Array.from(new Int32Array(k.arena.memory.buffer, sel.ptr, K));
        const want = topkRow(sc, 0, S, K);
        if (chosen.some((j, i) => j !== want[i])) throw new Error(`top-k ${model} S=${S} ${isa}: the kernel's selection is not the rule's on its own scores`);
        const sample = new Set<number>(chosen);
        for (let i = 0; i < 512; i++) sample.add((i * 7919 + 13) % S);
        let worst = 0;
        const exact = new Float64Array(S);
        for (const j of sample) {
          let sum = 0;
          for (let h = 0; h < HI; h++) {
            let dot = 0;
            for (let d = 0; d < DI; d++) dot += q8Arr[h * DI + d] * k8[j * DI + d];
            sum += wArr[h] * Math.max(dot, 0);
          }
          exact[j] = ks[j] * sum;
        }
        const bound = indexScoreBound(q8Arr, 0, wArr, 0, k8, ks, S, HI, DI, exact, 0);
        for (const j of sample) {
          const r = Math.abs(sc[j] - exact[j]) / bound[j];
          if (!(r <= 1)) throw new Error(`indexer ${model} S=${S} ${isa}: key ${j} scores ${sc[j]}, float64 ${exact[j]}, beyond the float32 bound ${bound[j]}`);
          worst = Math.max(worst, r);
        }
        const indexChk = `${sample.size} scores (the selection and 512 sampled keys) within the float32 bound (worst ${(100 * worst).toFixed(0)}% of it); selection = topkRow on the kernel's scores`;
        const sparseChk = checkCalDiff(pick(o.toArray()), Float64Array.from(heads.flatMap((h) => Array.from(head64(qArr, h, W, C, lat, chosen, scale)))), "sparse o");
        assertOk(`sparse ${model} S=${S} ${isa}`, sparseChk);

        const dsaTerms = layerCost(cfg, "dsa", decodeShape(S, 1), { format: "fp8" }).terms, abs = layerCost(cfg, "absorbed", decodeShape(S, 1), { format: "fp8" }).terms;
        const attnOf = (t: typeof abs) => ({ flop: t.scores.flops + t.weightedSum.flops, bytes: t.scores.bytes + t.weightedSum.bytes });
        const what = `H=${H} S=${S}`;
        const tDense = timeIt(`dense ${model} ${S} ${isa}`, dense, plan);
        const tIndex = timeIt(`indexer ${model} ${S} ${isa}`, indexer, plan);
        const tTopk = timeIt(`topk ${model} ${S} ${isa}`, select, plan);
        const tSparse = timeIt(`sparse ${model} ${S} ${isa}`, sparse, plan);
        const tStep = timeIt(`dsa step ${model} ${S} ${isa}`, step, plan);
        const dn = attnOf(abs), sp = attnOf(dsaTerms);
        const denseFig = makeFigure(probe, { group: "dsa", model, what, impl: "dense: attn_mla_decode over all S keys", isa, ms: tDense.medianMs, ...dn, check: denseChk.detail });
        const peer = { impl: "dense attn_mla_decode", ms: denseFig.ms, gflops: denseFig.gflops, gbs: denseFig.gbs };
        const figs = [
          denseFig,
          makeFigure(probe, { group: "dsa", model, what, impl: "indexer: dsa_index_scores_paged over all S keys", isa, ms: tIndex.medianMs, flop: dsaTerms.indexScores.flops, bytes: dsaTerms.indexScores.bytes, check: indexChk }),
          makeFigure(probe, { group: "dsa", model, what, impl: `top-k: dsa_topk, ${K} of S`, isa, ms: tTopk.medianMs, flop: 0, bytes: 4 * S, check: "selection = topkRow on the same scores" }),
          makeFigure(probe, { group: "dsa", model, what, impl: `sparse: attn_mla_decode over ${K} selected keys`, isa, ms: tSparse.medianMs, ...sp, check: sparseChk.detail }),
          makeFigure(probe, { group: "dsa", model, what, impl: "DSA step: indexer + top-k + sparse", isa, ms: tStep.medianMs, flop: sp.flop + dsaTerms.indexScores.flops, bytes: sp.bytes + dsaTerms.indexScores.bytes, check: "its three parts, checked above", peer, note: "ours / peer = dense ms / DSA step ms" }),
        ];
        for (const f of figs) {
          out.push(f);
          log(`dsa ${model} S=${S} ${isa} ${f.impl.split(":")[0]}: ${f.ms.toFixed(2)} ms, ${f.gflops.toFixed(1)} GFLOP/s (${f.pctPeak.toFixed(0)}% peak)${f.ratio ? `, x${f.ratio.toFixed(1)} vs dense` : ""}`);
        }
        for (const b of made.reverse()) b.free();
      }
    }
  }
  return out;
}
