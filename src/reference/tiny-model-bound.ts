// How far a backend that computes in float32, and rounds at known points, may be from the oracle.
//
// tinyModelBound evaluates the tiny DeepSeek2 model (tiny-model.ts) the way llama.cpp's CPU
// backend does for deepseek2 (absorbed MLA: q_nope x attn_k_b, a cache of the normed latent and
// k_pe, V the latent, attn_v_b after attention) on a tape, and bounds each output log-probability's
// error as the first-order worst case over every rounding the backend makes:
//
//     |d log p_i|  <=  sum over rounding points z, elements k:  |d log p_i / d z_k| * r_k  (+ O(u^2))
//
// with r_k the largest rounding error at z_k and the derivatives the model's own (reverse mode,
// one pass per output). Propagating |error| bounds forward instead compounds |W| at every matmul
// and is too loose by orders of magnitude within one layer; the exact sensitivities do not. The
// backend's weights are the GGUF's, read by both sides exactly, so only arithmetic differs.
// The rounding points:
//   - every operation's float32 result (u32 = 2^-24) and float32 dot products (gamma_n u32 sum |a b|);
//   - a matmul's activation, rounded to what the weight type multiplies with (ggml's vec_dot
//     type: f32 for F32, f16 for F16, bf16 for BF16, Q8_0 blocks of 32 for Q8_0);
//   - with an f16 cache: the cached latent and k_pe, and the query that meets them;
//   - without flash attention, f16 cache: the probabilities, rounded to f16 before they weight V;
//   - with flash attention, f16 cache: the output accumulated in f16 (ggml's CPU kernel keeps VKQ
//     in f16 when V is f16: every add and rescale rounds it, 2(t+1) roundings of the running sum);
//   - RoPE's angles, which ggml builds from powf and repeated float32 products.
// `emulate` applies those roundings to the values themselves: an emulated backend the tests hold
// against the float64 oracle, to check the bound covers what it claims.

import { mlaSoftmaxScale, ropeFrequencies, RMSNORM_EPS, yarnMscaleFactor } from "../derived.js";
import { ConfigError, ShapeError } from "../errors.js";
import { bf16FromF32Bits, bitsF32, f16FromF32Bits, f32Bits, f32BitsFromBf16, f32BitsFromF16 } from "../cache/scalar.js";
import { decodeGgmlTensor, encodeGgmlTensor } from "../io/gguf.js";
import { splitWkvB } from "../wkv-b.js";
import { type TinyModelConfig, type TinyModelWeights, checkTinyModel } from "./tiny-model.js";

/** Where a backend rounds (see the file's comment). */
export interface BackendNumerics {
  /** What a matmul's activation is rounded to before the product. */
  activations: "f32" | "f16" | "bf16" | "q8_0";
  /** The cache's element type (f16 also rounds the query that is dotted with it). */
  kv: "f32" | "f16";
  /** Attention probabilities rounded to f16 before they weight V. */
  probs: "f32" | "f16";
  /** The attention output's accumulator. */
  accumulate: "f32" | "f16";
}

export type LlamaCppWeightType = "F32" | "F16" | "BF16" | "Q8_0";

/**
 * The numerics of llama.cpp's CPU backend for a weight type, cache type and flash-attention setting.
 * With flash attention the cache is f16 whatever was asked: llama-graph.cpp casts an f32 K and V to
 * f16 before ggml_flash_attn_ext (`asRequested` gives the numerics the cache type alone implies).
 */
export function llamaCppNumerics(weights: LlamaCppWeightType, kv: "f32" | "f16", flashAttention: boolean, asRequested = false): BackendNumerics {
  const table = { F32: "f32", F16: "f16", BF16: "bf16", Q8_0: "q8_0" } as const;
  if (!Object.hasOwn(table, weights)) throw new ConfigError("weights", weights, "F32, F16, BF16 or Q8_0");
  if (kv !== "f32" && kv !== "f16") throw new ConfigError("kv", kv, "f32 or f16");
  const k = flashAttention && !asRequested ? "f16" : kv;
  return { activations: table[weights], kv: k, probs: k === "f16" && !flashAttention ? "f16" : "f32", accumulate: k === "f16" && flashAttention ? "f16" : "f32" };
}

const U32 = 2 ** -24, U16 = 2 ** -11, UBF16 = 2 ** -8;
const F16_SUB = 2 ** -25, F32_SUB = 2 ** -150; // half the spacing of the subnormals: the absolute rounding floor
/** Higham's gamma_n = n u / (1 - n u); past n u >= 1 the analysis gives no bound (f16 sums of 1024+ terms). */
const gamma = (n: number, u: number) => (n * u < 1 ? (n * u) / (1 - n * u) : Infinity);

const f16 = (x: number) => bitsF32(f32BitsFromF16(f16FromF32Bits(f32Bits(x))));
const bf16 = (x: number) => bitsF32(f32BitsFromBf16(bf16FromF32Bits(f32Bits(x))));
/** Emulated float32 sum-of-products step: the product and the sum each rounded. */
const fmaF32 = (acc: number, a: number, b: number) => Math.fround(acc + Math.fround(a * b));

/** A value on the tape: its elements, their gradient in the current reverse pass, and the rounding bound of each element. */
interface Node {
  v: Float64Array;
  g: Float64Array;
  r: Float64Array;
  back?: () => void;
}

class Tape {
  readonly nodes: Node[] = [];
  constructor(readonly emulate: boolean) {}

  /** A node whose values are stored in float32 (emulate: rounded), with `extra` rounding on top of the store's. */
  push(v: Float64Array, extra: ArrayLike<number> | null, back?: () => void): Node {
    const r = new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) r[i] = (extra ? extra[i] : 0) + U32 * Math.abs(v[i]) + F32_SUB;
    if (this.emulate) for (let i = 0; i < v.length; i++) v[i] = Math.fround(v[i]);
    const n: Node = { v, g: new Float64Array(v.length), r, back };
    this.nodes.push(n);
    return n;
  }

  leaf(v: Float64Array): Node {
    const n: Node = { v, g: new Float64Array(v.length), r: new Float64Array(v.length) };
    this.nodes.push(n);
    return n;
  }

  /** x[off .. off+n) rounded to `fmt` (the identity in the oracle; its rounding bound in r). */
  round(x: Node, off: number, n: number, fmt: BackendNumerics["activations"], field: string): Node {
    const v = x.v.slice(off, off + n), r = new Float64Array(n);
    if (fmt === "q8_0") {
      if (n % 32 !== 0) throw new ShapeError(field, n, "a multiple of 32 (Q8_0 blocks)");
      for (let b = 0; b < n; b += 32) {
        let amax = 0;
        for (let i = b; i < b + 32; i++) amax = Math.max(amax, Math.abs(v[i]));
        // ggml: d = amax/127, q = round(x/d), d stored in f16: |x - q fp16(d)| <= d/2 + 127 |fp16(d) - d|,
        // plus the float32 roundings of d, 1/d and x/d.
        const d = amax / 127;
        for (let i = b; i < b + 32; i++) r[i] = d * (0.5 + 127 * U16) + 127 * F16_SUB + 4 * U32 * Math.abs(v[i]);
      }
      // The GGUF writer's quantize_row_q8_0 (ggml's SIMD variant breaks ties to even instead: the same bound).
      if (this.emulate) v.set(decodeGgmlTensor("Q8_0", encodeGgmlTensor("Q8_0", v, field), n));
    } else if (fmt !== "f32") {
      const u = fmt === "f16" ? U16 : UBF16, floor = fmt === "f16" ? F16_SUB : 0, rnd = fmt === "f16" ? f16 : bf16;
      for (let i = 0; i < n; i++) {
        r[i] = u * Math.abs(v[i]) + floor;
        if (this.emulate) v[i] = rnd(v[i]);
      }
    }
    const node: Node = { v, g: new Float64Array(n), r, back: () => { for (let i = 0; i < n; i++) x.g[off + i] += node.g[i]; } };
    this.nodes.push(node);
    return node;
  }

  /** y [N] = W[wOff ..] [N, K] . x[xOff .. xOff+K), float32 accumulation; the activation rounded to `fmt` first. */
  matmul(W: ArrayLike<number>, wOff: number, N: number, K: number, x: Node, xOff: number, fmt: BackendNumerics["activations"], field: string): Node {
    const xr = this.round(x, xOff, K, fmt, field), xv = xr.v;
    const v = new Float64Array(N), extra = new Float64Array(N), g = gamma(K + 2, U32);
    for (let n = 0; n < N; n++) {
      let acc = 0, mag = 0;
      for (let k = 0; k < K; k++) {
        const w = W[wOff + n * K + k];
        acc = this.emulate ? fmaF32(acc, w, xv[k]) : acc + w * xv[k];
        mag += Math.abs(w * xv[k]);
      }
      v[n] = acc;
      extra[n] = g * mag;
    }
    const y = this.push(v, extra, () => {
      for (let n = 0; n < N; n++) {
        const gn = y.g[n];
        if (gn === 0) continue;
        for (let k = 0; k < K; k++) xr.g[k] += W[wOff + n * K + k] * gn;
      }
    });
    return y;
  }

  /** RMSNorm of x[off .. off+n) times gam (ggml: the sum of squares in double, a few float32 roundings per element). */
  rmsNorm(x: Node, off: number, n: number, gam: ArrayLike<number>): Node {
    let ss = 0;
    for (let i = 0; i < n; i++) ss += x.v[off + i] ** 2;
    const inv = 1 / Math.sqrt(ss / n + RMSNORM_EPS);
    const v = new Float64Array(n), extra = new Float64Array(n);
    for (let i = 0; i < n; i++) (v[i] = x.v[off + i] * inv * gam[i]), (extra[i] = 6 * U32 * Math.abs(v[i]));
    const y = this.push(v, extra, () => {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += y.g[i] * gam[i] * x.v[off + i];
      for (let i = 0; i < n; i++) x.g[off + i] += inv * gam[i] * y.g[i] - x.v[off + i] * inv ** 3 * (dot / n);
    });
    return y;
  }

  /** RoPE of x[off .. off+dr) (interleaved pairs) at `pos`; ggml's float32 angle and cos/sin errors bounded. */
  rope(x: Node, off: number, dr: number, pos: number, freqs: Float64Array, theta: number): Node {
    const half = dr / 2, c = new Float64Array(half), s = new Float64Array(half);
    const v = new Float64Array(dr), extra = new Float64Array(dr);
    for (let i = 0; i < half; i++) {
      const angle = pos * freqs[i];
      c[i] = Math.cos(angle);
      s[i] = Math.sin(angle);
      // ggml: theta_scale = powf(base, -2/dr), angle_i = pos * theta_scale^i by repeated products (YaRN mixes two
      // such angles): each product and powf's ulp add a few u32 relative, the exponent's rounding ln(base) times its own.
      const dAngle = Math.abs(angle) * ((i + 1) * (4 + Math.log(theta) * (2 / dr)) + 6) * U32;
      const dTrig = dAngle + 3 * U32; // + cosf/sinf and the YaRN mscale product on them
      const a = x.v[off + 2 * i], b = x.v[off + 2 * i + 1], mag = Math.abs(a) + Math.abs(b);
      v[2 * i] = a * c[i] - b * s[i];
      v[2 * i + 1] = a * s[i] + b * c[i];
      extra[2 * i] = extra[2 * i + 1] = dTrig * mag + U32 * mag;
    }
    const y = this.push(v, extra, () => {
      for (let i = 0; i < half; i++) {
        const ga = y.g[2 * i], gb = y.g[2 * i + 1];
        x.g[off + 2 * i] += ga * c[i] + gb * s[i];
        x.g[off + 2 * i + 1] += -ga * s[i] + gb * c[i];
      }
    });
    return y;
  }

  concat(parts: Node[]): Node {
    const n = parts.reduce((a, p) => a + p.v.length, 0), v = new Float64Array(n);
    let at = 0;
    for (const p of parts) v.set(p.v, at), (at += p.v.length);
    const node: Node = {
      v,
      g: new Float64Array(n),
      r: new Float64Array(n),
      back: () => {
        let o = 0;
        for (const p of parts) for (let i = 0; i < p.v.length; i++) p.g[i] += node.g[o++];
      },
    };
    this.nodes.push(node);
    return node;
  }

  add(a: Node, b: Node): Node {
    const v = a.v.map((x, i) => x + b.v[i]);
    const y = this.push(v, null, () => { for (let i = 0; i < v.length; i++) (a.g[i] += y.g[i]), (b.g[i] += y.g[i]); });
    return y;
  }

  /** s_j = scale (q . k_j), float32 dot products; scaleRel: the scale's own float32 error. */
  scores(q: Node, cached: readonly Node[], scale: number, scaleRel: number): Node {
    const keys = cached.slice(), L = q.v.length, v = new Float64Array(keys.length), extra = new Float64Array(keys.length), g = gamma(L + 1, U32);
    keys.forEach((k, j) => {
      let acc = 0, mag = 0;
      for (let i = 0; i < L; i++) (acc = this.emulate ? fmaF32(acc, q.v[i], k.v[i]) : acc + q.v[i] * k.v[i]), (mag += Math.abs(q.v[i] * k.v[i]));
      v[j] = this.emulate ? Math.fround(acc * Math.fround(scale)) : acc * scale;
      extra[j] = scale * mag * (g + scaleRel);
    });
    const y = this.push(v, extra, () => {
      keys.forEach((k, j) => {
        const gj = y.g[j] * scale;
        if (gj === 0) return;
        for (let i = 0; i < L; i++) (q.g[i] += gj * k.v[i]), (k.g[i] += gj * q.v[i]);
      });
    });
    return y;
  }

  softmax(s: Node): Node {
    const n = s.v.length;
    let mx = -Infinity, sum = 0;
    for (const x of s.v) mx = Math.max(mx, x);
    const v = s.v.map((x) => Math.exp(x - mx));
    for (const x of v) sum += x;
    const extra = new Float64Array(n), rel = (n + 8) * U32; // expf (a few ulp), the float32 sum, the division
    for (let j = 0; j < n; j++) (v[j] /= sum), (extra[j] = rel * v[j]);
    const y = this.push(v, extra, () => {
      let dot = 0;
      for (let j = 0; j < n; j++) dot += y.g[j] * y.v[j];
      for (let j = 0; j < n; j++) s.g[j] += y.v[j] * (y.g[j] - dot);
    });
    return y;
  }

  /** o [C] = sum_j p_j k_j[0 .. C): the attention's value sum over the cached latents, accumulated in `acc`. */
  weightedSum(p: Node, cached: readonly Node[], C: number, acc: BackendNumerics["accumulate"]): Node {
    const keys = cached.slice(), T = keys.length, v = new Float64Array(C), extra = new Float64Array(C);
    const rel = acc === "f16" ? gamma(2 * T + 1, U16) : gamma(T + 2, U32), abs = acc === "f16" ? 2 * T * F16_SUB : 0;
    for (let c = 0; c < C; c++) {
      let sum = 0, mag = 0;
      for (let j = 0; j < T; j++) {
        sum = this.emulate ? fmaF32(sum, p.v[j], keys[j].v[c]) : sum + p.v[j] * keys[j].v[c];
        if (this.emulate && acc === "f16") sum = f16(sum);
        mag += Math.abs(p.v[j] * keys[j].v[c]);
      }
      v[c] = sum;
      extra[c] = rel * mag + abs;
    }
    const y = this.push(v, extra, () => {
      for (let j = 0; j < T; j++) {
        const k = keys[j];
        let gp = 0;
        for (let c = 0; c < C; c++) (gp += y.g[c] * k.v[c]), (k.g[c] += p.v[j] * y.g[c]);
        p.g[j] += gp;
      }
    });
    return y;
  }

  /** silu(a) * b (DeepSeek's MLP), silu in float32 to a few ulp. */
  swiglu(a: Node, b: Node): Node {
    const n = a.v.length, v = new Float64Array(n), extra = new Float64Array(n), sig = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      sig[i] = 1 / (1 + Math.exp(-a.v[i]));
      const silu = a.v[i] * sig[i];
      v[i] = silu * b.v[i];
      extra[i] = 6 * U32 * Math.abs(v[i]);
    }
    const y = this.push(v, extra, () => {
      for (let i = 0; i < n; i++) {
        const dsilu = sig[i] * (1 + a.v[i] * (1 - sig[i]));
        a.g[i] += y.g[i] * b.v[i] * dsilu;
        b.g[i] += y.g[i] * a.v[i] * sig[i];
      }
    });
    return y;
  }

  /** Seed node.g, run the reverse pass over nodes [0 .. end], return sum over nodes of |g| . r. */
  sensitivity(out: Node, seed: ArrayLike<number>, end: number): number {
    for (let i = 0; i <= end; i++) this.nodes[i].g.fill(0);
    for (let i = 0; i < seed.length; i++) out.g[i] = seed[i];
    let bound = 0;
    for (let i = end; i >= 0; i--) {
      const n = this.nodes[i];
      let any = false;
      for (let k = 0; k < n.g.length; k++) if (n.g[k] !== 0) ((any = true), (bound += Math.abs(n.g[k]) * n.r[k]));
      if (any && n.back) n.back();
    }
    return bound;
  }
}

export interface TinyModelBoundResult {
  /** [tokens.length, vocab]: the oracle's logits (emulate: the emulated backend's). */
  logits: Float64Array;
  /** [tokens.length, vocab]: the log-probabilities of those logits. */
  logp: Float64Array;
  /** [tokens.length, vocab]: first-order bound on |backend log p - oracle log p| (see the file's comment). */
  bound: Float64Array;
}

export interface TinyModelBoundOptions {
  /** Apply the roundings to the values: an emulated backend (default false: the oracle). */
  emulate?: boolean;
  /** The backend computes the softmax to probabilities itself in float32 (node-llama-cpp does): add its roundings. Default true. */
  float32Softmax?: boolean;
  /** Positions whose outputs are bounded (default all): the reverse passes cost a forward each per vocabulary entry. */
  positions?: readonly number[];
}

/**
 * The model over `tokens` at positions 0.., each output log-probability with the bound on a backend
 * of `numerics` beside it.
 */
export function tinyModelBound(cfg: TinyModelConfig, w: TinyModelWeights, tokens: readonly number[], numerics: BackendNumerics, opts: TinyModelBoundOptions = {}): TinyModelBoundResult {
  checkTinyModel(cfg, w);
  const act = numerics.activations, tape = new Tape(opts.emulate ?? false);
  const m = cfg.mla, D = m.dim, H = m.n_heads, C = m.kv_lora_rank, dn = m.qk_nope_head_dim, dr = m.qk_rope_head_dim, dv = m.v_head_dim, V = cfg.vocab;
  if (m.rope_layout !== "interleaved") throw new ConfigError("mla.rope_layout", m.rope_layout, '"interleaved" (the GGUF layout llama.cpp rotates)');
  const freqs = ropeFrequencies(m), scale = mlaSoftmaxScale(m);
  // llama.cpp's kq_scale = mscale^2 / sqrtf(dn + dr) in float32: sqrtf, the division and the product with the score
  // (3 u32); with YaRN, mscale = 1 + 0.1 m logf(factor) adds logf, two products and the add (4 u32), twice when squared.
  const scaleRel = (yarnMscaleFactor(m) === 1 ? 3 : 10) * U32;
  // attn_k_b [H, C, dn] per layer, as llama.cpp multiplies q_nope with it.
  const kb = w.layers.map((l) => splitWkvB(l.mla.wkv_b, H, C, dn, dv).kb);
  const S = tokens.length;
  const cache: Node[][] = w.layers.map(() => []);
  const outs: { node: Node; end: number }[] = [];
  for (let t = 0; t < S; t++) {
    const tok = tokens[t];
    if (!Number.isInteger(tok) || tok < 0 || tok >= V) throw new ShapeError(`tokens[${t}]`, tok, `a token id in 0..${V - 1}`);
    let h = tape.leaf(Float64Array.from(w.token_embd.subarray(tok * D, (tok + 1) * D))); // get_rows dequantises exactly
    w.layers.forEach((lw, l) => {
      const mw = lw.mla;
      const x = tape.rmsNorm(h, 0, D, lw.attn_norm);
      const q = m.q_lora_rank > 0
        ? tape.matmul(mw.wq_b!, 0, H * (dn + dr), m.q_lora_rank, tape.rmsNorm(tape.matmul(mw.wq_a!, 0, m.q_lora_rank, D, x, 0, act, "wq_a"), 0, m.q_lora_rank, mw.q_norm!), 0, act, "wq_b")
        : tape.matmul(mw.wq!, 0, H * (dn + dr), D, x, 0, act, "wq");
      // kv_a [C + dr]: the latent normed, k_pe rotated; both cached (f16: rounded as stored).
      const kva = tape.matmul(mw.wkv_a, 0, C + dr, D, x, 0, act, "wkv_a");
      const entry = tape.concat([tape.rmsNorm(kva, 0, C, mw.kv_norm), tape.rope(kva, C, dr, t, freqs, m.rope_theta)]);
      cache[l].push(numerics.kv === "f16" ? tape.round(entry, 0, C + dr, "f16", "cache") : entry);
      const heads: Node[] = [];
      for (let hd = 0; hd < H; hd++) {
        const qlat = tape.matmul(kb[l], hd * C * dn, C, dn, q, hd * (dn + dr), act, "attn_k_b"); // [C]
        const qcat = tape.concat([qlat, tape.rope(q, hd * (dn + dr) + dn, dr, t, freqs, m.rope_theta)]);
        const qk = numerics.kv === "f16" ? tape.round(qcat, 0, C + dr, "f16", "query") : qcat;
        let p = tape.softmax(tape.scores(qk, cache[l], scale, scaleRel));
        if (numerics.probs === "f16") p = tape.round(p, 0, p.v.length, "f16", "probs");
        const olat = tape.weightedSum(p, cache[l], C, numerics.accumulate);
        heads.push(tape.matmul(mw.wkv_b, (hd * (dn + dv) + dn) * C, dv, C, olat, 0, act, "attn_v_b")); // attn_v_b[h] [dv, C]
      }
      h = tape.add(h, tape.matmul(mw.wo, 0, D, H * dv, tape.concat(heads), 0, act, "wo"));
      const xf = tape.rmsNorm(h, 0, D, lw.ffn_norm);
      const ffn = tape.swiglu(tape.matmul(lw.ffn_gate, 0, cfg.ffn, D, xf, 0, act, "ffn_gate"), tape.matmul(lw.ffn_up, 0, cfg.ffn, D, xf, 0, act, "ffn_up"));
      h = tape.add(h, tape.matmul(lw.ffn_down, 0, D, cfg.ffn, ffn, 0, act, "ffn_down"));
    });
    const out = tape.matmul(w.output, 0, V, D, tape.rmsNorm(h, 0, D, w.output_norm), 0, act, "output");
    outs.push({ node: out, end: tape.nodes.length - 1 });
  }
  const logits = new Float64Array(S * V), logp = new Float64Array(S * V), bound = new Float64Array(S * V).fill(NaN);
  // A float32 softmax: expf of the rounded z_i - max (u32 |z_i - max| absolute in log p), a few ulp of expf,
  // the float32 sum of V terms and the division (relative, so absolute in log p).
  const f32Softmax = opts.float32Softmax ?? true;
  const positions = opts.positions ?? Array.from({ length: S }, (_, t) => t);
  const maxAt = new Float64Array(S);
  outs.forEach(({ node }, t) => {
    let mx = -Infinity, se = 0;
    for (const z of node.v) mx = Math.max(mx, z);
    for (const z of node.v) se += Math.exp(z - mx);
    for (let i = 0; i < V; i++) (logits[t * V + i] = node.v[i]), (logp[t * V + i] = node.v[i] - mx - Math.log(se));
    maxAt[t] = mx;
  });
  for (const t of positions) {
    if (!Number.isInteger(t) || t < 0 || t >= S) throw new ShapeError("positions", t, `positions in 0..${S - 1}`);
    const { node, end } = outs[t];
    const p = Array.from({ length: V }, (_, i) => Math.exp(logp[t * V + i]));
    // d log p_i / d z = e_i - p.
    const seed = new Float64Array(V);
    for (let i = 0; i < V; i++) {
      for (let k = 0; k < V; k++) seed[k] = (k === i ? 1 : 0) - p[k];
      bound[t * V + i] = tape.sensitivity(node, seed, end) + (f32Softmax ? (V + 8) * U32 + U32 * Math.abs(logits[t * V + i] - maxAt[t]) : 0);
    }
  }
  return { logits, logp, bound };
}
