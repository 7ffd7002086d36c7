// The shapes every figure is measured at: DeepSeek-V3 and V2-Lite MLA projections (DESIGN.md
// "The math"; official configs from src/config.ts presets), as y = x W^T with W [out, in].
import { PRESETS } from "../src/config.js";

export interface ModelShape {
  model: "V3" | "V2-Lite";
  D: number; H: number; Q: number; C: number; dr: number; dn: number; dv: number;
}

const from = (model: ModelShape["model"], p: (typeof PRESETS)[keyof typeof PRESETS]): ModelShape => ({
  model, D: p.dim, H: p.n_heads, Q: p.q_lora_rank, C: p.kv_lora_rank, dr: p.qk_rope_head_dim, dn: p.qk_nope_head_dim, dv: p.v_head_dim,
});
export const V3 = from("V3", PRESETS["deepseek-v3"]);
export const V2_LITE = from("V2-Lite", PRESETS["deepseek-v2-lite"]);

export interface LinearShape {
  model: string;
  /** Official weight name. */
  name: string;
  /** out features */
  N: number;
  /** in features */
  K: number;
}

/** The projection weights of one MLA layer. wkv_b is the naive path's decompression. */
export function projections(m: ModelShape): LinearShape[] {
  const qk = m.dn + m.dr;
  const L = (name: string, N: number, K: number): LinearShape => ({ model: m.model, name, N, K });
  return [
    ...(m.Q > 0 ? [L("wq_a", m.Q, m.D), L("wq_b", m.H * qk, m.Q)] : [L("wq", m.H * qk, m.D)]),
    L("wkv_a", m.C + m.dr, m.D),
    L("wkv_b", m.H * (m.dn + m.dv), m.C),
    L("wo", m.D, m.H * m.dv),
  ];
}

/** Cached lengths S of the decode steps. */
export const DECODE_S = [1024, 4096, 16384];
