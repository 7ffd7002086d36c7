// The one layer interface every backend implements (DESIGN.md "Architecture"). Tests, the CLI
// and the conformance kit talk only to this, so a new backend is checked for free.

import { MlaError, PositionError, ShapeError, NonFiniteError } from "./errors.js";

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

/**
 * The boundary checks every backend applies before touching its cache: shapes, positions and
 * finiteness. `cachedLength(b)` is the row's current length.
 */
/** The start of every layer's forward: the layer is not disposed and the call fits its config and cache (checkForwardArgs). */
export function beginForward(alive: boolean, x: ArrayLike<number>, opts: ForwardOptions, cfg: { dim: number; max_batch_size: number; max_seq_len: number }, cache: { length(b: number): number }): void {
  if (!alive) throw new MlaError("layer", "disposed", "a layer that has not been disposed");
  checkForwardArgs(x, opts, { dim: cfg.dim, maxBatch: cfg.max_batch_size, maxSeqLen: cfg.max_seq_len, cachedLength: (b) => cache.length(b) });
}

export function checkForwardArgs(
  x: ArrayLike<number>,
  opts: ForwardOptions,
  limits: { dim: number; maxBatch: number; maxSeqLen: number; cachedLength: (b: number) => number },
): void {
  const { batch, seqlen, startPos } = opts ?? ({} as ForwardOptions);
  if (!Number.isInteger(batch) || batch < 1 || batch > limits.maxBatch) {
    throw new PositionError("batch", batch, `an integer in 1..${limits.maxBatch} (max_batch_size)`);
  }
  if (!Number.isInteger(seqlen) || seqlen < 1) throw new PositionError("seqlen", seqlen, "a positive integer");
  if (!Number.isInteger(startPos) || startPos < 0) throw new PositionError("startPos", startPos, "a non-negative integer");
  if (startPos + seqlen > limits.maxSeqLen) {
    throw new PositionError("startPos + seqlen", startPos + seqlen, `<= max_seq_len (${limits.maxSeqLen})`, `startPos ${startPos}, seqlen ${seqlen}`);
  }
  for (let b = 0; b < batch; b++) {
    const len = limits.cachedLength(b);
    if (startPos > len) {
      throw new PositionError("startPos", startPos, `<= the ${len} tokens cached for batch row ${b} (positions must be contiguous)`);
    }
  }
  const want = batch * seqlen * limits.dim;
  if (x === null || typeof x !== "object" || typeof x.length !== "number") throw new ShapeError("x", x, `an array of ${want} numbers [B=${batch}, s=${seqlen}, D=${limits.dim}]`);
  if (x.length !== want) throw new ShapeError("x.length", x.length, `${want} = B ${batch} x s ${seqlen} x D ${limits.dim}`);
  checkFinite("x", x, [batch, seqlen, limits.dim]);
}

/** Throw NonFiniteError naming the first NaN/Inf as field[i, j, k]. */
export function checkFinite(field: string, data: ArrayLike<number>, shape: number[]): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) {
      throw new NonFiniteError(`${field}[${unravel(i, shape).join(", ")}]`, v, "a finite number", `flat index ${i} of shape [${shape.join(", ")}]`);
    }
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
