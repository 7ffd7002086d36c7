// A whole (tiny) DeepSeek2 decoder in float64, so an external backend that runs models rather
// than layers (llama.cpp) can be checked on its logits: token embedding, per layer an RMSNorm, MLA
// (ReferenceMla, the oracle), the residual, an RMSNorm and a SwiGLU FFN (down(silu(gate x) * up x),
// DeepSeek's dense MLP), the residual; a final RMSNorm and the output projection. Every layer is
// dense (a DeepSeek2 GGUF's leading_dense_block_count covers them all): no MoE.

import type { MlaConfig } from "../config.js";
import { ShapeError } from "../errors.js";
import { type MlaWeights, type Rng, checkMlaWeights, randomMlaWeights } from "../weights.js";
import { linear } from "./linear.js";
import { ReferenceMla } from "./mla.js";
import { rmsNorm } from "./rmsnorm.js";

export interface TinyModelConfig {
  /** The attention of every layer (its n_layers is the model's layer count). */
  mla: MlaConfig;
  vocab: number;
  /** The FFN's hidden size. */
  ffn: number;
}

export interface TinyLayerWeights {
  attn_norm: Float32Array; // [D]
  mla: MlaWeights;
  ffn_norm: Float32Array; // [D]
  ffn_gate: Float32Array; // [F, D]
  ffn_up: Float32Array; // [F, D]
  ffn_down: Float32Array; // [D, F]
}

export interface TinyModelWeights {
  token_embd: Float32Array; // [V, D]
  layers: TinyLayerWeights[];
  output_norm: Float32Array; // [D]
  output: Float32Array; // [V, D]
}

/** Seeded weights of the model's shapes (the attention as randomMlaWeights draws it). */
export function randomTinyModel(cfg: TinyModelConfig, rng: Rng): TinyModelWeights {
  const D = cfg.mla.dim, F = cfg.ffn, V = cfg.vocab;
  const norm = () => Float32Array.from({ length: D }, () => rng.uniform(0.6, 1.4));
  return {
    token_embd: rng.normalArray(V * D),
    layers: Array.from({ length: cfg.mla.n_layers }, () => ({
      attn_norm: norm(),
      mla: randomMlaWeights(cfg.mla, rng),
      ffn_norm: norm(),
      ffn_gate: rng.normalArray(F * D, 1 / Math.sqrt(D)),
      ffn_up: rng.normalArray(F * D, 1 / Math.sqrt(D)),
      ffn_down: rng.normalArray(D * F, 1 / Math.sqrt(F)),
    })),
    output_norm: norm(),
    output: rng.normalArray(V * D, 1 / Math.sqrt(D)),
  };
}

export function checkTinyModel(cfg: TinyModelConfig, w: TinyModelWeights): void {
  const D = cfg.mla.dim, F = cfg.ffn, V = cfg.vocab;
  const want = (field: string, a: ArrayLike<number>, n: number) => {
    if (a.length !== n) throw new ShapeError(field, a.length, `${n} elements`);
  };
  want("token_embd", w.token_embd, V * D);
  want("output_norm", w.output_norm, D);
  want("output", w.output, V * D);
  if (w.layers.length !== cfg.mla.n_layers) throw new ShapeError("layers", w.layers.length, `${cfg.mla.n_layers} (mla.n_layers)`);
  w.layers.forEach((l, i) => {
    want(`layers[${i}].attn_norm`, l.attn_norm, D);
    want(`layers[${i}].ffn_norm`, l.ffn_norm, D);
    want(`layers[${i}].ffn_gate`, l.ffn_gate, F * D);
    want(`layers[${i}].ffn_up`, l.ffn_up, F * D);
    want(`layers[${i}].ffn_down`, l.ffn_down, D * F);
    checkMlaWeights(cfg.mla, l.mla);
  });
}

const silu = (x: number) => x / (1 + Math.exp(-x));

/** The model over one sequence: each call appends its tokens (positions startPos..) and returns their logits [s, V]. */
export class TinyModel {
  private readonly attn: ReferenceMla[];

  constructor(readonly cfg: TinyModelConfig, readonly w: TinyModelWeights, path: "naive" | "absorbed" = "absorbed") {
    checkTinyModel(cfg, w);
    this.attn = w.layers.map((l) => new ReferenceMla({ ...cfg.mla, max_batch_size: 1 }, l.mla, { path }));
  }

  forward(tokens: readonly number[], startPos: number): Float64Array {
    const { vocab: V, ffn: F } = this.cfg, D = this.cfg.mla.dim, s = tokens.length;
    const h = new Float64Array(s * D);
    tokens.forEach((t, i) => {
      if (!Number.isInteger(t) || t < 0 || t >= V) throw new ShapeError(`tokens[${i}]`, t, `a token id in 0..${V - 1}`);
      for (let d = 0; d < D; d++) h[i * D + d] = this.w.token_embd[t * D + d];
    });
    this.w.layers.forEach((l, i) => {
      const a = this.attn[i].forward(rmsNorm(h, s, D, l.attn_norm), { batch: 1, seqlen: s, startPos });
      for (let j = 0; j < h.length; j++) h[j] += a[j];
      const x = rmsNorm(h, s, D, l.ffn_norm);
      const g = linear(x, s, l.ffn_gate, F, D), u = linear(x, s, l.ffn_up, F, D);
      for (let j = 0; j < g.length; j++) g[j] = silu(g[j]) * u[j];
      const down = linear(g, s, l.ffn_down, D, F);
      for (let j = 0; j < h.length; j++) h[j] += down[j];
    });
    return linear(rmsNorm(h, s, D, this.w.output_norm), s, this.w.output, V, D);
  }
}
