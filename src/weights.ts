// MLA weights under the official state_dict names (without the ".weight" suffix), their shapes,
// checks, and a seeded initialiser matching the official vectors' recipe.

import type { MlaConfig } from "./config.js";
import { ConfigError, ShapeError, NonFiniteError } from "./errors.js";

/** Linear weights are [out, in] row-major (y = x W^T, no bias); norms are [n]. */
export interface MlaWeights {
  /** [H*(dn+dr), D], only when q_lora_rank == 0. */
  wq?: ArrayLike<number>;
  /** [Q, D], only when q_lora_rank > 0. */
  wq_a?: ArrayLike<number>;
  /** [Q] RMSNorm weight, only when q_lora_rank > 0. */
  q_norm?: ArrayLike<number>;
  /** [H*(dn+dr), Q], only when q_lora_rank > 0. */
  wq_b?: ArrayLike<number>;
  /** [C+dr, D]: rows 0..C-1 give c_kv, rows C.. give k_pe. */
  wkv_a: ArrayLike<number>;
  /** [C] RMSNorm weight. */
  kv_norm: ArrayLike<number>;
  /** [H*(dn+dv), C]: per head, dn rows of W_UK then dv rows of W_UV. */
  wkv_b: ArrayLike<number>;
  /** [D, H*dv]. */
  wo: ArrayLike<number>;
}

export type MlaWeightName = keyof MlaWeights;

/** Expected shape of every weight the config needs. */
export function mlaWeightShapes(cfg: MlaConfig): Partial<Record<MlaWeightName, number[]>> {
  const H = cfg.n_heads, D = cfg.dim, Q = cfg.q_lora_rank, C = cfg.kv_lora_rank;
  const qk = cfg.qk_nope_head_dim + cfg.qk_rope_head_dim;
  const shapes: Partial<Record<MlaWeightName, number[]>> = {};
  if (Q === 0) shapes.wq = [H * qk, D];
  else {
    shapes.wq_a = [Q, D];
    shapes.q_norm = [Q];
    shapes.wq_b = [H * qk, Q];
  }
  shapes.wkv_a = [C + cfg.qk_rope_head_dim, D];
  shapes.kv_norm = [C];
  shapes.wkv_b = [H * (cfg.qk_nope_head_dim + cfg.v_head_dim), C];
  shapes.wo = [D, H * cfg.v_head_dim];
  return shapes;
}

/** Throw ShapeError for a missing, superfluous or wrong-length weight; NonFiniteError for NaN/Inf. */
export function checkWeights<N extends string>(
  shapes: Partial<Record<N, number[]>>,
  weights: Partial<Record<N, ArrayLike<number>>>,
  label = "weights",
): void {
  if (typeof weights !== "object" || weights === null) throw new ShapeError(label, weights, "an object of named weight arrays");
  for (const name of Object.keys(weights) as N[]) {
    if (weights[name] !== undefined && !(name in shapes)) {
      throw new ShapeError(`${label}.${name}`, weights[name], `absent for this config (expected exactly: ${Object.keys(shapes).join(", ")})`);
    }
  }
  for (const name of Object.keys(shapes) as N[]) {
    const shape = shapes[name] as number[];
    const n = shape.reduce((a, b) => a * b, 1);
    const w = weights[name];
    if (w === undefined || w === null || typeof (w as ArrayLike<number>).length !== "number") {
      throw new ShapeError(`${label}.${name}`, w, `an array of shape [${shape.join(", ")}] (${n} numbers)`);
    }
    if (w.length !== n) throw new ShapeError(`${label}.${name}.length`, w.length, `${n} = [${shape.join(", ")}]`);
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(w[i])) throw new NonFiniteError(`${label}.${name}[${i}]`, w[i], "a finite number");
    }
  }
}

export function checkMlaWeights(cfg: MlaConfig, w: MlaWeights): void {
  checkWeights(mlaWeightShapes(cfg), w as unknown as Partial<Record<MlaWeightName, ArrayLike<number>>>);
}

/** From official state_dict names ("wq.weight", ...) to MlaWeights. */
export function mlaWeightsFromStateDict(sd: Record<string, ArrayLike<number>>): MlaWeights {
  const out: Record<string, ArrayLike<number>> = {};
  for (const [k, v] of Object.entries(sd)) {
    if (k.endsWith(".weight")) out[k.slice(0, -".weight".length)] = v;
  }
  return out as unknown as MlaWeights;
}

// ---------------------------------------------------------------------------------------------
// Seeded random numbers (deterministic across runtimes): mulberry32 + Box-Muller.

export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  normal(): number {
    let u = this.next();
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  /** Float32 array of N(0, std^2). */
  normalArray(n: number, std = 1): Float32Array {
    return this.fillNormal(new Float32Array(n), std);
  }
  /** Fill a with N(0, std^2) (as normalArray). */
  fillNormal(a: Float32Array, std = 1): Float32Array {
    for (let i = 0; i < a.length; i++) a[i] = this.normal() * std;
    return a;
  }
}

/**
 * The official vectors' recipe: Linear ~ N(0, (1/sqrt(in))^2), RMSNorm weights ~ U(0.6, 1.4).
 * Float32 so the reference and float32 backends start from identical numbers.
 */
export function randomWeights<N extends string>(shapes: Partial<Record<N, number[]>>, rng: Rng, normNames: readonly string[]): Record<N, Float32Array> {
  const out = {} as Record<N, Float32Array>;
  for (const name of Object.keys(shapes) as N[]) {
    const shape = shapes[name] as number[];
    const n = shape.reduce((a, b) => a * b, 1);
    let a: Float32Array;
    try {
      a = new Float32Array(n);
    } catch (e) {
      if (e instanceof RangeError) throw new ConfigError(`weights.${name} shape`, shape, `a weight this runtime can allocate (${n} floats failed): use a smaller config`, e.message);
      throw e;
    }
    if (normNames.includes(name)) for (let i = 0; i < n; i++) a[i] = rng.uniform(0.6, 1.4);
    else rng.fillNormal(a, 1 / Math.sqrt(shape[shape.length - 1]));
    out[name] = a;
  }
  return out;
}

export function randomMlaWeights(cfg: MlaConfig, rng: Rng): MlaWeights {
  return randomWeights(mlaWeightShapes(cfg), rng, ["q_norm", "kv_norm"]) as unknown as MlaWeights;
}
