// The one layer interface every backend implements (DESIGN.md "Architecture"). Tests, the CLI
// and the conformance kit talk only to this, so a new backend is checked for free.

import { CacheError, NonFiniteError, PositionError, ShapeError, memoryError } from "./errors.js";

/** Dense row-major data. The reference returns Float64Array, the WASM backend Float32Array. */
export type Tensor = Float32Array | Float64Array;

/** A named tensor with its shape, as the official vectors store them. */
export interface NamedTensor {
  shape: number[];
  data: Tensor;
}

export interface ForwardOptions {
  /** B: batch rows, 1..max_batch_size. Row b continues the sequence held in cache row b. */
  batch: number;
  /** s: new tokens per row in this call (>= 1). Causal inside the call. */
  seqlen: number;
  /** Absolute position of the first new token. 0 <= startPos <= tokens cached for every row; startPos + s <= max_seq_len. A startPos below the cached length rolls the row back to it first. */
  startPos: number;
}

/** What a layer's cache says about itself. */
export interface LayerCache {
  /** Tokens cached for batch row b. */
  length(b: number): number;
  /** Bytes per cached token (one batch row), for the layer's storage format. */
  bytesPerToken(): number;
  /** Bytes holding cached tokens now, summed over rows. */
  bytesInUse(): number;
  /**
   * The cache contents for rows 0..batch-1 and positions 0..endPos-1, under the official buffer
   * names: naive `k_cache` [B,T,H,dn+dr], `v_cache` [B,T,H,dv]; absorbed `kv_cache` [B,T,C],
   * `pe_cache` [B,T,dr]. Baselines use their own names.
   */
  snapshot(batch: number, endPos: number): Record<string, NamedTensor>;
}

export interface AttentionLayer {
  /** What the layer computes, e.g. "mla-naive", "mla-absorbed", "mha", "gqa", "mqa", "seed-lowrank". */
  readonly kind: string;
  /** Which implementation: "reference", "wasm", ... */
  readonly backend: string;
  /** Model dimension D (input and output width). */
  readonly dim: number;
  /** x: [B, s, D] -> [B, s, D]. Appends the new tokens' K/V (or latents) to the cache. A call that throws changes nothing. */
  forward(x: ArrayLike<number>, opts: ForwardOptions): Tensor;
  readonly cache: LayerCache;
  /** Release memory (WASM buffers); the layer is unusable afterwards. */
  dispose(): void;
}

/** Largest finite float32: a finite float64 beyond it becomes Infinity in a float32 copy. */
export const F32_MAX = 3.4028234663852886e38;

/** What a layer computes in: its forward copies x into this precision. */
export type InputPrecision = "float64" | "float32";

/** A validated forward call: the options read once, x read once into memory the layer owns. */
export interface ForwardCall<T extends Tensor = Tensor> {
  /** The input [B, s, D], a copy validated as copied (finite; within float32's range for "float32"). */
  x: T;
  batch: number;
  seqlen: number;
  startPos: number;
}

/** The error of a call on a disposed layer: its cache and memory are released (CacheError, see src/errors.ts). */
export function disposedError(): CacheError {
  return new CacheError("layer", "disposed", "a layer that has not been disposed (dispose() released its cache and memory)");
}

/**
 * One forward at a time per layer. A getter of the input (a Proxy, an accessor) runs while the
 * layer copies it; if it calls forward on the same layer, that inner call is refused with
 * CacheError instead of rewriting the cache under the outer one.
 */
export class ForwardGate {
  private busy = false;
  run<R>(fn: () => R): R {
    if (this.busy) throw new CacheError("layer", "busy", "one forward at a time per layer: another forward is running on it (an input's getter called forward again)");
    this.busy = true;
    try {
      return fn();
    } finally {
      this.busy = false;
    }
  }
}

/**
 * The start of every layer's forward (run it inside the layer's ForwardGate): the layer is alive,
 * the options (read once) fit the config and the cache, and x is read exactly once into a copy
 * the layer owns, which is what gets validated and used, so a getter cannot change a value after
 * its check. Caller code can run during the copy (getters), so aliveness and the cached lengths
 * are checked again after it. `alive` (a function: read live) and `cache` are read after the copy too.
 */
export function beginForward<P extends InputPrecision = "float64">(
  alive: boolean | (() => boolean),
  x: ArrayLike<number>,
  opts: ForwardOptions,
  cfg: { dim: number; max_batch_size: number; max_seq_len: number },
  cache: { length(b: number): number },
  precision: P = "float64" as P,
): ForwardCall<P extends "float32" ? Float32Array : Float64Array> {
  const live = typeof alive === "function" ? alive : () => alive;
  if (!live()) throw disposedError();
  const limits = { dim: cfg.dim, maxBatch: cfg.max_batch_size, maxSeqLen: cfg.max_seq_len, cachedLength: (b: number) => cache.length(b) };
  const call = checkForwardArgs(x, opts, limits);
  const copy = ownedInput(x, call.batch, call.seqlen, cfg.dim, precision);
  if (!live()) throw disposedError();
  checkCachedLengths(call.batch, call.startPos, limits.cachedLength);
  return { ...call, x: copy as P extends "float32" ? Float32Array : Float64Array };
}

/**
 * The boundary checks of every backend before it touches its cache: positions against the config
 * and the cached lengths (`cachedLength(b)`), then the shape of x. Each option and x.length is read
 * once; the values are not read (ownedInput copies and checks them). Returns the options as read.
 */
export function checkForwardArgs(
  x: ArrayLike<number>,
  opts: ForwardOptions,
  limits: { dim: number; maxBatch: number; maxSeqLen: number; cachedLength: (b: number) => number },
): { batch: number; seqlen: number; startPos: number } {
  const o = opts ?? ({} as ForwardOptions);
  const batch = o.batch, seqlen = o.seqlen, startPos = o.startPos;
  if (!Number.isInteger(batch) || batch < 1 || batch > limits.maxBatch) {
    throw new PositionError("batch", batch, `an integer in 1..${limits.maxBatch} (max_batch_size)`);
  }
  if (!Number.isInteger(seqlen) || seqlen < 1) throw new PositionError("seqlen", seqlen, "a positive integer");
  if (!Number.isInteger(startPos) || startPos < 0) throw new PositionError("startPos", startPos, "a non-negative integer");
  if (startPos + seqlen > limits.maxSeqLen) {
    throw new PositionError("startPos + seqlen", startPos + seqlen, `<= max_seq_len (${limits.maxSeqLen})`, `startPos ${startPos}, seqlen ${seqlen}`);
  }
  checkCachedLengths(batch, startPos, limits.cachedLength);
  const want = batch * seqlen * limits.dim;
  if (x === null || typeof x !== "object") throw new ShapeError("x", x, `an array of ${want} numbers [B=${batch}, s=${seqlen}, D=${limits.dim}]`);
  const length = x.length;
  if (typeof length !== "number") throw new ShapeError("x", x, `an array of ${want} numbers [B=${batch}, s=${seqlen}, D=${limits.dim}]`);
  if (length !== want) throw new ShapeError("x.length", length, `${want} = B ${batch} x s ${seqlen} x D ${limits.dim}`);
  return { batch, seqlen, startPos };
}

function checkCachedLengths(batch: number, startPos: number, cachedLength: (b: number) => number): void {
  for (let b = 0; b < batch; b++) {
    const len = cachedLength(b);
    if (startPos > len) {
      throw new PositionError("startPos", startPos, `<= the ${len} tokens cached for batch row ${b} (positions must be contiguous)`);
    }
  }
}

/**
 * x [B, s, D] read exactly once, element by element (a plain Float32Array/Float64Array in one
 * copy), into a new array of the layer's precision; each value is checked as read: finite, and
 * for "float32" within float32's range (a larger finite float64 would become Infinity). Throws
 * NonFiniteError naming x[b, t, d], or CacheError when the runtime cannot allocate the copy.
 */
export function ownedInput(x: ArrayLike<number>, B: number, s: number, D: number, precision: InputPrecision): Tensor {
  const n = B * s * D, shape = [B, s, D];
  let out: Tensor;
  try {
    out = precision === "float32" ? new Float32Array(n) : new Float64Array(n);
  } catch (e) {
    throw memoryError(e, "x", `${n} numbers`);
  }
  const proto = Object.getPrototypeOf(x);
  if (proto === Float32Array.prototype || (proto === Float64Array.prototype && precision === "float64")) {
    out.set(x as Tensor); // no getters on a plain typed array, and no value that needs a range check
    checkFinite("x", out, shape);
    return out;
  }
  const f32 = precision === "float32";
  for (let i = 0; i < n; i++) {
    const v = x[i];
    if (typeof v !== "number" || !Number.isFinite(v)) throw nonFiniteAt("x", i, shape, v, "a finite number");
    if (f32 && (v > F32_MAX || v < -F32_MAX)) throw nonFiniteAt("x", i, shape, v, `a number within float32's range (|v| <= ${F32_MAX}): the wasm backend computes in float32`);
    out[i] = v;
  }
  return out;
}

function nonFiniteAt(field: string, i: number, shape: number[], v: unknown, expected: string): NonFiniteError {
  return new NonFiniteError(`${field}[${unravel(i, shape).join(", ")}]`, v, expected, `flat index ${i} of shape [${shape.join(", ")}]`);
}

/** The stages of a forward, in order, whose arithmetic can overflow on finite inputs (a NonFiniteError's field then starts with one). */
export type ForwardStage = "query" | "latent" | "decompression" | "indexer" | "attention" | "output";

/** The error of a stage that overflowed: field "<stage>: <name>[b, t, ...]", b the batch row and t the token of the call. */
export function overflowError(stage: ForwardStage, name: string, index: number[], value: number, precision: InputPrecision, detail?: string): NonFiniteError {
  return new NonFiniteError(`${stage}: ${name}[${index.join(", ")}]`, value, `a finite result (the inputs were finite; ${precision} overflowed in the ${stage} stage and the call was undone)`, detail);
}

/**
 * Rows r = b*sc + t (token t0 + t of batch row b) of data, each of shape `tail`: throw
 * overflowError at the first value that is not finite, named [b, t, ...index in tail].
 */
export function checkStage(stage: ForwardStage, name: string, data: ArrayLike<number>, rows: number, sc: number, t0: number, tail: number[], precision: InputPrecision): void {
  const width = tail.reduce((a, b) => a * b, 1);
  for (let i = 0; i < rows * width; i++) {
    const v = data[i];
    if (v - v !== 0) {
      const r = Math.floor(i / width);
      throw overflowError(stage, name, [Math.floor(r / sc), t0 + (r % sc), ...unravel(i % width, tail)], v, precision);
    }
  }
}

/** Values of one stage of a forward, rows r = b*sc + t of shape `tail` (for checkOutput's diagnosis). */
export interface StageValues {
  stage: ForwardStage;
  name: string;
  data: ArrayLike<number>;
  tail: number[];
}

/**
 * A forward's output y (rows r = b*sc + t, each of shape yTail) must be finite. When it is not,
 * throw for the first of the earlier stages (in the order given) whose values are not, else for
 * y itself: the output projection overflowed. Costs one scan of y when all is well.
 */
export function checkOutput(y: ArrayLike<number>, yTail: number[], stages: readonly StageValues[], rows: number, sc: number, t0: number, precision: InputPrecision): void {
  const n = rows * yTail.reduce((a, b) => a * b, 1);
  for (let i = 0; i < n; i++) {
    if (y[i] - y[i] === 0) continue;
    for (const st of stages) checkStage(st.stage, st.name, st.data, rows, sc, t0, st.tail, precision);
    checkStage("output", "y", y, rows, sc, t0, yTail, precision);
  }
}

/** Throw NonFiniteError naming the first NaN/Inf as field[i, j, k]. */
export function checkFinite(field: string, data: ArrayLike<number>, shape: number[]): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) throw nonFiniteAt(field, i, shape, v, "a finite number");
  }
}

export function unravel(index: number, shape: number[]): number[] {
  const out = new Array<number>(shape.length);
  let rest = index;
  for (let d = shape.length - 1; d >= 0; d--) {
    out[d] = rest % shape[d];
    rest = Math.floor(rest / shape[d]);
  }
  return out;
}
