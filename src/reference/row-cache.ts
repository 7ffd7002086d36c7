// The reference's KV store: per batch row, named streams of float64 rows that grow on demand up to
// max_seq_len (so a config with a 160k context costs nothing until used). Writes are two-phase:
// `reserve` allocates everything the call needs (and is the only step that can fail), then
// `write` + `commit` cannot fail, so a throwing call leaves the cache as it was; a call that fails
// after writing (its result overflowed) puts back what it overwrote (`save` before the writes,
// `restore`; only a rollback overwrites cached tokens) and never commits. `write` and `read`
// count the elements they move (cacheWrites, cacheReads), so the work counts are counted, not assumed.

import { memoryError } from "../errors.js";
import { type LayerCache, type NamedTensor, checkOutput, checkStage } from "../layer.js";
import { type Counter, NO_COUNT, type WorkTerm } from "./counter.js";

export interface StreamSpec {
  /** Official buffer name, e.g. "kv_cache". */
  name: string;
  /** Per-token shape after [B, T], e.g. [H, dn+dr] or [C]. */
  tail: number[];
}

export class RowCache implements LayerCache {
  private readonly widths: number[];
  private readonly rows: Float64Array[][]; // [stream][batch row], capacity * width
  private readonly lengths: Int32Array;

  constructor(readonly streams: StreamSpec[], readonly maxBatch: number, readonly maxTokens: number) {
    this.widths = streams.map((s) => s.tail.reduce((a, b) => a * b, 1));
    this.rows = streams.map(() => Array.from({ length: maxBatch }, () => new Float64Array(0)));
    this.lengths = new Int32Array(maxBatch);
  }

  length(b: number): number {
    return this.lengths[b];
  }
  bytesPerToken(): number {
    return this.widths.reduce((a, b) => a + b, 0) * Float64Array.BYTES_PER_ELEMENT;
  }
  bytesInUse(): number {
    let n = 0;
    for (let b = 0; b < this.maxBatch; b++) n += this.lengths[b];
    return n * this.bytesPerToken();
  }

  /** Make room for positions < endPos in rows 0..batch-1. May throw (allocation); changes no content. */
  reserve(batch: number, endPos: number): void {
    const grown: [number, number, Float64Array][] = [];
    for (let si = 0; si < this.streams.length; si++) {
      for (let b = 0; b < batch; b++) {
        const cur = this.rows[si][b];
        const w = this.widths[si];
        if (cur.length >= endPos * w) continue;
        const cap = Math.min(this.maxTokens, Math.max(endPos, 2 * (cur.length / w), 16));
        const next = new Float64Array(cap * w);
        next.set(cur);
        grown.push([si, b, next]);
      }
    }
    for (const [si, b, next] of grown) this.rows[si][b] = next; // all allocations succeeded
  }

  /**
   * A call's new tokens, before attention reads them: reserve positions < startPos + s of rows
   * 0..batch-1, then write each stream's tokens (streams[si] [batch*s, width]: token t of row b
   * is row b*s + t) at positions startPos..; commit() publishes them. Returns the undo of a call
   * that fails before commit: the rolled-back tokens it overwrote, put back.
   */
  writeTokens(batch: number, s: number, startPos: number, streams: readonly ArrayLike<number>[], count: Counter = NO_COUNT): () => void {
    this.reserve(batch, startPos + s);
    const saved = this.save(batch, startPos, startPos + s);
    for (let b = 0; b < batch; b++)
      for (let t = 0; t < s; t++) streams.forEach((data, si) => this.write(si, b, startPos + t, data, (b * s + t) * this.widths[si], count));
    return () => this.restore(saved);
  }

  /** The cached tokens that writes of rows 0..batch-1 at positions from..to-1 overwrite (a rollback's, below each row's length), copied for restore(). */
  save(batch: number, from: number, to: number): { si: number; b: number; from: number; data: Float64Array }[] {
    const out: { si: number; b: number; from: number; data: Float64Array }[] = [];
    for (let b = 0; b < batch; b++) {
      const end = Math.min(to, this.lengths[b]);
      if (end > from) this.widths.forEach((w, si) => out.push({ si, b, from, data: this.rows[si][b].slice(from * w, end * w) }));
    }
    return out;
  }

  /** Put back what save() copied (before commit: the lengths never changed). */
  restore(saved: readonly { si: number; b: number; from: number; data: Float64Array }[]): void {
    for (const { si, b, from, data } of saved) this.rows[si][b].set(data, from * this.widths[si]);
  }

  /** data [w] for one token of stream si into row b at position pos (after reserve). */
  write(si: number, b: number, pos: number, data: ArrayLike<number>, dataOff: number, count: Counter = NO_COUNT): void {
    const w = this.widths[si];
    const row = this.rows[si][b];
    for (let i = 0; i < w; i++) row[pos * w + i] = data[dataOff + i];
    count.add("compression", "cacheWrites", w);
  }

  /** Positions 0..T-1 of stream si of row b, copied out ([T, ...tail]); counts the elements read as cacheReads of `term`. */
  read(si: number, b: number, T: number, count: Counter = NO_COUNT, term: WorkTerm = "scores"): Float64Array {
    const w = this.widths[si];
    const row = this.rows[si][b];
    const out = new Float64Array(T * w);
    let reads = 0;
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < w; i++) out[t * w + i] = row[t * w + i];
      reads += w;
    }
    count.add(term, "cacheReads", reads);
    return out;
  }

  /** Rows 0..batch-1 now end at endPos (positions >= endPos are forgotten: rollback). */
  commit(batch: number, endPos: number): void {
    for (let b = 0; b < batch; b++) this.lengths[b] = endPos;
  }

  snapshot(batch: number, endPos: number): Record<string, NamedTensor> {
    const out: Record<string, NamedTensor> = {};
    this.streams.forEach((spec, si) => {
      const w = this.widths[si];
      const data = new Float64Array(batch * endPos * w);
      for (let b = 0; b < batch; b++) {
        const n = Math.min(endPos, this.lengths[b]) * w;
        data.set(this.rows[si][b].subarray(0, n), b * endPos * w);
      }
      out[spec.name] = { shape: [batch, endPos, ...spec.tail], data };
    });
    return out;
  }
}

/** A baseline's call over its RowCache (attendOverRows): the new tokens' streams and the intermediates its diagnosis names. */
export interface RowsCall {
  B: number;
  s: number;
  startPos: number;
  /** What the cache stores, [B*s, ...tails[si]] per stream (K/V, or the seed's latents). */
  streams: readonly Float64Array[];
  tails: readonly number[][];
  count: Counter;
  q: Float64Array;
  qTail: number[];
  /** The attention output attend() fills. */
  o: Float64Array;
  oTail: number[];
}

/**
 * The baselines' store-then-attend, all or nothing: the new entries are checked (finite), written
 * (uncommitted), attend() reads the rows and returns y, and the rows are committed only when y
 * is finite; on any failure the rolled-back tokens are put back. A RangeError from an allocation
 * becomes CacheError (memory). Throws NonFiniteError naming the stage that overflowed.
 */
export function attendOverRows(cache: RowCache, c: RowsCall, attend: () => Float64Array): Float64Array {
  const N = c.B * c.s;
  try {
    c.streams.forEach((data, si) => checkStage("latent", cache.streams[si].name, data, N, c.s, 0, c.tails[si], "float64"));
    const undo = cache.writeTokens(c.B, c.s, c.startPos, c.streams, c.count);
    try {
      const y = attend();
      checkOutput(y, [y.length / N], [{ stage: "query", name: "q", data: c.q, tail: c.qTail }, { stage: "attention", name: "o", data: c.o, tail: c.oTail }], N, c.s, 0, "float64");
      cache.commit(c.B, c.startPos + c.s);
      return y;
    } catch (e) {
      undo();
      throw e;
    }
  } catch (e) {
    throw memoryError(e, "memory", `a call of ${c.B} x ${c.s} tokens at startPos ${c.startPos}`);
  }
}
