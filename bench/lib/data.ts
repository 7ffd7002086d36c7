// Fast deterministic test data for large benchmark tensors (V3's wo alone is 117M floats, too
// many for a Box-Muller normal generator in a benchmark's setup time): xorshift32, uniform.
export function fillUniform(a: Float32Array, seed: number, scale = 1): Float32Array {
  let s = (seed | 0) || 0x9e3779b9;
  const k = (2 * scale) / 4294967296;
  for (let i = 0; i < a.length; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    a[i] = (s >>> 0) * k - scale;
  }
  return a;
}

/** Uniform in [-sqrt(3/fanIn), sqrt(3/fanIn)): unit-variance outputs for unit-variance inputs. */
export function randomMatrix(rows: number, cols: number, seed: number): Float32Array {
  return fillUniform(new Float32Array(rows * cols), seed, Math.sqrt(3 / cols));
}

export function randomVector(n: number, seed: number, scale = 1): Float32Array {
  return fillUniform(new Float32Array(n), seed, scale);
}
