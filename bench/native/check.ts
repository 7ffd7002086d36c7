// llama.cpp checked by the oracle on its logits. Each check model (models.ts) is written by mlakit
// as a GGUF per weight type and read back by both sides: llama.cpp evaluates a prompt (one
// prefill) and then decodes token by token; the oracle evaluates the same tokens on the GGUF's
// decoded weights (exact for F16 and Q8_0), and tinyModelBound bounds, per log-probability, what
// llama.cpp's float32 arithmetic and its rounding points may move it (src/reference/tiny-model-bound.ts).
// node-llama-cpp hands out probabilities, not logits: log p is compared, which drops the
// softmax's free constant. A setting agrees when every log p is within its bound.
//
// Per setting (weights F32/F16/Q8_0, KV cache f16/f32, flash attention off/on) the row reports the
// worst |d log p| and the worst ratio to the bound. With flash attention llama.cpp computes on f16
// copies of K and V whatever cache type was asked (llama-graph.cpp casts them); the row judges it
// by what it computes and also reports its ratio to the bound the requested cache would give.
//
// The long rows check how the agreement moves with context (no bound: its reverse passes over
// thousands of positions do not fit the budget): the worst |d log p| of token S, decoded alone
// after a prefill of S - 1 tokens, flash attention off and on.
import type { TinyModelConfig, TinyModelWeights } from "../../src/reference/tiny-model.js";
import { TinyModel } from "../../src/reference/tiny-model.js";
import { llamaCppNumerics, tinyModelBound } from "../../src/reference/tiny-model-bound.js";
import { openGguf } from "../../src/io/gguf.js";
import { bytesSource } from "../../src/io/safetensors.js";
import { loadTinyModel } from "../../src/io/mla-gguf.js";
import { readFileSync } from "node:fs";
import { Rng } from "../../src/weights.js";
import { randomTinyModel } from "../../src/reference/tiny-model.js";
import { CHECK_MODELS, NATIVE_WEIGHT_TYPES, type NativeWeightType, promptTokens, writeModel } from "./models.js";
import type { NativePeer, NativeSequence } from "./llama.js";

export interface NativeCheckRow {
  model: string;
  weights: NativeWeightType;
  kv: "f16" | "f32";
  flashAttention: boolean;
  /** Positions compared: the prompt's last, then each decode. */
  positions: number;
  worstAbs: number;
  worstRatio: number;
  /** Median bound over the compared log-probabilities. */
  medianBound: number;
  agrees: boolean;
  /** Flash attention with an f32 cache: the worst ratio to the bound of the cache type asked for. */
  worstRatioAsRequested?: number;
}

export interface NativeLongRow {
  model: string;
  weights: NativeWeightType;
  kv: "f16";
  flashAttention: boolean;
  S: number;
  worstAbs: number;
}

const PROMPT = [5, 9, 40, 100, 7, 8, 200, 3];
const DECODES = [17, 250, 4, 66];
const ALL_PROBS = { generateNext: { probabilities: true as const, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } };

/** log p of the next token after the last input, as llama.cpp's sampler hands it out (full vocabulary, temperature 1). */
async function nextLogp(seq: NativeSequence, tokens: number[], V: number): Promise<Float64Array> {
  const out = await seq.controlledEvaluate(tokens.map((t, i) => (i === tokens.length - 1 ? [t, ALL_PROBS] : t)));
  const probs = out[tokens.length - 1]?.next.probabilities;
  if (!probs || probs.size !== V) throw new Error(`bench:native: llama.cpp returned ${probs?.size ?? 0} probabilities, expected the whole vocabulary (${V})`);
  const lp = new Float64Array(V);
  for (const [t, p] of probs) lp[t] = Math.log(p);
  return lp;
}

async function decodedModel(path: string): Promise<{ config: TinyModelConfig; weights: TinyModelWeights }> {
  return loadTinyModel(await openGguf(bytesSource(new Uint8Array(readFileSync(path))), path));
}

export async function runNativeCheck(peer: NativePeer, dir: string, quick: boolean, log: (s: string) => void): Promise<{ rows: NativeCheckRow[]; long: NativeLongRow[] }> {
  const rows: NativeCheckRow[] = [], long: NativeLongRow[] = [];
  const tokens = [...PROMPT, ...DECODES];
  const positions = [PROMPT.length - 1, ...DECODES.map((_, i) => PROMPT.length + i)];
  for (const m of CHECK_MODELS) {
    const w = randomTinyModel(m.cfg, new Rng(m.seed)), V = m.cfg.vocab;
    for (const type of NATIVE_WEIGHT_TYPES) {
      const path = writeModel(dir, m.name, m.cfg, w, type);
      const back = await decodedModel(path);
      const bounds = new Map<string, ReturnType<typeof tinyModelBound>>();
      const boundOf = (kv: "f16" | "f32", fa: boolean, asRequested: boolean) => {
        const num = llamaCppNumerics(type, kv, fa, asRequested), key = JSON.stringify(num);
        if (!bounds.has(key)) bounds.set(key, tinyModelBound(back.config, back.weights, tokens, num, { positions }));
        return bounds.get(key)!;
      };
      const model = await peer.loadModel(path);
      try {
        for (const kv of ["f16", "f32"] as const) {
          for (const fa of [false, true]) {
            const ctx = await model.createContext({ contextSize: 256, threads: 1, flashAttention: fa, experimentalKvCacheKeyType: kv === "f16" ? "F16" : "F32", experimentalKvCacheValueType: kv === "f16" ? "F16" : "F32" });
            const seq = ctx.getSequence();
            const got = [await nextLogp(seq, PROMPT, V)];
            for (const t of DECODES) got.push(await nextLogp(seq, [t], V));
            await ctx.dispose();
            const ratios = (b: ReturnType<typeof tinyModelBound>) => {
              let worstAbs = 0, worstRatio = 0;
              const all: number[] = [];
              positions.forEach((p, k) => {
                for (let i = 0; i < V; i++) {
                  const d = Math.abs(got[k][i] - b.logp[p * V + i]);
                  worstAbs = Math.max(worstAbs, d);
                  // No finite bound (an f16 sum too long for the analysis) judges nothing: it counts as a miss.
                  worstRatio = Math.max(worstRatio, Number.isFinite(b.bound[p * V + i]) ? d / b.bound[p * V + i] : Infinity);
                  all.push(b.bound[p * V + i]);
                }
              });
              all.sort((a, c) => a - c);
              return { worstAbs, worstRatio, medianBound: all[all.length >> 1] };
            };
            const r = ratios(boundOf(kv, fa, false));
            const row: NativeCheckRow = { model: m.name, weights: type, kv, flashAttention: fa, positions: positions.length, ...r, agrees: r.worstRatio <= 1 };
            if (fa && kv === "f32") row.worstRatioAsRequested = ratios(boundOf(kv, fa, true)).worstRatio;
            rows.push(row);
            log(`check ${m.name} ${type} kv ${kv} fa ${fa ? "on" : "off"}: worst |d log p| ${r.worstAbs.toExponential(2)}, ${(r.worstRatio * 100).toFixed(1)}% of the bound${row.worstRatioAsRequested !== undefined ? ` (${(row.worstRatioAsRequested * 100).toFixed(0)}% of the f32 cache's)` : ""}${row.agrees ? "" : "  <-- DISAGREES"}`);
          }
        }
      } finally {
        await model.dispose();
      }
    }
  }
  // Agreement against context length: the first check model, F32 weights, f16 cache.
  const m = CHECK_MODELS[0], w = randomTinyModel(m.cfg, new Rng(m.seed)), V = m.cfg.vocab;
  const path = writeModel(dir, m.name, m.cfg, w, "F32");
  const back = await decodedModel(path);
  const model = await peer.loadModel(path);
  try {
    for (const S of quick ? [64, 512] : [64, 512, 2048, 4000]) {
      const toks = promptTokens(S);
      const logits = new TinyModel(back.config, back.weights).forward(toks, 0).subarray((S - 1) * V);
      let mx = -Infinity, se = 0;
      for (const z of logits) mx = Math.max(mx, z);
      for (const z of logits) se += Math.exp(z - mx);
      for (const fa of [false, true]) {
        // A prefill of S - 1 tokens, then the last one decoded alone: the decode path over S - 1 cached keys.
        const ctx = await model.createContext({ contextSize: S + 16, threads: 2, batchSize: 512, flashAttention: fa });
        const seq = ctx.getSequence();
        await seq.evaluateWithoutGeneratingNewTokens(toks.slice(0, S - 1));
        const got = await nextLogp(seq, toks.slice(S - 1), V);
        await ctx.dispose();
        let worstAbs = 0;
        for (let i = 0; i < V; i++) worstAbs = Math.max(worstAbs, Math.abs(got[i] - (logits[i] - mx - Math.log(se))));
        long.push({ model: m.name, weights: "F32", kv: "f16", flashAttention: fa, S, worstAbs });
        log(`check long ${m.name} S ${S} fa ${fa ? "on" : "off"}: worst |d log p| ${worstAbs.toExponential(2)}`);
      }
    }
  } finally {
    await model.dispose();
  }
  return { rows, long };
}
