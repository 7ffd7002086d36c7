// The peer a transformers.js user runs: onnxruntime-web executing one MLA layer's decode step as
// an exported DeepSeek model does it. The exporters (Optimum, transformers.js) trace the naive
// path: decompress the token's latent to per-head k and v, append them to a per-head K/V cache
// held as past/present tensors, attend, project. The graph is written here as ONNX (opset 13):
//
//   x [1, D], past_k [H, S, dn+dr], past_v [H, S, dv], cos/sin [1, dr/2]  (the position's angles)
//   q      = x Wq^T (or RMSNorm(x Wq_a^T) Wq_b^T)         -> [H, 1, dn+dr] = q_nope | q_pe
//   kv     = x Wkv_a^T                                    -> latent [1, C] | k_pe [1, dr]
//   k_nope, v = RMSNorm(latent) Wkv_b^T                    -> [H, 1, dn], [H, 1, dv]
//   k      = k_nope | rope(k_pe) (broadcast to every head); q = q_nope | rope(q_pe)
//   present_k = past_k ++ k, present_v = past_v ++ v      (axis 1: the cache grows by one row)
//   y      = (softmax(scale q present_k^T) present_v) Wo^T -> [1, D]
//
// RoPE is the official interleaved pairs; cos/sin are inputs, so the graph holds no position.
import * as ort from "onnxruntime-web";
import type { MlaConfig } from "../../src/config.js";
import type { MlaWeights } from "../../src/weights.js";
import { RMSNORM_EPS, callRopeTable, mlaSoftmaxScale, ropeFrequencies } from "../../src/derived.js";
import { FLOAT, Pb, valueInfo } from "./ort.js";

const INT64 = 7; // TensorProto.DataType.INT64
const ATTR_INT = 2, ATTR_INTS = 7; // AttributeProto.AttributeType

/** Builds a GraphProto node by node; names are generated, initializers collected. */
class Graph {
  private readonly g = new Pb();
  private n = 0;

  /** One node; its outputs get generated names unless `names` gives them. Attributes: ints and int lists (>= 0). */
  node(op: string, inputs: string[], attrs: Record<string, number | number[]> = {}, outputs = 1, names?: string[]): string[] {
    const outs = names ?? Array.from({ length: outputs }, () => `t${this.n++}`);
    const node = new Pb();
    for (const i of inputs) node.str(1, i);
    for (const o of outs) node.str(2, o);
    node.str(3, `n${this.n++}`).str(4, op);
    for (const [name, v] of Object.entries(attrs)) {
      const a = new Pb().str(1, name);
      for (const x of Array.isArray(v) ? v : [v]) if (!Number.isInteger(x) || x < 0) throw new Error(`${op}.${name}: ${x} (the writer's varints take integers >= 0)`);
      if (Array.isArray(v)) {
        for (const x of v) a.int(8, x);
        a.int(20, ATTR_INTS);
      } else a.int(3, v).int(20, ATTR_INT);
      node.msg(5, a);
    }
    this.g.msg(1, node);
    return outs;
  }
  one(op: string, inputs: string[], attrs: Record<string, number | number[]> = {}): string {
    return this.node(op, inputs, attrs)[0];
  }

  floats(data: Float32Array, dims: number[]): string {
    const name = `w${this.n++}`;
    const t = new Pb();
    for (const d of dims) t.int(1, d);
    t.int(2, FLOAT).str(8, name).bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    this.g.msg(5, t);
    return name;
  }
  ints(values: number[]): string {
    const name = `i${this.n++}`, raw = new DataView(new ArrayBuffer(8 * values.length));
    values.forEach((v, i) => raw.setBigInt64(8 * i, BigInt(v), true));
    this.g.msg(5, new Pb().int(1, values.length).int(2, INT64).str(8, name).bytes(9, new Uint8Array(raw.buffer)));
    return name;
  }
  scalar(v: number): string {
    return this.floats(Float32Array.of(v), []);
  }

  finish(inputs: Pb[], outputs: Pb[]): Uint8Array {
    this.g.str(2, "mlakit-naive-mla-step");
    for (const i of inputs) this.g.msg(11, i);
    for (const o of outputs) this.g.msg(12, o);
    // ModelProto: ir_version 8, graph 7, opset_import {domain "", version 13}.
    return new Pb().int(1, 8).str(2, "mlakit").msg(7, this.g).msg(8, new Pb().str(1, "").int(2, 13)).finish();
  }
}

/** W [N, K] (PyTorch Linear) -> W^T [K, N], the MatMul initializer. */
function transposed(w: ArrayLike<number>, N: number, K: number): Float32Array {
  const t = new Float32Array(K * N);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) t[k * N + n] = w[n * K + k];
  return t;
}

/** The ONNX bytes of one naive decode step of an MLA layer (see the file's comment). */
export function naiveMlaStepModel(cfg: MlaConfig, w: MlaWeights): Uint8Array {
  if (cfg.rope_layout !== "interleaved") throw new Error(`naiveMlaStepModel: rope_layout ${cfg.rope_layout}: the graph rotates interleaved pairs`);
  const { dim: D, n_heads: H, q_lora_rank: Q, kv_lora_rank: C, qk_nope_head_dim: dn, qk_rope_head_dim: dr, v_head_dim: dv } = cfg;
  const qk = dn + dr, half = dr / 2;
  const g = new Graph();
  const matmul = (x: string, W: ArrayLike<number>, N: number, K: number) => g.one("MatMul", [x, g.floats(transposed(W, N, K), [K, N])]);
  const eps = g.scalar(RMSNORM_EPS);
  const rms = (x: string, gamma: ArrayLike<number>) => {
    const ms = g.one("ReduceMean", [g.one("Mul", [x, x])], { axes: [1], keepdims: 1 }); // x [1, n]
    return g.one("Mul", [g.one("Div", [x, g.one("Sqrt", [g.one("Add", [ms, eps])])]), g.floats(Float32Array.from(gamma), [gamma.length])]);
  };
  const split = (x: string, axis: number, sizes: number[]) => g.node("Split", [x, g.ints(sizes)], { axis }, sizes.length);
  const reshape = (x: string, shape: number[]) => g.one("Reshape", [x, g.ints(shape)]);
  const cos = reshape("cos", [half, 1]), sin = reshape("sin", [half, 1]);
  // rope over the last axis of t [..., dr] (pairs 2i, 2i+1), shaped `shape` = t's shape.
  const rope = (t: string, shape: number[]) => {
    const [a, b] = split(reshape(t, [...shape.slice(0, -1), half, 2]), shape.length, [1, 1]);
    const ra = g.one("Sub", [g.one("Mul", [a, cos]), g.one("Mul", [b, sin])]);
    const rb = g.one("Add", [g.one("Mul", [a, sin]), g.one("Mul", [b, cos])]);
    return reshape(g.one("Concat", [ra, rb], { axis: shape.length }), shape);
  };

  const qFlat = Q > 0 ? matmul(rms(matmul("x", w.wq_a!, Q, D), w.q_norm!), w.wq_b!, H * qk, Q) : matmul("x", w.wq!, H * qk, D);
  const [qNope, qPe] = split(reshape(qFlat, [H, 1, qk]), 2, [dn, dr]);
  const [latent, kPe] = split(matmul("x", w.wkv_a, C + dr, D), 1, [C, dr]);
  const [kNope, v] = split(reshape(matmul(rms(latent, w.kv_norm), w.wkv_b, H * (dn + dv), C), [H, 1, dn + dv]), 2, [dn, dv]);
  const kPeHeads = g.one("Expand", [reshape(rope(kPe, [1, dr]), [1, 1, dr]), g.ints([H, 1, dr])]);
  const k = g.one("Concat", [kNope, kPeHeads], { axis: 2 });
  const q = g.one("Concat", [qNope, rope(qPe, [H, 1, dr])], { axis: 2 });
  const presentK = g.one("Concat", ["past_k", k], { axis: 1 }), presentV = g.one("Concat", ["past_v", v], { axis: 1 });
  const scores = g.one("Mul", [g.one("MatMul", [q, g.one("Transpose", [presentK], { perm: [0, 2, 1] })]), g.scalar(mlaSoftmaxScale(cfg))]);
  const o = reshape(g.one("MatMul", [g.one("Softmax", [scores], { axis: 2 }), presentV]), [1, H * dv]);
  const y = matmul(o, w.wo, D, H * dv);
  g.node("Identity", [y], {}, 1, ["y"]);
  g.node("Identity", [presentK], {}, 1, ["present_k"]);
  g.node("Identity", [presentV], {}, 1, ["present_v"]);
  return g.finish(
    [valueInfo("x", [1, D]), valueInfo("past_k", [H, "S", qk]), valueInfo("past_v", [H, "S", dv]), valueInfo("cos", [1, half]), valueInfo("sin", [1, half])],
    [valueInfo("y", [1, D]), valueInfo("present_k", [H, "S1", qk]), valueInfo("present_v", [H, "S1", dv])],
  );
}

const OUTPUT_NAMES = ["y", "present_k", "present_v"] as const;

/** One naive decode step at a time through onnxruntime-web (wasm EP, 1 thread), the cache as past/present tensors. */
export class OrtNaiveMlaStep {
  private readonly freqs: Float64Array;
  /** The last position's angles: a timed loop repeats one position, so it pays for them once. */
  private angles: { S: number; cos: Float32Array; sin: Float32Array } | null = null;
  private constructor(private readonly session: ort.InferenceSession, readonly cfg: MlaConfig) {
    this.freqs = ropeFrequencies(cfg);
  }

  static async create(cfg: MlaConfig, w: MlaWeights): Promise<OrtNaiveMlaStep> {
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(naiveMlaStepModel(cfg, w), { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
    return new OrtNaiveMlaStep(session, cfg);
  }

  /** y [D] and the grown cache, for token x at position S (its rope angles fed as cos/sin); past [H, S, *] row-major. */
  async step(x: Float32Array, pastK: Float32Array, pastV: Float32Array, S: number): Promise<Record<(typeof OUTPUT_NAMES)[number], Float32Array>> {
    const { n_heads: H, qk_nope_head_dim: dn, qk_rope_head_dim: dr, v_head_dim: dv, dim: D } = this.cfg;
    if (this.angles?.S !== S) {
      const t = callRopeTable(this.cfg, this.freqs, S, 1);
      this.angles = { S, cos: Float32Array.from(t.cos), sin: Float32Array.from(t.sin) };
    }
    const { cos, sin } = this.angles;
    const feeds = {
      x: new ort.Tensor("float32", x, [1, D]),
      past_k: new ort.Tensor("float32", pastK, [H, S, dn + dr]),
      past_v: new ort.Tensor("float32", pastV, [H, S, dv]),
      cos: new ort.Tensor("float32", cos, [1, dr / 2]),
      sin: new ort.Tensor("float32", sin, [1, dr / 2]),
    };
    const r = await this.session.run(feeds);
    const out = {} as Record<(typeof OUTPUT_NAMES)[number], Float32Array>;
    for (const n of OUTPUT_NAMES) {
      out[n] = r[n].data as Float32Array;
      r[n].dispose();
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
