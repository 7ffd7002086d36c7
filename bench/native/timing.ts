// Decode ms/token in one run, same attention weights for every implementation (models.ts):
//   - llama.cpp (node-llama-cpp): weights F32 / F16 / Q8_0, 1 and 2 threads, flash attention off
//     and on, its default f16 KV cache. The context is filled once per (model, S, flash attention)
//     by a real prefill whose state is saved and loaded into every other setting's context (the
//     state holds the cache, not the weights: timing needs its size, not its values). A timed
//     call evaluates one token at position S; the token is erased before the next call.
//     Its time includes node-llama-cpp's per-call cost (the floor: the tiny check model's step)
//     and the model's small rest (embedding row, 32-wide FFN, 259-token output).
//   - mlakit: WasmMla's absorbed step on the same attention weights, float32 and its compressed
//     formats, 1 and 2 threads, the cache written directly (bench/step.ts does the same); each
//     format right after the llama.cpp weight type it is compared with.
//   - onnxruntime-web (1 thread) running the layer's naive step as an exported model does
//     (bench/peers/ort-mla.ts), at V2-Lite: a per-head K/V cache fed as past and returned as present.
// Cache bytes per token per layer: llama.cpp's own report, mlakit's float32 latent rows, the
// exported graph's float32 per-head K and V.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ReferenceMla } from "../../src/reference/mla.js";
import { convertMlaWeights, dequantiseMlaWeights } from "../../src/weight-formats.js";
import { createWasmBackend } from "../../src/wasm/node.js";
import type { WasmMla } from "../../src/wasm/index.js";
import type { WasmBackend } from "../../src/wasm/backend.js";
import { fillUniform } from "../lib/data.js";
import { fillWasmCache, referenceStep, stepInputs, weightBytes } from "../step.js";
import { assertOk, checkCalDiff } from "../lib/check.js";
import { timeIt, timeItAsync, type TimingPlan } from "../lib/timing.js";
import { OrtNaiveMlaStep } from "../peers/ort-mla.js";
import { CHECK_MODELS, NATIVE_WEIGHT_TYPES, type NativeWeightType, type GeometryModel, geometryModel, nonAttentionWeights, promptTokens, writeModel } from "./models.js";
import type { NativePeer } from "./llama.js";
import { Rng } from "../../src/weights.js";
import { randomTinyModel } from "../../src/reference/tiny-model.js";

export interface NativeTimingRow {
  model: "V2-Lite" | "V3";
  S: number;
  impl: "llama.cpp" | "mlakit" | "onnxruntime-web";
  /** llama.cpp: F32 / F16 / Q8_0; mlakit: f32 / bf16 / int8 / fp8; onnxruntime-web: f32. */
  weights: string;
  threads: number;
  flashAttention?: boolean;
  ms: number;
  samples: number;
  /** The cache each implementation keeps, per token per layer. */
  cacheBytesPerToken: number;
  cache: string;
}

export interface NativePrefillRow {
  model: "V2-Lite" | "V3";
  S: number;
  flashAttention: boolean;
  threads: number;
  ms: number;
}

export interface NativeTiming {
  rows: NativeTimingRow[];
  prefill: NativePrefillRow[];
  /** node-llama-cpp's per-call cost: one decode of the tiny check model (1 thread), ms. */
  floorMs: number;
  /** Weight elements outside the attention llama.cpp also reads per step, by model. */
  restWeights: Record<string, { rest: number; attention: number }>;
}

type MlakitFormat = "f32" | "bf16" | "int8" | "fp8";
type Backends = readonly (readonly [number, WasmBackend])[];

/** mlakit's formats timed right after each llama.cpp weight type, so a pair is measured minutes
 * apart, not a run apart (the machine drifts): the same bytes per weight (F16 ~ bf16, Q8_0 ~ int8),
 * and fp8 beside Q8_0. */
const PAIRED_FORMATS: Record<NativeWeightType, MlakitFormat[]> = { F32: ["f32"], F16: ["bf16"], Q8_0: ["int8", "fp8"] };

export function nativeContexts(quick: boolean): Record<"V2-Lite" | "V3", number[]> {
  return quick ? { "V2-Lite": [1024], V3: [1024] } : { "V2-Lite": [1024, 4096, 16384], V3: [1024, 4096, 16384] };
}

/** llama.cpp on one geometry model in one weight type, every S, flash attention on and off, 1 and 2 threads. */
async function llamaRows(peer: NativePeer, dir: string, geo: GeometryModel, Ss: number[], type: NativeWeightType, plan: TimingPlan, log: (s: string) => void, out: NativeTiming): Promise<void> {
  const name = geo.model;
  const model = await peer.loadModel(writeModel(dir, `${name}-layer`, geo.cfg, geo.weights, type));
  try {
    for (const S of Ss) {
      for (const fa of [true, false]) {
        const state = join(dir, `state-${name}-${S}-fa${fa ? 1 : 0}.bin`);
        if (!existsSync(state)) {
          const ctx = await model.createContext({ contextSize: S + 64, threads: { ideal: 2, min: 2 }, batchSize: 512, flashAttention: fa });
          const seq = ctx.getSequence();
          const t0 = performance.now();
          await seq.evaluateWithoutGeneratingNewTokens(promptTokens(S));
          const ms = performance.now() - t0;
          out.prefill.push({ model: name, S, flashAttention: fa, threads: 2, ms });
          log(`llama.cpp prefill ${name} S ${S} fa ${fa ? "on" : "off"} (2 threads, ${type}): ${(ms / 1000).toFixed(1)} s`);
          await seq.saveStateToFile(state);
          await ctx.dispose();
        }
        for (const threads of [1, 2]) {
          const ctx = await model.createContext({ contextSize: S + 64, threads: { ideal: threads, min: threads }, batchSize: 512, flashAttention: fa });
          try {
            const seq = ctx.getSequence();
            await seq.loadStateFromFile(state, { acceptRisk: true });
            if (seq.nextTokenIndex !== S) throw new Error(`bench:native: the state of ${name} S ${S} restored ${seq.nextTokenIndex} tokens`);
            const kv = peer.lastKvCache();
            const t = await timeItAsync(`llama.cpp ${name} S=${S} ${type} ${threads}t fa=${fa}`, () => seq.evaluateWithoutGeneratingNewTokens([42]), plan, () => seq.eraseContextTokenRanges([{ start: S, end: S + 1 }]));
            out.rows.push({ model: name, S, impl: "llama.cpp", weights: type, threads, flashAttention: fa, ms: t.medianMs, samples: t.samples, cacheBytesPerToken: kv?.bytesPerTokenLayer ?? NaN, cache: `latent + k_pe, ${kv?.kType ?? "?"}` });
            log(`llama.cpp ${name} S ${S} ${type} ${threads} thread(s) fa ${fa ? "on" : "off"}: ${t.medianMs.toFixed(2)} ms/token`);
          } finally {
            await ctx.dispose();
          }
        }
      }
    }
  } finally {
    await model.dispose();
  }
}

/** node-llama-cpp's per-call floor: the tiny check model, whose compute is a few microseconds. */
async function llamaFloorMs(peer: NativePeer, dir: string, plan: TimingPlan): Promise<number> {
  const m = CHECK_MODELS[0];
  const model = await peer.loadModel(writeModel(dir, m.name, m.cfg, randomTinyModel(m.cfg, new Rng(m.seed)), "F32"));
  try {
    const ctx = await model.createContext({ contextSize: 256, threads: 1, flashAttention: false });
    const seq = ctx.getSequence();
    await seq.evaluateWithoutGeneratingNewTokens([5, 6, 7, 8]);
    const ms = (await timeItAsync("llama.cpp floor", () => seq.evaluateWithoutGeneratingNewTokens([9]), plan, () => seq.eraseContextTokenRanges([{ start: 4, end: 5 }]))).medianMs;
    await ctx.dispose();
    return ms;
  } finally {
    await model.dispose();
  }
}

/** mlakit's absorbed step on the geometry model's attention weights in the given formats, every S, 1 and 2 threads. */
async function mlakitRows(backends: Backends, geo: GeometryModel, Ss: number[], formats: MlakitFormat[], plan: TimingPlan, log: (s: string) => void, out: NativeTiming): Promise<void> {
  const name = geo.model, cfg = geo.cfg.mla, w = geo.weights.layers[0].mla;
  const { kv_lora_rank: C, qk_rope_head_dim: dr } = cfg;
  for (const format of formats) {
    const weights = format === "f32" ? w : convertMlaWeights(cfg, w, format);
    for (const [threads, backend] of backends) {
      const layer = (await backend.createMla(cfg, weights, { path: "absorbed" })) as WasmMla;
      try {
        for (const S of Ss) {
          const { kv, pe, x } = stepInputs(cfg, S);
          fillWasmCache(layer, S, kv, pe);
          const opts = { batch: 1, seqlen: 1, startPos: S };
          if (S === Ss[0]) {
            const want = referenceStep(cfg, format === "f32" ? w : dequantiseMlaWeights(cfg, weights), S, kv, pe, x);
            assertOk(`mlakit ${name} ${format} ${threads}t`, checkCalDiff(layer.forward(x, opts), want, "step vs float64 on the same weights"));
          }
          const t = timeIt(`mlakit ${name} S=${S} ${format} ${threads}t`, () => void layer.forward(x, opts), plan);
          out.rows.push({ model: name, S, impl: "mlakit", weights: format, threads, ms: t.medianMs, samples: t.samples, cacheBytesPerToken: 4 * (C + dr), cache: "latent + k_pe, f32" });
          log(`mlakit ${name} S ${S} ${format} ${threads} thread(s): ${t.medianMs.toFixed(2)} ms/token`);
        }
      } finally {
        layer.dispose();
      }
    }
  }
}

/** onnxruntime-web (1 thread) on the geometry model's layer as an exported naive graph, every S. */
async function ortRows(geo: GeometryModel, Ss: number[], plan: TimingPlan, log: (s: string) => void, out: NativeTiming): Promise<void> {
  const cfg = geo.cfg.mla, w = geo.weights.layers[0].mla;
  const { n_heads: H, qk_nope_head_dim: dn, qk_rope_head_dim: dr, v_head_dim: dv, dim: D } = cfg;
  const ort = await OrtNaiveMlaStep.create(cfg, w);
  try {
    // Two steps from an empty cache against the oracle's naive path on the same weights.
    const ref = new ReferenceMla({ ...cfg, max_batch_size: 1 }, w, { path: "naive" });
    let pk: Float32Array = new Float32Array(0), pv: Float32Array = new Float32Array(0);
    for (let t = 0; t < 2; t++) {
      const x = fillUniform(new Float32Array(D), 90 + t);
      const got = await ort.step(x, pk, pv, t);
      assertOk(`onnxruntime-web naive step ${t}`, checkCalDiff(got.y, ref.forward(x, { batch: 1, seqlen: 1, startPos: t }), "exported-graph step vs float64"));
      [pk, pv] = [got.present_k, got.present_v];
    }
    for (const S of Ss) {
      const pastK = fillUniform(new Float32Array(H * S * (dn + dr)), S + 5), pastV = fillUniform(new Float32Array(H * S * dv), S + 6), x = fillUniform(new Float32Array(D), S + 7);
      const t = await timeItAsync(`onnxruntime-web naive ${S}`, () => ort.step(x, pastK, pastV, S), plan);
      out.rows.push({ model: geo.model, S, impl: "onnxruntime-web", weights: "f32", threads: 1, ms: t.medianMs, samples: t.samples, cacheBytesPerToken: 4 * H * (dn + dr + dv), cache: "per-head K and V, f32" });
      log(`onnxruntime-web ${geo.model} S ${S} naive exported graph: ${t.medianMs.toFixed(2)} ms/token`);
    }
  } finally {
    await ort.dispose();
  }
}

export async function runNativeTiming(peer: NativePeer, dir: string, plan: TimingPlan, quick: boolean, log: (s: string) => void): Promise<NativeTiming> {
  const out: NativeTiming = { rows: [], prefill: [], floorMs: NaN, restWeights: {} };
  const one = await createWasmBackend({});
  const two = await createWasmBackend({ threads: 2, build: one.build });
  if (two.threads.count < 2) log(`mlakit 2 threads: not measured (${two.threads.reason})`);
  const backends: Backends = two.threads.count < 2 ? [[1, one]] : [[1, one], [2, two]];
  const contexts = nativeContexts(quick);
  for (const name of ["V2-Lite", "V3"] as const) {
    const Ss = contexts[name];
    const geo = geometryModel(name, Math.max(...Ss) + 64);
    out.restWeights[name] = { rest: nonAttentionWeights(geo.cfg), attention: weightBytes(geo.cfg.mla) / 4 };
    // F16 first: its prefills write the states the other weight types load.
    for (const type of ["F16", ...NATIVE_WEIGHT_TYPES.filter((t) => t !== "F16")] as NativeWeightType[]) {
      await llamaRows(peer, dir, geo, Ss, type, plan, log, out);
      await mlakitRows(backends, geo, Ss, PAIRED_FORMATS[type], plan, log, out);
      // The exported graph is judged against mlakit's float32 step: timed right after it.
      if (name === "V2-Lite" && type === "F32") await ortRows(geo, Ss, plan, log, out);
    }
  }
  out.floorMs = await llamaFloorMs(peer, dir, plan);
  return out;
}
