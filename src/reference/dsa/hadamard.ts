// rotate_activation (model.py) = fast_hadamard_transform.hadamard_transform(bf16(x), scale = n^-0.5):
// y = bf16(fp32(fp32(x @ H) * fp32(scale))) with H the Sylvester-order Hadamard matrix
// (scipy.linalg.hadamard, symmetric) -- the CUDA kernel's float32 butterflies, the float32 scale
// multiply at the store and the conversion back to the input dtype (vectors README, "Shims" 2).

import { bf16Round, fp32 } from "./quant.js";

/**
 * x @ H in place over x[off .. off+n), n a power of two: the Walsh-Hadamard butterflies in natural
 * (Sylvester) order. Exact in float64 for bf16 inputs whose magnitudes span less than 2^38 (every
 * partial sum fits 53 bits), which is the kernel's exact float32 result whenever they span < 2^9.
 */
export function hadamardInPlace(x: Float64Array, off: number, n: number): void {
  for (let h = 1; h < n; h *= 2) {
    for (let i = 0; i < n; i += 2 * h) {
      for (let j = off + i; j < off + i + h; j++) {
        const a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
    }
  }
}

/** x [rows, n] -> (bf16(x), rotate_activation(x)), both [rows, n]: the Hadamard's bf16 input and its bf16 output. */
export function rotateActivation(x: ArrayLike<number>, rows: number, n: number): { input: Float64Array; rotated: Float64Array } {
  const scale = fp32(Math.pow(n, -0.5));
  const input = new Float64Array(rows * n);
  for (let i = 0; i < rows * n; i++) input[i] = bf16Round(x[i]); // rotate_activation asserts a bf16 input
  const rotated = Float64Array.from(input);
  for (let r = 0; r < rows; r++) {
    hadamardInPlace(rotated, r * n, n);
    for (let i = r * n; i < (r + 1) * n; i++) rotated[i] = bf16Round(fp32(fp32(rotated[i]) * scale));
  }
  return { input, rotated };
}
