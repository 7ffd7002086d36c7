// The peer: @tensorflow/tfjs-backend-wasm matMul, i.e. XNNPACK's f32 GEMM compiled to WASM SIMD,
// single thread. Only matMul WITHOUT transposes reaches XNNPACK (TOOLCHAIN.md): a transposed B
// falls back to a scalar loop ~8x slower. So B is handed over already transposed: W^T [K, N].
import * as tf from "@tensorflow/tfjs-core";
import * as tfwasm from "@tensorflow/tfjs-backend-wasm";

let ready: Promise<void> | undefined;
export function tfjsReady(): Promise<void> {
  ready ??= (async () => {
    tfwasm.setThreadsCount(1);
    if (!(await tf.setBackend("wasm"))) throw new Error("tfjs wasm backend did not initialise");
    await tf.ready();
  })();
  return ready;
}

export function tfjsInfo(): { backend: string; simd: boolean; threads: boolean; version: string } {
  return {
    backend: tf.getBackend(),
    simd: tf.env().getBool("WASM_HAS_SIMD_SUPPORT") as boolean,
    threads: tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT") as boolean,
    version: tf.version_core,
  };
}

/** y [M, N] = x [M, K] W^T, with W [N, K] given row-major as the model stores it. */
export class TfjsLinear {
  private readonly wT: tf.Tensor2D;
  private x: tf.Tensor2D | undefined;

  /** wT = W^T [K, N], transposed once at load by the caller (not timed; `transpose` below). */
  constructor(wT: Float32Array, readonly N: number, readonly K: number) {
    this.wT = tf.tensor2d(wT, [K, N]);
  }

  /** The input rows of the next calls. */
  setInput(x: Float32Array, M: number): void {
    this.x?.dispose();
    this.x = tf.tensor2d(x, [M, this.K]);
  }

  /** One timed call: the wasm backend computes synchronously inside matMul. */
  run(): void {
    tf.matMul(this.x!, this.wT).dispose();
  }

  output(): Float32Array {
    const y = tf.matMul(this.x!, this.wT);
    const out = y.dataSync() as Float32Array;
    y.dispose();
    return out;
  }

  dispose(): void {
    this.x?.dispose();
    this.wT.dispose();
  }
}

/** a [R, C] -> [C, R], in 64x64 blocks so both sides stay in cache. */
export function transpose(a: Float32Array, R: number, C: number): Float32Array {
  const out = new Float32Array(R * C);
  const B = 64;
  for (let r0 = 0; r0 < R; r0 += B)
    for (let c0 = 0; c0 < C; c0 += B) {
      const r1 = Math.min(R, r0 + B), c1 = Math.min(C, c0 + B);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) out[c * R + r] = a[r * C + c];
    }
  return out;
}
