// Second peer: onnxruntime-web's WASM CPU backend (its own SIMD MLAS GEMM), one thread, running a
// one-node ONNX graph Y = MatMul(A, B) with B = W^T as an initializer. The model bytes are written
// here (ONNX is protobuf; field numbers from onnx/onnx.proto), so no Python or converter is needed.
import * as ort from "onnxruntime-web";

// --- a minimal protobuf writer: varints, length-delimited fields ---------------------------------
export class Pb {
  private parts: Uint8Array[] = [];
  private static varint(n: number): Uint8Array {
    const out: number[] = [];
    while (n >= 0x80) {
      out.push((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    out.push(n);
    return Uint8Array.from(out);
  }
  int(field: number, v: number): this {
    this.parts.push(Pb.varint(field * 8), Pb.varint(v));
    return this;
  }
  bytes(field: number, b: Uint8Array): this {
    this.parts.push(Pb.varint(field * 8 + 2), Pb.varint(b.length), b);
    return this;
  }
  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  msg(field: number, m: Pb): this {
    return this.bytes(field, m.finish());
  }
  finish(): Uint8Array {
    const n = this.parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

export const FLOAT = 1; // TensorProto.DataType.FLOAT

/** ValueInfoProto {name 1, type 2: TypeProto {tensor_type 1: {elem_type 1, shape 2: {dim 1: {dim_value 1 | dim_param 2}}}}}. */
export function valueInfo(name: string, dims: (number | string)[]): Pb {
  const shape = new Pb();
  for (const d of dims) shape.msg(1, typeof d === "number" ? new Pb().int(1, d) : new Pb().str(2, d));
  return new Pb().str(1, name).msg(2, new Pb().msg(1, new Pb().int(1, FLOAT).msg(2, shape)));
}

/** ModelProto bytes of Y [M, N] = A [M, K] x B [K, N], B given as float32 [K, N]; M symbolic. */
export function matMulModel(K: number, N: number, b: Float32Array): Uint8Array {
  const node = new Pb().str(1, "A").str(1, "B").str(2, "Y").str(3, "mm").str(4, "MatMul");
  const init = new Pb().int(1, K).int(1, N).int(2, FLOAT).str(8, "B").bytes(9, new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
  const graph = new Pb().msg(1, node).str(2, "mlakit-bench").msg(5, init).msg(11, valueInfo("A", ["M", K])).msg(12, valueInfo("Y", ["M", N]));
  // ModelProto: ir_version 1 = 8, graph 7, opset_import 8 = {domain 1 "", version 2 = 13}.
  return new Pb().int(1, 8).str(2, "mlakit").msg(7, graph).msg(8, new Pb().str(1, "").int(2, 13)).finish();
}

export function ortInfo(): { version: string } {
  return { version: ort.env.versions.web ?? "?" };
}

/** y [M, N] = x [M, K] W^T through onnxruntime-web (wasm EP, 1 thread); W^T [K, N] is the initializer. */
export class OrtLinear {
  private feeds: Record<string, ort.Tensor> = {};
  private constructor(private readonly session: ort.InferenceSession, readonly K: number) {}

  static async create(wT: Float32Array, K: number, N: number): Promise<OrtLinear> {
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(matMulModel(K, N, wT), { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
    return new OrtLinear(session, K);
  }

  setInput(x: Float32Array, M: number): void {
    this.feeds = { A: new ort.Tensor("float32", x, [M, this.K]) };
  }

  /** One call (async: onnxruntime-web's run returns a promise even on the CPU backend). */
  async run(): Promise<Float32Array> {
    const out = await this.session.run(this.feeds);
    const y = out.Y.data as Float32Array;
    out.Y.dispose();
    return y;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
