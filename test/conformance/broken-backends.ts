// Deliberately broken backends: each wraps the oracle and gets one thing wrong, the way real
// implementations do. checkBackend must catch every one, with a small counterexample.
import type { Backend } from "../../src/backend.js";
import type { MlaConfig } from "../../src/config.js";
import { MlaError, NonFiniteError, PositionError } from "../../src/errors.js";
import type { AttentionLayer, ForwardOptions, Tensor } from "../../src/layer.js";
import { ReferenceMla } from "../../src/reference/mla.js";
import { type MlaWeights, mlaWeightShapes } from "../../src/weights.js";

type Wrap = (inner: AttentionLayer, x: ArrayLike<number>, opts: ForwardOptions, cfg: MlaConfig) => Tensor;

function wrapped(name: string, wrap: Wrap, configFor: (cfg: MlaConfig) => MlaConfig = (c) => c, onlyPath?: "naive" | "absorbed"): Backend {
  return {
    name,
    precision: "float64",
    createMla(config: MlaConfig, weights: MlaWeights, { path }) {
      const broken = !onlyPath || onlyPath === path;
      const inner = new ReferenceMla(broken ? configFor(config) : config, weights, { path });
      return {
        kind: inner.kind,
        backend: name,
        dim: inner.dim,
        cache: inner.cache,
        forward: (x, opts) => (broken ? wrap(inner, x, opts, config) : inner.forward(x, opts)),
        dispose: () => inner.dispose(),
      };
    },
  };
}

const plain: Wrap = (inner, x, opts) => inner.forward(x, opts);

/** Forgets YaRN in the absorbed path (no frequency ramp, no mscale^2): off iff max_seq_len <= original_seq_len. */
export const noYarnAbsorbed = wrapped("no-yarn-absorbed", plain, (c) => ({ ...c, original_seq_len: c.max_seq_len }), "absorbed");

/** Rotates the wrong RoPE pairs (half-split instead of interleaved and vice versa). */
export const wrongRopeLayout = wrapped("wrong-rope-layout", plain, (c) => ({ ...c, rope_layout: c.rope_layout === "interleaved" ? "half" : "interleaved" }));

/** Row b > 0 of a batch picks up a trace of row 0's input. */
export const batchLeak = wrapped("batch-leak", (inner, x, opts, cfg) => {
  const y = inner.forward(x, opts);
  const per = opts.seqlen * cfg.dim;
  for (let b = 1; b < opts.batch; b++) for (let i = 0; i < per; i++) y[b * per + i] += 1e-3 * x[i];
  return y;
});

/** Refuses to roll back: a startPos below the cached length throws. */
export const noRollback = wrapped("no-rollback", (inner, x, opts) => {
  if (opts.startPos < inner.cache.length(0)) throw new PositionError("startPos", opts.startPos, `>= ${inner.cache.length(0)} (this backend cannot roll back)`);
  return inner.forward(x, opts);
});

/** Writes the cache before it checks for NaN: a rejected call leaves half-written state behind. */
export const dirtyReject = wrapped("dirty-reject", (inner, x, opts) => {
  const bad = Array.prototype.findIndex.call(x, (v: number) => !Number.isFinite(v));
  if (bad >= 0) {
    try {
      inner.forward(Array.from(x, (v) => (Number.isFinite(v) ? v : 0)), opts);
    } catch {
      /* shapes may be wrong too; the point is the write */
    }
    throw new NonFiniteError(`x[${bad}]`, x[bad], "a finite number");
  }
  return inner.forward(x, opts);
});

/** Throws plain Errors instead of mlakit's typed ones. */
export const untypedErrors = wrapped("untyped-errors", (inner, x, opts) => {
  try {
    return inner.forward(x, opts);
  } catch (e) {
    if (e instanceof MlaError) throw new Error(e.message);
    throw e;
  }
});

/** Decode calls (startPos > 0) are off by a small constant: a classic position bug. */
export const decodeOffset = wrapped("decode-offset", (inner, x, opts) => {
  const y = inner.forward(x, opts);
  if (opts.startPos > 0) for (let i = 0; i < y.length; i++) y[i] += 1e-6;
  return y;
});

/** Accepts any weights: pads or cuts each to its shape and zeroes NaN/Inf instead of refusing. */
export const lenientWeights: Backend = {
  name: "lenient-weights",
  precision: "float64",
  createMla(config, weights, { path }) {
    const fixed: Record<string, Float32Array> = {};
    for (const [name, shape] of Object.entries(mlaWeightShapes(config))) {
      const src = (weights as unknown as Record<string, ArrayLike<number> | undefined>)[name];
      const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
      if (src && typeof src.length === "number") for (let i = 0; i < Math.min(out.length, src.length); i++) out[i] = Number.isFinite(src[i]) ? src[i] : 0;
      fixed[name] = out;
    }
    return new ReferenceMla(config, fixed as unknown as MlaWeights, { path });
  },
};

/** Its cache snapshot uses its own buffer names instead of the official ones. */
export const renamedCache: Backend = {
  name: "renamed-cache",
  precision: "float64",
  createMla(config, weights, { path }) {
    const inner = new ReferenceMla(config, weights, { path });
    const cache = Object.create(inner.cache) as typeof inner.cache;
    cache.snapshot = (b: number, e: number) => Object.fromEntries(Object.entries(inner.cache.snapshot(b, e)).map(([k, v]) => [`my_${k}`, v]));
    return { kind: inner.kind, backend: "renamed-cache", dim: inner.dim, cache, forward: (x, o) => inner.forward(x, o), dispose: () => inner.dispose() };
  },
};

/** Returns one element too few when the batch has more than one row. */
export const shortOutput = wrapped("short-output", (inner, x, opts) => {
  const y = inner.forward(x, opts);
  return opts.batch > 1 ? y.subarray(0, y.length - 1) : y;
});
