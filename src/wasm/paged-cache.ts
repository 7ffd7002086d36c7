// The WASM layer's latent cache: a LatentCache (src/cache) whose block pool lives in the layer's
// linear memory, in any storage format, so the paged absorbed kernel reads the records in place.
// The LatentCache does all the bookkeeping (block tables, free blocks, rollback, fork, accounting,
// snapshot); this class owns the pool's byte range. The range grows with use (geometric, up to
// maxBlocks): the pool hands out the lowest block ids first (src/cache/pool.ts), so before a call
// `reserve` makes the range cover every id the call may take, and moves nothing else. A view of
// linear memory is detached by memory.grow: `latent` re-creates the pool's view when that happened.

import type { MlaConfig } from "../config.js";
import { CacheError } from "../errors.js";
import type { LayerCache, NamedTensor } from "../layer.js";
import { LatentCache } from "../cache/latent-cache.js";
import { BLOCK_TOKENS, type LatentFormat, checkLatentFormat } from "../cache/layout.js";
import type { Arena } from "./arena.js";
import type { ByteRange } from "./kernels.js";

export interface PlacedWrite {
  seq: number;
  startPos: number;
  n: number;
}

export class WasmPagedCache implements LayerCache {
  readonly format: LatentFormat;
  readonly maxBlocks: number;
  private readonly blockBytes: number;
  private range: ByteRange | null = null;
  private readonly latentCache: LatentCache;

  /**
   * maxBlocks: most 64-token blocks (default: every batch row full, as LatentCache). indexKeys: a
   * DeepSeek-V3.2 cache, each block also holding the indexer's keys (LatentCache's blockLayout).
   */
  constructor(private readonly arena: Arena, cfg: MlaConfig, format: LatentFormat, maxBlocks?: number, indexKeys = false) {
    this.format = checkLatentFormat(format, "options.cacheFormat");
    const blocks = maxBlocks ?? cfg.max_batch_size * Math.ceil(cfg.max_seq_len / BLOCK_TOKENS);
    if (!Number.isInteger(blocks) || blocks < 1) throw new CacheError("options.cacheBlocks", maxBlocks, "a positive integer number of 64-token blocks");
    this.maxBlocks = blocks;
    this.latentCache = new LatentCache(cfg, { format: this.format, maxBlocks: blocks, storage: new Uint8Array(0), indexKeys });
    this.blockBytes = this.latentCache.blockBytes;
  }

  /** The LatentCache over the pool (sequences 0..max_batch_size-1 are the batch rows), its view current. */
  get latent(): LatentCache {
    const v = this.latentCache.pool.storage;
    if (this.range && v.buffer !== this.arena.memory.buffer) this.latentCache.rebindStorage(this.view(this.range));
    return this.latentCache;
  }

  private view(r: ByteRange): Uint8Array {
    return new Uint8Array(this.arena.memory.buffer, r.ptr, r.bytes);
  }

  /** The pool's bytes in linear memory (for the kernels). */
  get pool(): ByteRange {
    return this.range ?? { ptr: 0, bytes: 0 };
  }

  /**
   * Check that the writes can be placed (LatentCache.checkPlacement) and grow the pool's range to
   * hold every block they may take. Throws CacheError (no room, memory cannot grow) with nothing
   * changed; after it returns, placing these writes cannot fail for want of storage. Inside an
   * arena call (Arena.begin) a rollback puts the old range back: its bytes are untouched, as the
   * old range is freed only when the call commits.
   */
  reserve(writes: readonly PlacedWrite[]): void {
    const cache = this.latent;
    // blocks the placement takes (fresh ids come after the pool's high-water mark, so
    // highWater + takes bounds every id it uses)
    const takes = cache.checkPlacement(writes);
    const pool = cache.pool;
    const need = Math.min(this.maxBlocks, pool.highWater + takes);
    if (need <= pool.storageBlocks) return;
    const blocks = Math.min(this.maxBlocks, Math.max(need, 2 * pool.storageBlocks));
    const prev = this.range;
    const next: ByteRange = { ptr: this.arena.alloc(blocks * this.blockBytes), bytes: blocks * this.blockBytes }; // CacheError: nothing changed
    this.arena.grow(); // memory for everything the call reserved (CacheError: the caller's rollback frees it)
    if (prev) {
      new Uint8Array(this.arena.memory.buffer).copyWithin(next.ptr, prev.ptr, prev.ptr + pool.highWater * this.blockBytes);
      this.arena.free(prev.ptr);
    }
    this.range = next;
    cache.rebindStorage(this.view(next));
    this.arena.onRollback(() => {
      this.range = prev;
      this.latentCache.rebindStorage(prev ? this.view(prev) : new Uint8Array(0));
    });
  }

  length(b: number): number {
    return this.latent.length(b);
  }
  bytesPerToken(): number {
    return this.latent.bytesPerToken();
  }
  bytesInUse(): number {
    return this.latent.bytesInUse();
  }
  /** Bytes of linear memory the pool holds now (it grows with use, up to maxBlocks blocks). */
  bytesReserved(): number {
    return this.pool.bytes;
  }
  /** kv_cache [B, T, C] and pe_cache [B, T, dr], dequantised (the official names). */
  snapshot(batch: number, endPos: number): Record<string, NamedTensor> {
    return this.latent.snapshot(batch, endPos);
  }
}
