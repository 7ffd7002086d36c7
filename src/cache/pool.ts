// A pool of fixed-size blocks (BLOCK_TOKENS token records each) in one contiguous byte buffer,
// with reference counts so sequences can share blocks (fork) and copy one on write. The pool owns
// no policy: the cache decides when to take, share, copy and drop blocks.

import { CacheError } from "../errors.js";

export class BlockPool {
  private _storage: Uint8Array;
  private readonly refs: Int32Array;
  private readonly free: Int32Array; // stack of free block ids
  private freeTop: number;

  constructor(readonly blockBytes: number, readonly maxBlocks: number, storage?: Uint8Array) {
    if (!Number.isInteger(maxBlocks) || maxBlocks < 1) throw new CacheError("maxBlocks", maxBlocks, "a positive integer");
    const need = blockBytes * maxBlocks;
    if (storage !== undefined && !(storage instanceof Uint8Array && storage.length >= need)) {
      throw new CacheError("storage", storage, `a Uint8Array of >= ${need} bytes (maxBlocks ${maxBlocks} x ${blockBytes} bytes per block)`);
    }
    this._storage = storage ?? new Uint8Array(need);
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
    const need = this.blockBytes * this.maxBlocks;
    if (!(storage instanceof Uint8Array && storage.length >= need)) throw new CacheError("storage", storage, `a Uint8Array of >= ${need} bytes (maxBlocks ${this.maxBlocks} x ${this.blockBytes} bytes per block)`);
    this._storage = storage;
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
    const b = this.free[--this.freeTop];
    this.refs[b] = 1;
    return b;
  }
  share(block: number): void {
    this.refs[block]++;
  }
  drop(block: number): void {
    if (--this.refs[block] === 0) this.free[this.freeTop++] = block;
  }

  /** Take a fresh block holding a copy of the first `bytes` bytes of `block` (copy on write). */
  copyOf(block: number, bytes: number): number {
    const b = this.take();
    const src = this.offset(block);
    this.storage.copyWithin(this.offset(b), src, src + bytes);
    return b;
  }

  /** Restore exact state (persistence): block ids with refcounts; all others free. */
  static restored(blockBytes: number, maxBlocks: number, refs: Int32Array, storage?: Uint8Array): BlockPool {
    const p = new BlockPool(blockBytes, maxBlocks, storage);
    p.refs.set(refs);
    p.freeTop = 0;
    for (let i = maxBlocks - 1; i >= 0; i--) if (refs[i] === 0) p.free[p.freeTop++] = i;
    return p;
  }
}
