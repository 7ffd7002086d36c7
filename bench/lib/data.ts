// Fast deterministic test data for large benchmark tensors (V3's wo alone is 117M floats, too
// many for a Box-Muller normal generator in a benchmark's setup time): xorshift32, uniform.
import { fillUniform } from "../../src/wasm/decode-cases.js";

export { fillUniform };

/** Uniform in [-sqrt(3/fanIn), sqrt(3/fanIn)): unit-variance outputs for unit-variance inputs. */
export function randomMatrix(rows: number, cols: number, seed: number): Float32Array {
  return fillUniform(new Float32Array(rows * cols), seed, Math.sqrt(3 / cols));
}

export function randomVector(n: number, seed: number, scale = 1): Float32Array {
  return fillUniform(new Float32Array(n), seed, scale);
}
