// The reference's KV store: per batch row, named streams of float64 rows that grow on demand up to
// max_seq_len (so a config with a 160k context costs nothing until used). Writes are two-phase:
// `reserve` allocates everything the call needs (and is the only step that can fail), then
// `write` + `commit` cannot fail, so a throwing call leaves the cache as it was. `write` and `read`
// count the elements they move (cacheWrites, cacheReads), so the work counts are counted, not assumed.

import type { LayerCache, NamedTensor } from "../layer.js";
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
