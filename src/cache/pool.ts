// A pool of fixed-size blocks (BLOCK_TOKENS token records each) in one contiguous byte buffer,
// with reference counts so sequences can share blocks (fork) and copy one on write. The pool owns
// no policy: the cache decides when to take, share, copy and drop blocks.
//
// Free blocks are a stack that hands out the lowest ids first and reuses a dropped block before
// any fresh one, so every id in use is below highWater and the next n takes return ids below
// highWater + n. That lets an owner keep the storage shorter than maxBlocks blocks and grow it
// before a call that may take fresh ones (the WASM layer's pool lives in linear memory and grows
// with the cache).

import { CacheError } from "../errors.js";

export class BlockPool {
  private _storage: Uint8Array;
  private readonly refs: Int32Array;
  private readonly free: Int32Array; // stack of free block ids
  private freeTop: number;
  private _highWater = 0;

  constructor(readonly blockBytes: number, readonly maxBlocks: number, storage?: Uint8Array) {
    if (!Number.isInteger(maxBlocks) || maxBlocks < 1) throw new CacheError("maxBlocks", maxBlocks, "a positive integer");
    if (storage !== undefined && !(storage instanceof Uint8Array)) throw new CacheError("storage", storage, "a Uint8Array");
    this._storage = storage ?? new Uint8Array(blockBytes * maxBlocks);
    this.refs = new Int32Array(maxBlocks);
    this.free = new Int32Array(maxBlocks);
    for (let i = 0; i < maxBlocks; i++) this.free[i] = maxBlocks - 1 - i; // hand out 0, 1, 2, ... first
    this.freeTop = maxBlocks;
  }

  /** The pool's bytes: block b at [offset(b), offset(b) + blockBytes). */
  get storage(): Uint8Array {
    return this._storage;
  }

  /**
   * Point the pool at the same bytes through a new view: a view of WASM memory is detached by
   * memory.grow, and the owner (src/wasm/paged-cache.ts) re-creates it over the same address range.
   */
  rebind(storage: Uint8Array): void {
    const need = this.blockBytes * this.highWater;
    if (!(storage instanceof Uint8Array && storage.length >= need)) throw new CacheError("storage", storage, `a Uint8Array of >= ${need} bytes (the ${this.highWater} blocks handed out so far x ${this.blockBytes} bytes)`);
    this._storage = storage;
  }

  /** Blocks the storage holds (may be fewer than maxBlocks; see the file comment). */
  get storageBlocks(): number {
    return Math.floor(this._storage.length / this.blockBytes);
  }

  /** 1 + the largest block id ever in use (0 when none was). */
  get highWater(): number {
    return this._highWater;
  }

  freeBlocks(): number {
    return this.freeTop;
  }
  refCount(block: number): number {
    return this.refs[block];
  }
  /** Byte offset of a block in storage. */
  offset(block: number): number {
    return block * this.blockBytes;
  }

  /** Take a free block (refcount 1). The caller has checked freeBlocks() first. */
  take(): number {
    if (this.freeTop === 0) throw new CacheError("block pool", 0, "a free block (pool exhausted)", `${this.maxBlocks} blocks of ${this.blockBytes} bytes`);
    const b = this.free[this.freeTop - 1];
    if ((b + 1) * this.blockBytes > this._storage.length) throw new CacheError("block pool storage", this._storage.length, `>= ${(b + 1) * this.blockBytes} bytes for block ${b} (the owner grows it before a call)`);
    this.freeTop--;
    this.refs[b] = 1;
    if (b >= this._highWater) this._highWater = b + 1;
    return b;
  }
  share(block: number): void {
    this.refs[block]++;
  }
  drop(block: number): void {
    if (--this.refs[block] === 0) this.free[this.freeTop++] = block;
  }

  /** Take a fresh block holding a copy of the byte ranges [start, end) of `block` (offsets within a block; copy on write). */
  copyOf(block: number, ranges: readonly (readonly [number, number])[]): number {
    const b = this.take();
    const src = this.offset(block), dst = this.offset(b);
    for (const [start, end] of ranges) this.storage.copyWithin(dst + start, src + start, src + end);
    return b;
  }

  /** Restore exact state (persistence): block ids with refcounts; all others free. */
  static restored(blockBytes: number, maxBlocks: number, refs: Int32Array, storage?: Uint8Array): BlockPool {
    const p = new BlockPool(blockBytes, maxBlocks, storage);
    p.refs.set(refs);
    p.freeTop = 0;
    for (let i = maxBlocks - 1; i >= 0; i--) if (refs[i] === 0) p.free[p.freeTop++] = i;
    for (let i = 0; i < maxBlocks; i++) if (refs[i] > 0) p._highWater = i + 1;
    return p;
  }
}
