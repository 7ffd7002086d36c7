// DeepSeek-V3.2 layer weights: MLA's (src/weights.ts) plus the lightning indexer's, under the
// official state_dict names (inference/model.py of DeepSeek-V3.2-Exp, `MLA.indexer`), their
// shapes, checks, and the vectors' random recipe. Browser-safe; no computation on tensors.
//
// Shapes: D dim, Q q_lora_rank, HI index_n_heads, DI index_head_dim.

import type { DsaConfig } from "../config.js";
import { ShapeError } from "../errors.js";
import { type MlaWeights, type Rng, checkMlaWeights, checkWeights, mlaWeightShapes, randomWeights } from "../weights.js";

/** The indexer's weights; state_dict names `indexer.<name>.weight` (k_norm_bias: `indexer.k_norm.bias`). */
export interface IndexerWeights {
  /** [HI*DI, Q]: q = wq_b(qr), qr MLA's query latent. */
  wq_b: ArrayLike<number>;
  /** [DI, D]: one key head shared by all index heads. */
  wk: ArrayLike<number>;
  /** [DI] LayerNorm weight. */
  k_norm: ArrayLike<number>;
  /** [DI] LayerNorm bias. */
  k_norm_bias: ArrayLike<number>;
  /** [HI, D]: per-head weights (float32 in model.py, applied to x.float()). */
  weights_proj: ArrayLike<number>;
}

export type IndexerWeightName = keyof IndexerWeights;

/** A V3.2 layer: MLA (always with q-LoRA) + `indexer`. */
export interface DsaWeights extends MlaWeights {
  indexer: IndexerWeights;
}

export function indexerWeightShapes(cfg: DsaConfig): Record<IndexerWeightName, number[]> {
  const HI = cfg.index_n_heads, DI = cfg.index_head_dim;
  return { wq_b: [HI * DI, cfg.q_lora_rank], wk: [DI, cfg.dim], k_norm: [DI], k_norm_bias: [DI], weights_proj: [HI, cfg.dim] };
}

/** state_dict name of each indexer weight. */
export const INDEXER_STATE_DICT_NAMES: Readonly<Record<IndexerWeightName, string>> = Object.freeze({
  wq_b: "indexer.wq_b.weight",
  wk: "indexer.wk.weight",
  k_norm: "indexer.k_norm.weight",
  k_norm_bias: "indexer.k_norm.bias",
  weights_proj: "indexer.weights_proj.weight",
});

/** Every state_dict name of a V3.2 layer with its shape ([out, in] for linears). */
export function dsaStateDictShapes(cfg: DsaConfig): Map<string, number[]> {
  const out = new Map<string, number[]>(Object.entries(mlaWeightShapes(cfg)).map(([k, shape]) => [`${k}.weight`, shape as number[]]));
  for (const [k, shape] of Object.entries(indexerWeightShapes(cfg))) out.set(INDEXER_STATE_DICT_NAMES[k as IndexerWeightName], shape);
  return out;
}

/** ShapeError for a missing, superfluous or wrong-length weight (MLA's and the indexer's); NonFiniteError for NaN/Inf. */
export function checkDsaWeights(cfg: DsaConfig, w: DsaWeights): void {
  if (typeof w !== "object" || w === null) throw new ShapeError("weights", w, "an object of named weight arrays with an indexer");
  const { indexer, ...mla } = w;
  if (typeof indexer !== "object" || indexer === null) throw new ShapeError("weights.indexer", indexer, `an object {${Object.keys(INDEXER_STATE_DICT_NAMES).join(", ")}} (the DeepSeek-V3.2 indexer's weights)`);
  checkMlaWeights(cfg, mla as MlaWeights);
  checkWeights(indexerWeightShapes(cfg), indexer as unknown as Partial<Record<IndexerWeightName, ArrayLike<number>>>, "weights.indexer");
}

/** From official state_dict names to DsaWeights (names are not checked here: checkDsaWeights does). */
export function dsaWeightsFromStateDict(sd: Record<string, ArrayLike<number>>): DsaWeights {
  const mla: Record<string, ArrayLike<number>> = {};
  const indexer: Record<string, ArrayLike<number>> = {};
  const byName = new Map(Object.entries(INDEXER_STATE_DICT_NAMES).map(([k, n]) => [n, k]));
  for (const [k, v] of Object.entries(sd)) {
    const ik = byName.get(k);
    if (ik !== undefined) indexer[ik] = v;
    else if (k.endsWith(".weight")) mla[k.slice(0, -".weight".length)] = v;
  }
  return { ...(mla as unknown as MlaWeights), indexer: indexer as unknown as IndexerWeights };
}

/**
 * The V3.2 vectors' recipe: Linear ~ N(0, (1/sqrt(in))^2), RMSNorm/LayerNorm weights ~ U(0.6, 1.4),
 * LayerNorm bias ~ N(0, 0.1^2). Float32 values.
 */
export function randomDsaWeights(cfg: DsaConfig, rng: Rng): DsaWeights {
  const mla = randomWeights(mlaWeightShapes(cfg), rng, ["q_norm", "kv_norm"]) as unknown as MlaWeights;
  const shapes = indexerWeightShapes(cfg);
  const { k_norm_bias: _bias, ...rest } = shapes;
  const idx = randomWeights(rest, rng, ["k_norm"]) as unknown as Omit<IndexerWeights, "k_norm_bias">;
  return { ...mla, indexer: { ...idx, k_norm_bias: rng.normalArray(cfg.index_head_dim, 0.1) } };
}
