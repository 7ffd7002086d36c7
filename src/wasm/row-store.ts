// The WASM naive layer's cache: per stream (k_cache, v_cache) and per batch row, one
// contiguous float32 block in linear memory holding positions 0..cap-1. A row grows (geometric,
// up to max_seq_len) only when a call needs more room, so decode steps allocate nothing.
// Two-phase like the reference's RowCache: `reserve` allocates (the only step that can fail and
// it changes no content), the kernels write, `commit` sets the lengths; a call that fails between
// puts back what it overwrote (`save` before, `restore` after: only a rollback overwrites tokens).
// The naive path's causal attention reads these rows directly (KEYS_CONTIG of attention_core);
// the absorbed path keeps its latent in the paged pool instead (./paged-cache.ts).

import type { LayerCache, NamedTensor } from "../layer.js";
import type { Arena } from "./arena.js";

export interface WasmStreamSpec {
  name: string;
  tail: number[];
}

export class WasmRowStore implements LayerCache {
  readonly widths: number[];
  private readonly ptrs: number[][]; // [stream][row] byte pointer (0 = none yet)
  private readonly caps: Int32Array; // tokens per row (all streams of a row share it)
  private readonly lengths: Int32Array;

  constructor(private readonly arena: Arena, readonly streams: WasmStreamSpec[], readonly maxBatch: number, readonly maxTokens: number, private readonly initialTokens = 16) {
    this.widths = streams.map((s) => s.tail.reduce((a, b) => a * b, 1));
    this.ptrs = streams.map(() => new Array<number>(maxBatch).fill(0));
    this.caps = new Int32Array(maxBatch);
    this.lengths = new Int32Array(maxBatch);
  }

  length(b: number): number {
    return this.lengths[b];
  }
  bytesPerToken(): number {
    return this.widths.reduce((a, b) => a + b, 0) * 4;
  }
  bytesInUse(): number {
    let n = 0;
    for (let b = 0; b < this.maxBatch; b++) n += this.lengths[b];
    return n * this.bytesPerToken();
  }
  /** Tokens row b can hold without growing. */
  capacity(b: number): number {
    return this.caps[b];
  }

  /**
   * Make room for positions < endPos in rows 0..batch-1. Throws CacheError if memory cannot grow;
   * then nothing changed. Inside an arena call (Arena.begin) a rollback puts the old rows back
   * (their bytes are untouched: they are freed only when the call commits).
   */
  reserve(batch: number, endPos: number): void {
    const plan: { b: number; cap: number; next: number[] }[] = [];
    try {
      for (let b = 0; b < batch; b++) {
        if (this.caps[b] >= endPos) continue;
        const cap = Math.min(this.maxTokens, Math.max(endPos, 2 * this.caps[b], this.initialTokens));
        const next: number[] = [];
        plan.push({ b, cap, next });
        for (let si = 0; si < this.streams.length; si++) next.push(this.arena.allocF32(cap * this.widths[si]));
      }
      if (plan.length) this.arena.grow();
    } catch (e) {
      for (const p of plan) for (const ptr of p.next) this.arena.free(ptr);
      throw e;
    }
    if (!plan.length) return;
    // All allocations succeeded: move the valid tokens, free the old blocks.
    const oldPtrs = this.ptrs.map((row) => row.slice()), oldCaps = this.caps.slice();
    const u8 = new Uint8Array(this.arena.memory.buffer);
    for (const { b, cap, next } of plan) {
      for (let si = 0; si < this.streams.length; si++) {
        const old = this.ptrs[si][b];
        if (old !== 0) {
          u8.copyWithin(next[si], old, old + this.lengths[b] * this.widths[si] * 4);
          this.arena.free(old);
        }
        this.ptrs[si][b] = next[si];
      }
      this.caps[b] = cap;
    }
    this.arena.onRollback(() => {
      oldPtrs.forEach((row, si) => row.forEach((p, b) => (this.ptrs[si][b] = p)));
      this.caps.set(oldCaps);
    });
  }

  /**
   * The cached tokens a write of rows 0..batch-1 at positions from..to-1 overwrites (a rollback's
   * positions below each row's length), copied, for restore() if the call fails before commit.
   */
  save(batch: number, from: number, to: number): { b: number; si: number; pos: number; data: Uint8Array }[] {
    const out: { b: number; si: number; pos: number; data: Uint8Array }[] = [];
    for (let b = 0; b < batch; b++) {
      const end = Math.min(to, this.lengths[b]);
      if (end <= from) continue;
      for (let si = 0; si < this.streams.length; si++) {
        const p = this.ptr(si, b, from);
        out.push({ b, si, pos: from, data: new Uint8Array(this.arena.memory.buffer).slice(p, p + (end - from) * this.widths[si] * 4) });
      }
    }
    return out;
  }

  /** Put back what save() copied (the lengths were never changed: commit comes last). */
  restore(saved: readonly { b: number; si: number; pos: number; data: Uint8Array }[]): void {
    const u8 = new Uint8Array(this.arena.memory.buffer);
    for (const { b, si, pos, data } of saved) u8.set(data, this.ptr(si, b, pos));
  }

  /** Byte pointer of stream si, row b, position pos (after reserve). */
  ptr(si: number, b: number, pos = 0): number {
    return this.ptrs[si][b] + pos * this.widths[si] * 4;
  }

  commit(batch: number, endPos: number): void {
    for (let b = 0; b < batch; b++) this.lengths[b] = endPos;
  }

  snapshot(batch: number, endPos: number): Record<string, NamedTensor> {
    const out: Record<string, NamedTensor> = {};
    const f32 = this.arena.f32;
    this.streams.forEach((spec, si) => {
      const w = this.widths[si];
      const data = new Float32Array(batch * endPos * w);
      for (let b = 0; b < batch; b++) {
        const n = Math.min(endPos, this.lengths[b]) * w;
        if (n > 0) data.set(f32.subarray(this.ptrs[si][b] >>> 2, (this.ptrs[si][b] >>> 2) + n), b * endPos * w);
      }
      out[spec.name] = { shape: [batch, endPos, ...spec.tail], data };
    });
    return out;
  }
}
