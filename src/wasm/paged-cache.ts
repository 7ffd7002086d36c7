// The WASM layer's latent cache in a storage format (src/cache/layout.ts): a LatentCache whose
// block pool lives in the layer's linear memory, so the paged absorbed kernels
// (assembly/attention_absorbed_paged.ts) read the records in place. The LatentCache does all the
// bookkeeping (block tables, free blocks, rollback, fork, accounting, snapshot); this class owns
// the pool's address range, re-creates the pool's view after a memory.grow (which detaches views),
// and copies a sequence's block table into linear memory for a kernel call.

import type { MlaConfig } from "../config.js";
import { CacheError } from "../errors.js";
import type { LayerCache, NamedTensor } from "../layer.js";
import { LatentCache } from "../cache/latent-cache.js";
import { BLOCK_TOKENS, type StorageFormat, checkStorageFormat, tokenLayout } from "../cache/layout.js";
import type { Arena } from "./arena.js";

export class WasmPagedCache implements LayerCache {
  readonly format: StorageFormat;
  /** Byte address of block 0 in linear memory. */
  readonly poolPtr: number;
  readonly poolBytes: number;
  private readonly latentCache: LatentCache;
  private readonly tablePtr: number; // i32 [blocksPerRow]: the block table of the sequence being attended
  private readonly blocksPerRow: number;

  /** maxBlocks: pool size in 64-token blocks (default: every batch row full, as LatentCache). */
  constructor(private readonly arena: Arena, cfg: MlaConfig, format: StorageFormat, maxBlocks?: number) {
    this.format = checkStorageFormat(format, "options.cacheFormat");
    const layout = tokenLayout(this.format, cfg.kv_lora_rank, cfg.qk_rope_head_dim);
    this.blocksPerRow = Math.ceil(cfg.max_seq_len / BLOCK_TOKENS);
    const blocks = maxBlocks ?? cfg.max_batch_size * this.blocksPerRow;
    if (!Number.isInteger(blocks) || blocks < 1) throw new CacheError("options.cacheBlocks", maxBlocks, "a positive integer number of 64-token blocks");
    this.poolBytes = blocks * BLOCK_TOKENS * layout.bytesPerToken;
    this.poolPtr = arena.alloc(this.poolBytes); // CacheError when memory cannot hold it
    try {
      this.tablePtr = arena.alloc(4 * this.blocksPerRow);
      this.latentCache = new LatentCache(cfg, { format: this.format, maxBlocks: blocks, storage: this.view() });
    } catch (e) {
      arena.free(this.poolPtr);
      throw e;
    }
  }

  private view(): Uint8Array {
    return new Uint8Array(this.arena.memory.buffer, this.poolPtr, this.poolBytes);
  }

  /** The LatentCache over the pool (sequences 0..max_batch_size-1 are the batch rows), its view current. */
  get latent(): LatentCache {
    if (this.latentCache.pool.storage.buffer !== this.arena.memory.buffer) this.latentCache.rebindStorage(this.view());
    return this.latentCache;
  }

  /** Write sequence b's block table into linear memory; returns its byte address. */
  blockTablePtr(b: number): number {
    const t = this.latent.blockTable(b);
    new Int32Array(this.arena.memory.buffer, this.tablePtr, t.length).set(t);
    return this.tablePtr;
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
  /** Bytes of the pool (allocated once, at creation). */
  bytesReserved(): number {
    return this.latent.bytesReserved();
  }
  /** kv_cache [B, T, C] and pe_cache [B, T, dr], dequantised (the official names). */
  snapshot(batch: number, endPos: number): Record<string, NamedTensor> {
    return this.latent.snapshot(batch, endPos);
  }
}
