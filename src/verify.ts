// Check a backend against the official vectors: every call through the naive and the absorbed
// path, every output and both caches, against the numbers DeepSeek's model.py produced.

import type { Backend, MlaLayerPath } from "./backend.js";
import { VECTOR_ATOL, maxAbsDiff } from "./numerics.js";
import type { VectorCase } from "./io/mla-vectors.js";
import { ropeFrequencies } from "./derived.js";

export interface CaseResult {
  name: string;
  pass: boolean;
  /** Largest error of each compared quantity. */
  maxAbsErr: { naive: number; absorbed: number; naiveCache: number; absorbedCache: number; freqs: number };
  tolerance: number;
}

/** |cos/sin(pos * f_i) - official freqs_cis| over the file's table. */
function freqsError(c: VectorCase): number {
  const f = ropeFrequencies(c.config);
  const half = f.length;
  const rows = c.freqs.cos.shape[0];
  let err = 0;
  for (let p = 0; p < rows; p++)
    for (let i = 0; i < half; i++) {
      err = Math.max(err, Math.abs(Math.cos(p * f[i]) - c.freqs.cos.data[p * half + i]), Math.abs(Math.sin(p * f[i]) - c.freqs.sin.data[p * half + i]));
    }
  return err;
}

async function runPath(backend: Backend, c: VectorCase, path: MlaLayerPath): Promise<{ out: number; cache: number }> {
  const layer = await backend.createMla(c.config, c.weights, { path });
  try {
    let out = 0;
    for (const call of c.calls) {
      const y = layer.forward(call.input.data, { batch: c.batch, seqlen: call.seqlen, startPos: call.startPos });
      out = Math.max(out, maxAbsDiff(y, path === "naive" ? call.outputNaive.data : call.outputAbsorb.data));
    }
    const last = c.calls[c.calls.length - 1];
    const snap = layer.cache.snapshot(c.batch, last.startPos + last.seqlen);
    const want = path === "naive" ? c.caches.naive : c.caches.absorb;
    let cache = 0;
    for (const [name, t] of Object.entries(want)) {
      const got = snap[name];
      cache = Math.max(cache, got ? maxAbsDiff(got.data, t.data) : Infinity);
    }
    return { out, cache };
  } finally {
    layer.dispose();
  }
}

export async function verifyCase(backend: Backend, c: VectorCase, tolerance = VECTOR_ATOL): Promise<CaseResult> {
  const naive = await runPath(backend, c, "naive");
  const absorbed = await runPath(backend, c, "absorbed");
  const maxAbsErr = { naive: naive.out, absorbed: absorbed.out, naiveCache: naive.cache, absorbedCache: absorbed.cache, freqs: freqsError(c) };
  const pass = Object.values(maxAbsErr).every((e) => e <= tolerance);
  return { name: c.name, pass, maxAbsErr, tolerance };
}
