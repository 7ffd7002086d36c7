// The latent KV cache of MLA's absorbed path: per token the normalised latent c (C values) and the
// roped k_pe (dr values), stored in one of the formats of layout.ts, in blocks of 64 tokens taken
// from one pool, with a block table per sequence (as vLLM / FlashMLA page the cache). Sequences
// can be truncated (rollback) and forked (prefix shared, refcounted, copy on write of the shared
// partial block). Every mutating call validates everything first and then cannot fail, so a call
// that throws leaves the cache exactly as it was: writes go through one block plan (`plan`) that
// counts what the commit will take and free, and one commit that rolls every row back before any
// row takes a block.
//
// A DeepSeek-V3.2 cache (options.indexKeys) also holds the indexer's key per token (index-keys.ts)
// in the same blocks, behind the 64 latent records: every operation here (writes, fork and copy on
// write, truncate, checkpoint/restore, accounting, snapshot, saveCache) covers both.

import { type MlaConfig, isDsaConfig, validateConfig } from "../config.js";
import { CacheError, NonFiniteError, ShapeError } from "../errors.js";
import type { LayerCache, NamedTensor } from "../layer.js";
import { decodeTokens, encodeTokens } from "./codecs.js";
import { type BlockLayout, type IndexKeyLayout, blockLayout, decodeIndexKeys, encodeIndexKeys, indexKeyLayout, slotRanges } from "./index-keys.js";
import { BLOCK_TOKENS, type LatentFormat, type RangeLimit, type TokenLayout, checkLatentFormat, isDsaStorageFormat, tokenLayout } from "./layout.js";
import { BlockPool } from "./pool.js";
import { f32Bits } from "./scalar.js";

export interface LatentCacheOptions {
  /** Storage format (default "f32"; "fp8_e4m3_v32" only with a DeepSeek-V3.2 config). */
  format?: LatentFormat;
  /**
   * Also cache the lightning indexer's key per token (DeepSeek-V3.2 configs only; default false):
   * every write then carries indexK. Off, a V3.2 config's cache is an MLA latent cache like any other.
   */
  indexKeys?: boolean;
  /** Blocks in the pool (default max_batch_size * ceil(max_seq_len / 64): every row full). */
  maxBlocks?: number;
  /** Sequences open at once (default max_batch_size). */
  maxSequences?: number;
  /** Sequences opened at creation with ids 0..n-1 (batch rows; default max_batch_size). */
  sequences?: number;
  /** Backing bytes for the pool (e.g. a view of WASM memory); default a new Uint8Array. */
  storage?: Uint8Array;
}

/**
 * The largest sequence id (2^53 - 2): ids count up from 0 and are never reused, so nextId stays a
 * safe integer (<= Number.MAX_SAFE_INTEGER) and no two sequences ever get the same id; past it
 * openSequence and fork throw a CacheError.
 */
export const MAX_SEQUENCE_ID = Number.MAX_SAFE_INTEGER - 1;

/** One write of a batched call: tokens [n] at positions startPos.. of sequence seq. */
export interface CacheWrite {
  seq: number;
  startPos: number;
  /** Latent c [n, C]. */
  c: ArrayLike<number>;
  /** Roped k_pe [n, dr]. */
  kpe: ArrayLike<number>;
  /** The indexer's rotated keys [n, DI] (act_quant's input), exactly when the cache holds index keys. */
  indexK?: ArrayLike<number>;
}

/** Where one write of a batch goes: n tokens at positions startPos.. of sequence seq. */
export interface Placement {
  seq: number;
  startPos: number;
  n: number;
}

interface Sequence {
  blocks: number[];
  length: number;
}

export class LatentCache implements LayerCache {
  readonly config: MlaConfig;
  readonly format: LatentFormat;
  /** The latent record of one token. */
  readonly layout: TokenLayout<LatentFormat>;
  /** The indexer's key layout, or null when the cache holds none. */
  readonly indexKeys: IndexKeyLayout | null;
  /** Where latent records and index keys sit in a block. */
  readonly blockLayout: BlockLayout;
  readonly blockBytes: number;
  readonly maxSequences: number;
  private _pool: BlockPool;
  private seqs = new Map<number, Sequence>();
  private nextId = 0;

  constructor(config: MlaConfig, options: LatentCacheOptions = {}) {
    this.config = validateConfig({ ...config });
    this.format = checkLatentFormat(options.format ?? "f32", "options.format");
    const dsa = isDsaConfig(this.config);
    if (isDsaStorageFormat(this.format) && !dsa) throw new CacheError("options.format", this.format, "a dense format with this config (fp8_e4m3_v32 is DeepSeek-V3.2's record and takes its scale_fmt: the config needs index_n_heads, index_head_dim, index_topk, scale_fmt)");
    this.layout = tokenLayout(this.format, config.kv_lora_rank, config.qk_rope_head_dim, dsa ? this.config.scale_fmt : null);
    if (options.indexKeys !== undefined && typeof options.indexKeys !== "boolean") throw new CacheError("options.indexKeys", options.indexKeys, "true or false");
    this.indexKeys = options.indexKeys ? indexKeyLayout(this.config) : null;
    this.blockLayout = blockLayout(this.layout, this.indexKeys);
    this.blockBytes = this.blockLayout.blockBytes;
    const maxBlocks = options.maxBlocks ?? config.max_batch_size * Math.ceil(config.max_seq_len / BLOCK_TOKENS);
    this.maxSequences = options.maxSequences ?? config.max_batch_size;
    if (!Number.isInteger(this.maxSequences) || this.maxSequences < 1) throw new CacheError("options.maxSequences", this.maxSequences, "a positive integer");
    const open = options.sequences ?? config.max_batch_size;
    if (!Number.isInteger(open) || open < 0 || open > this.maxSequences) throw new CacheError("options.sequences", open, `an integer in 0..${this.maxSequences} (maxSequences)`);
    this._pool = LatentCache.newPool(this.blockBytes, maxBlocks, options.storage);
    for (let i = 0; i < open; i++) this.openSequence();
  }

  /** The block pool: storage bytes, block offsets, refcounts (read it; the cache alone changes it). */
  get pool(): BlockPool {
    return this._pool;
  }

  /** A pool the runtime cannot allocate becomes a CacheError that says what to change. */
  private static newPool(blockBytes: number, maxBlocks: number, storage?: Uint8Array): BlockPool {
    try {
      return new BlockPool(blockBytes, maxBlocks, storage);
    } catch (e) {
      if (e instanceof RangeError) {
        throw new CacheError("maxBlocks", maxBlocks, `a pool this runtime can allocate (${maxBlocks} x ${blockBytes} = ${maxBlocks * blockBytes} bytes failed); pass a smaller options.maxBlocks`, e.message);
      }
      throw e;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Sequences

  /** Open an empty sequence; returns its id. */
  openSequence(): number {
    if (this.seqs.size >= this.maxSequences) throw new CacheError("sequences", this.seqs.size + 1, `<= maxSequences (${this.maxSequences}); release one first`);
    if (this.nextId > MAX_SEQUENCE_ID) throw new CacheError("sequence id", this.nextId, `<= MAX_SEQUENCE_ID ${MAX_SEQUENCE_ID} (ids are never reused; this cache has used them all: start a new one)`);
    const id = this.nextId++;
    this.seqs.set(id, { blocks: [], length: 0 });
    return id;
  }

  /** Close a sequence and return its blocks to the pool (shared blocks stay with their other owners). */
  release(seq: number): void {
    const s = this.sequence(seq);
    for (const b of s.blocks) this.pool.drop(b);
    this.seqs.delete(seq);
  }

  sequenceIds(): number[] {
    return [...this.seqs.keys()];
  }

  hasSequence(seq: number): boolean {
    return this.seqs.has(seq);
  }

  private sequence(seq: number, field = "sequence"): Sequence {
    const s = this.seqs.get(seq);
    if (s === undefined) {
      const ids = this.sequenceIds();
      throw new CacheError(field, seq, `an open sequence id (open: ${ids.length ? ids.slice(0, 16).join(", ") + (ids.length > 16 ? ", ..." : "") : "none"})`);
    }
    return s;
  }

  /** Tokens cached for sequence (batch row) seq. */
  length(seq: number): number {
    return this.sequence(seq).length;
  }

  /** The sequence's block table (block ids in position order); a copy. */
  blockTable(seq: number): Int32Array {
    return Int32Array.from(this.sequence(seq).blocks);
  }

  // -------------------------------------------------------------------------------------------
  // Byte accounting

  /** The latent record and, with index keys, the indexer's key and scale (656 + 132 for V3.2 in fp8_e4m3_v32). */
  bytesPerToken(): number {
    return this.blockLayout.tokenBytes;
  }
  /** Bytes the pool holds (maxBlocks x 64 x bytesPerToken), allocated at creation. */
  bytesReserved(): number {
    return this.pool.maxBlocks * this.blockBytes;
  }
  /** Blocks owned by at least one sequence. */
  blocksInUse(): number {
    return this.pool.maxBlocks - this.pool.freeBlocks();
  }
  /** Bytes of blocks owned by sequences (blocksInUse x 64 x bytesPerToken). */
  bytesAllocated(): number {
    return this.blocksInUse() * this.blockBytes;
  }
  /** Bytes holding cached tokens: each block counts the slots its longest owner uses, once, however many sequences share it. */
  bytesInUse(): number {
    const used = new Map<number, number>();
    for (const s of this.seqs.values()) {
      s.blocks.forEach((b, k) => {
        const n = Math.min(BLOCK_TOKENS, s.length - k * BLOCK_TOKENS);
        used.set(b, Math.max(used.get(b) ?? 0, n));
      });
    }
    let tokens = 0;
    for (const n of used.values()) tokens += n;
    return tokens * this.blockLayout.tokenBytes;
  }

  // -------------------------------------------------------------------------------------------
  // Writing

  /** Append n tokens to seq: c [n, C], kpe [n, dr] (and indexK [n, DI] with index keys). */
  append(seq: number, c: ArrayLike<number>, kpe: ArrayLike<number>, indexK?: ArrayLike<number>): void {
    this.writeBatch([{ seq, startPos: this.length(seq), c, kpe, ...(indexK !== undefined && { indexK }) }]);
  }

  /** Write tokens at startPos (<= length; a smaller startPos rolls the sequence back first). */
  write(seq: number, startPos: number, c: ArrayLike<number>, kpe: ArrayLike<number>, indexK?: ArrayLike<number>): void {
    this.writeBatch([{ seq, startPos, c, kpe, ...(indexK !== undefined && { indexK }) }]);
  }

  /**
   * Several sequences at once (one layer call over a batch): all writes are checked (sequence,
   * shapes, capacity, free blocks for all of them together, finiteness, format range) before any
   * is carried out, so either every write happens or none.
   */
  writeBatch(writes: readonly CacheWrite[]): void {
    const W = this.layout.C + this.layout.dr, ix = this.indexKeys;
    const places = batchList(writes).map((w, i) => ({ seq: w.seq, startPos: w.startPos, n: this.tokenCount(w, i) }));
    const { seqs } = this.plan(places);
    const rows = writes.map((w, i) => this.toRows(w.c, w.kpe, places[i].n, i));
    const keys = writes.map((w, i) => (ix ? this.toKeyRows(w.indexK!, places[i].n, i) : null));
    this.commit(seqs, places, (i, t, m, at, keysAt, scalesAt) => {
      encodeTokens(this.layout, rows[i], t * W, m, this._pool.storage, at);
      if (ix) encodeIndexKeys(ix, keys[i]!, t * ix.dim, m, this._pool.storage, keysAt, scalesAt);
    });
  }

  /**
   * Room for writes whose values are encoded by the caller (the WASM layer encodes in linear
   * memory with the WASM codecs): checks sequence, startPos, capacity and free blocks for all
   * writes together like writeBatch (values are the caller's to check), then rolls each sequence
   * back to its startPos and places its n tokens, calling put(w, t, m, at, keysAt, scalesAt) for
   * each run of m tokens t..t+m-1 of write w whose latent records go to byte offset `at` of
   * pool.storage (and, with index keys, their m x DI codes to keysAt and m float32 scales to
   * scalesAt; -1 without). put must not fail.
   */
  placeBatch(writes: readonly Placement[], put: (w: number, t: number, m: number, at: number, keysAt: number, scalesAt: number) => void): void {
    this.commit(this.plan(writes).seqs, writes, put);
  }

  /**
   * placeBatch's checks alone (nothing changes): throws what placeBatch would, except for storage
   * an owner grows (pool.ts). Returns how many blocks placeBatch will take from the pool (fresh
   * blocks and copies on write), exactly: the storage must then hold
   * min(maxBlocks, pool.highWater + that) blocks.
   */
  checkPlacement(writes: readonly Placement[]): number {
    return this.plan(writes, false).takes;
  }

  /** writeBatch's value checks for write w (finite, within the format's range; indexK exactly with index keys); throws NonFiniteError / CacheError / ShapeError, changes nothing. */
  checkValues(w: number, c: ArrayLike<number>, kpe: ArrayLike<number>, indexK?: ArrayLike<number>): void {
    const write = { seq: -1, startPos: 0, c, kpe, ...(indexK !== undefined && { indexK }) };
    const n = this.tokenCount(write, w);
    this.toRows(c, kpe, n, w);
    if (this.indexKeys) this.toKeyRows(indexK!, n, w);
  }

  /**
   * Encoded records (this format) appended as they are, e.g. copied from another cache; with index
   * keys also their records (readIndexRecords' form: DI codes then the float32 scale per token).
   */
  appendRecords(seq: number, records: Uint8Array, format: LatentFormat, indexRecords?: Uint8Array): void {
    const s = this.sequence(seq);
    if (format !== this.format) throw new CacheError("format", format, `"${this.format}", the format of this cache`);
    const bpt = this.layout.bytesPerToken, ix = this.indexKeys;
    if (!(records instanceof Uint8Array) || records.length === 0 || records.length % bpt !== 0) {
      throw new ShapeError("records.length", records?.length, `a positive multiple of ${bpt} (bytes per token, ${format})`);
    }
    const n = records.length / bpt;
    if (ix === null && indexRecords !== undefined) throw new CacheError("indexRecords", "given", "absent (this cache holds no index keys: options.indexKeys)");
    if (ix !== null && !(indexRecords instanceof Uint8Array && indexRecords.length === n * ix.bytesPerToken)) {
      throw new ShapeError("indexRecords.length", indexRecords instanceof Uint8Array ? indexRecords.length : indexRecords, `${n * ix.bytesPerToken} = ${n} tokens x ${ix.bytesPerToken} (DI codes + a float32 scale)`);
    }
    const place = [{ seq, startPos: s.length, n }];
    this.commit(this.plan(place).seqs, place, (_, t, m, at, keysAt, scalesAt) => {
      const st = this._pool.storage;
      st.set(records.subarray(t * bpt, (t + m) * bpt), at);
      if (ix === null) return;
      for (let k = 0; k < m; k++) {
        const r = (t + k) * ix.bytesPerToken;
        st.set(indexRecords!.subarray(r, r + ix.dim), keysAt + k * ix.dim);
        st.set(indexRecords!.subarray(r + ix.dim, r + ix.bytesPerToken), scalesAt + 4 * k);
      }
    });
  }

  /** See BlockPool.rebind: the same bytes through a new view (after a WASM memory.grow). */
  rebindStorage(storage: Uint8Array): void {
    this._pool.rebind(storage);
  }

  /** Tokens of write i: c [n, C], kpe [n, dr] and (exactly with index keys) indexK [n, DI] must agree on a positive n. */
  private tokenCount(w: CacheWrite, i: number): number {
    const { C, dr } = this.layout, { c, kpe } = w;
    if (c === null || typeof c !== "object" || typeof c.length !== "number" || c.length % C !== 0 || c.length === 0) {
      throw new ShapeError(`writes[${i}].c.length`, c?.length, `a positive multiple of C = ${C} ([n, C])`);
    }
    const n = c.length / C;
    if (kpe === null || typeof kpe !== "object" || kpe.length !== n * dr) throw new ShapeError(`writes[${i}].kpe.length`, kpe?.length, `${n * dr} = n ${n} x dr ${dr}`);
    const ix = this.indexKeys, k = w.indexK;
    if (ix === null && k !== undefined) throw new CacheError(`writes[${i}].indexK`, "given", "absent (this cache holds no index keys: options.indexKeys)");
    if (ix !== null && (k === null || typeof k !== "object" || k.length !== n * ix.dim)) {
      throw new ShapeError(`writes[${i}].indexK.length`, k?.length, `${n * ix.dim} = n ${n} x index_head_dim ${ix.dim} (this cache holds the indexer's keys)`);
    }
    return n;
  }

  /**
   * The one block plan of every write (writeBatch, placeBatch, checkPlacement, appendRecords):
   * checks each write's sequence, startPos and capacity, then counts blocks in the order commit
   * uses them. Every rollback comes first (a block no one else holds is freed, whichever row
   * drops it last), then each write in turn: a copy of its partial block at startPos if another
   * sequence still holds it (which drops that share), and fresh blocks up to its end. Throws a
   * CacheError when the pool (free blocks plus those the rollbacks free) cannot hold them, or
   * (checkStorage) when the pool's storage is shorter than the blocks they may reach (pool.ts).
   * Changes nothing; returns the sequences in write order and the number of blocks the commit takes.
   */
  private plan(writes: readonly Placement[], checkStorage = true): { seqs: Sequence[]; takes: number } {
    const seen = new Set<number>();
    const seqs = batchList(writes).map(({ seq, startPos, n }, w) => {
      const s = this.sequence(seq, `writes[${w}].seq`);
      if (seen.has(seq)) throw new CacheError(`writes[${w}].seq`, seq, "each sequence at most once per batch");
      seen.add(seq);
      if (!Number.isInteger(startPos) || startPos < 0 || startPos > s.length) {
        throw new CacheError(`writes[${w}].startPos`, startPos, `an integer in 0..${s.length} (tokens cached for sequence ${seq}; positions are contiguous)`);
      }
      if (!Number.isInteger(n) || n < 1) throw new ShapeError(`writes[${w}].n`, n, "a positive integer (tokens)");
      if (startPos + n > this.config.max_seq_len) {
        throw new CacheError(`writes[${w}] end position`, startPos + n, `<= capacity ${this.config.max_seq_len} (max_seq_len) for sequence ${seq}`, `startPos ${startPos} + ${n} tokens`);
      }
      return s;
    });
    const refs = new Map<number, number>(); // refcounts as the commit changes them
    const ref = (b: number) => refs.get(b) ?? this._pool.refCount(b);
    let freed = 0, needed = 0;
    writes.forEach(({ startPos }, w) => {
      const blocks = seqs[w].blocks;
      for (let k = Math.ceil(startPos / BLOCK_TOKENS); k < blocks.length; k++) {
        refs.set(blocks[k], ref(blocks[k]) - 1);
        if (ref(blocks[k]) === 0) freed++;
      }
    });
    writes.forEach(({ startPos, n }, w) => {
      const keep = Math.ceil(startPos / BLOCK_TOKENS), partial = seqs[w].blocks[keep - 1];
      if (startPos % BLOCK_TOKENS !== 0 && ref(partial) > 1) {
        refs.set(partial, ref(partial) - 1); // copy on write
        needed++;
      }
      needed += Math.ceil((startPos + n) / BLOCK_TOKENS) - keep;
    });
    const available = this._pool.freeBlocks() + freed;
    if (needed > available) {
      throw new CacheError("block pool", available, `>= ${needed} free blocks for this write (pool of ${this._pool.maxBlocks} blocks of ${BLOCK_TOKENS} tokens is exhausted)`);
    }
    // The pool hands out the lowest free ids, so the takes stay below highWater + needed: storage shorter than that (an owner that grows it) would fail half-way.
    const reach = Math.min(this._pool.maxBlocks, this._pool.highWater + needed);
    if (checkStorage && reach > this._pool.storageBlocks) {
      throw new CacheError("block pool storage", this._pool.storage.length, `>= ${reach * this.blockBytes} bytes (${reach} blocks) before this write takes ${needed} blocks; grow it and rebindStorage first`);
    }
    return { seqs, takes: needed };
  }

  /** Carry out a plan; cannot fail. Every rollback first, so a write may use the blocks a later write's rollback frees. */
  private commit(seqs: Sequence[], writes: readonly Placement[], put: (w: number, t: number, m: number, at: number, keysAt: number, scalesAt: number) => void): void {
    seqs.forEach((s, w) => this.truncateUnchecked(s, writes[w].startPos));
    seqs.forEach((s, w) => this.placeTokens(s, writes[w].n, (t, m, at, keysAt, scalesAt) => put(w, t, m, at, keysAt, scalesAt)));
  }

  /** Check and round to float32 rows [n, C+dr]; throws before anything changes. */
  private toRows(c: ArrayLike<number>, kpe: ArrayLike<number>, n: number, w: number): Float32Array {
    const { C, dr, latentLimit, ropeLimit } = this.layout;
    const W = C + dr;
    const rows = new Float32Array(n * W);
    for (let t = 0; t < n; t++) {
      for (let i = 0; i < W; i++) {
        const latent = i < C;
        const v = latent ? c[t * C + i] : kpe[t * dr + i - C];
        const field = latent ? `writes[${w}].c[${t}, ${i}]` : `writes[${w}].kpe[${t}, ${i - C}]`;
        rows[t * W + i] = checkedValue(v, field, latent ? latentLimit : ropeLimit, `format ${this.format}`);
      }
    }
    return rows;
  }

  /** Check and round the index keys [n, DI] to float32 (act_quant reads bf16: each must stay finite there). */
  private toKeyRows(k: ArrayLike<number>, n: number, w: number): Float32Array {
    const ix = this.indexKeys!;
    const rows = new Float32Array(n * ix.dim);
    for (let i = 0; i < n * ix.dim; i++) rows[i] = checkedValue(k[i], `writes[${w}].indexK[${Math.floor(i / ix.dim)}, ${i % ix.dim}]`, ix.limit, "bf16 (act_quant's input of the index keys)");
    return rows;
  }

  /**
   * Place n tokens after s's last one, block by block (taking blocks, copying shared ones);
   * put(t, m, at, keysAt, scalesAt) fills tokens t..t+m-1: latent records at byte offset at, index
   * key codes at keysAt and scales at scalesAt (-1 without index keys).
   */
  private placeTokens(s: Sequence, n: number, put: (t: number, m: number, at: number, keysAt: number, scalesAt: number) => void): void {
    const bl = this.blockLayout, ix = bl.index;
    let pos = s.length, t = 0;
    while (t < n) {
      const k = Math.floor(pos / BLOCK_TOKENS), slot = pos % BLOCK_TOKENS;
      if (k === s.blocks.length) s.blocks.push(this._pool.take());
      else if (this._pool.refCount(s.blocks[k]) > 1) {
        const shared = s.blocks[k];
        s.blocks[k] = this._pool.copyOf(shared, slotRanges(bl, 0, slot)); // copy on write of the shared partial block
        this._pool.drop(shared);
      }
      const m = Math.min(n - t, BLOCK_TOKENS - slot), base = this._pool.offset(s.blocks[k]);
      put(t, m, base + slot * bl.recordBytes, ix ? base + bl.keysOffset + slot * ix.dim : -1, ix ? base + bl.scalesOffset + 4 * slot : -1);
      t += m;
      pos += m;
    }
    s.length = pos;
  }

  // -------------------------------------------------------------------------------------------
  // Rollback and sharing

  /** Forget positions >= pos (speculative decoding, edits). */
  truncate(seq: number, pos: number): void {
    const s = this.sequence(seq);
    if (!Number.isInteger(pos) || pos < 0 || pos > s.length) throw new CacheError("pos", pos, `an integer in 0..${s.length} (tokens cached for sequence ${seq})`);
    this.truncateUnchecked(s, pos);
  }

  private truncateUnchecked(s: Sequence, pos: number): void {
    const keep = Math.ceil(pos / BLOCK_TOKENS);
    while (s.blocks.length > keep) this.pool.drop(s.blocks.pop()!);
    s.length = pos;
  }

  /** A new sequence holding seq's first pos tokens, sharing its blocks (no copy). Returns the new id. */
  fork(seq: number, pos?: number): number {
    const s = this.sequence(seq);
    const at = pos ?? s.length;
    if (!Number.isInteger(at) || at < 0 || at > s.length) throw new CacheError("pos", at, `an integer in 0..${s.length} (tokens cached for sequence ${seq})`);
    const id = this.openSequence();
    const blocks = s.blocks.slice(0, Math.ceil(at / BLOCK_TOKENS));
    for (const b of blocks) this.pool.share(b);
    this.seqs.set(id, { blocks, length: at });
    return id;
  }

  // -------------------------------------------------------------------------------------------
  // Undo of a call that wrote and then failed (the WASM layer's chunked calls, a forward whose
  // result overflowed after its latents were stored)

  /**
   * What writes at these placements (any number of placeBatch / writeBatch calls at or after
   * each startPos, until restore) can change: each sequence's block table and length, and the
   * bytes the writes may overwrite. Those are the records from startPos to the end of the
   * sequence's last block, saved when the sequence rolls back (startPos < length) or its partial
   * block at startPos is shared (another holder's records there are overwritten in place once the
   * others copied it away). A pure append to a block only this sequence holds saves nothing.
   */
  checkpoint(places: readonly { seq: number; startPos: number }[]): CacheCheckpoint {
    const rows: { seq: number; blocks: number[]; length: number }[] = [];
    const bytes: { at: number; data: Uint8Array }[] = [];
    batchList(places).forEach(({ seq, startPos }, w) => {
      const s = this.sequence(seq, `places[${w}].seq`);
      if (!Number.isInteger(startPos) || startPos < 0 || startPos > s.length) throw new CacheError(`places[${w}].startPos`, startPos, `an integer in 0..${s.length} (tokens cached for sequence ${seq})`);
      rows.push({ seq, blocks: [...s.blocks], length: s.length });
      const k0 = Math.floor(startPos / BLOCK_TOKENS);
      const shared = startPos % BLOCK_TOKENS !== 0 && this._pool.refCount(s.blocks[k0]) > 1;
      if (startPos === s.length && !shared) return;
      for (let k = k0; k < s.blocks.length; k++) {
        const base = this._pool.offset(s.blocks[k]);
        for (const [from, to] of slotRanges(this.blockLayout, k === k0 ? startPos % BLOCK_TOKENS : 0, BLOCK_TOKENS)) {
          bytes.push({ at: base + from, data: this._pool.storage.slice(base + from, base + to) });
        }
      }
    });
    return { rows, bytes };
  }

  /**
   * Undo everything written since checkpoint(): the sequences' block tables and lengths as they
   * were, the pool's refcounts recounted from the tables (every block a sequence holds, once per
   * holder), and the saved bytes back in place. The free list comes back as a fresh pool lists it
   * (lowest ids first), so later writes may take other block ids than before the failed call.
   */
  restore(cp: CacheCheckpoint): void {
    const refs = new Int32Array(this._pool.maxBlocks);
    for (const s of this.seqs.values()) for (const b of s.blocks) refs[b]++;
    for (const { seq, blocks, length } of cp.rows) {
      const s = this.sequence(seq);
      for (const b of s.blocks) refs[b]--;
      for (const b of blocks) refs[b]++;
      s.blocks = [...blocks];
      s.length = length;
    }
    this._pool = BlockPool.restored(this.blockBytes, this._pool.maxBlocks, refs, this._pool.storage);
    for (const { at, data } of cp.bytes) this._pool.storage.set(data, at);
  }

  // -------------------------------------------------------------------------------------------
  // Reading

  private checkRange(s: Sequence, seq: number, start: number, end: number): void {
    if (!Number.isInteger(start) || start < 0 || start > s.length) throw new CacheError("start", start, `an integer in 0..${s.length} (sequence ${seq})`);
    if (!Number.isInteger(end) || end < start || end > s.length) throw new CacheError("end", end, `an integer in ${start}..${s.length} (sequence ${seq})`);
  }

  /** Encoded records of positions start..end-1 (a copy). */
  readRecords(seq: number, start = 0, end?: number): Uint8Array {
    const s = this.sequence(seq);
    const e = end ?? s.length;
    this.checkRange(s, seq, start, e);
    const bpt = this.layout.bytesPerToken;
    const out = new Uint8Array((e - start) * bpt);
    for (let pos = start; pos < e; ) {
      const k = Math.floor(pos / BLOCK_TOKENS), slot = pos % BLOCK_TOKENS;
      const m = Math.min(e - pos, BLOCK_TOKENS - slot);
      const from = this.pool.offset(s.blocks[k]) + slot * bpt;
      out.set(this.pool.storage.subarray(from, from + m * bpt), (pos - start) * bpt);
      pos += m;
    }
    return out;
  }

  /** Dequantised rows [end-start, C+dr] (c then k_pe per token), float32. */
  read(seq: number, start = 0, end?: number): Float32Array {
    const s = this.sequence(seq);
    const e = end ?? s.length;
    this.checkRange(s, seq, start, e);
    const W = this.layout.C + this.layout.dr, bpt = this.layout.bytesPerToken;
    const out = new Float32Array((e - start) * W);
    for (let pos = start; pos < e; ) {
      const k = Math.floor(pos / BLOCK_TOKENS), slot = pos % BLOCK_TOKENS;
      const m = Math.min(e - pos, BLOCK_TOKENS - slot);
      decodeTokens(this.layout, this.pool.storage, this.pool.offset(s.blocks[k]) + slot * bpt, m, out, (pos - start) * W);
      pos += m;
    }
    return out;
  }

  /**
   * The index keys of positions start..end-1 as stored: per token DI e4m3 codes then the float32
   * scale (little-endian), token after token (a copy; appendRecords takes the same form).
   */
  readIndexRecords(seq: number, start = 0, end?: number): Uint8Array {
    const ix = this.requireIndexKeys();
    const out = new Uint8Array(this.rangeLength(seq, start, end) * ix.bytesPerToken);
    this.forIndexRuns(seq, start, end, (pos, m, keysAt, scalesAt) => {
      for (let k = 0; k < m; k++) {
        const r = (pos - start + k) * ix.bytesPerToken;
        out.set(this.pool.storage.subarray(keysAt + k * ix.dim, keysAt + (k + 1) * ix.dim), r);
        out.set(this.pool.storage.subarray(scalesAt + 4 * k, scalesAt + 4 * (k + 1)), r + ix.dim);
      }
    });
    return out;
  }

  /** The index keys of positions start..end-1 decoded: e4m3 values [n, DI] and scales [n] (what fp8_index reads). */
  readIndexKeys(seq: number, start = 0, end?: number): { values: Float32Array; scales: Float32Array } {
    const ix = this.requireIndexKeys();
    const n = this.rangeLength(seq, start, end);
    const values = new Float32Array(n * ix.dim), scales = new Float32Array(n);
    this.forIndexRuns(seq, start, end, (pos, m, keysAt, scalesAt) => decodeIndexKeys(ix, this.pool.storage, keysAt, scalesAt, m, values, (pos - start) * ix.dim, scales, pos - start));
    return { values, scales };
  }

  private requireIndexKeys(): IndexKeyLayout {
    if (this.indexKeys === null) throw new CacheError("index keys", "none", "a cache created with options.indexKeys (a DeepSeek-V3.2 config)");
    return this.indexKeys;
  }

  private rangeLength(seq: number, start: number, end?: number): number {
    const s = this.sequence(seq), e = end ?? s.length;
    this.checkRange(s, seq, start, e);
    return e - start;
  }

  /** Each run of positions pos..pos+m-1 of start..end-1 within one block, with the byte offsets of its index codes and scales. */
  private forIndexRuns(seq: number, start: number, end: number | undefined, f: (pos: number, m: number, keysAt: number, scalesAt: number) => void): void {
    const s = this.sequence(seq), e = end ?? s.length, bl = this.blockLayout, ix = bl.index!;
    for (let pos = start; pos < e; ) {
      const k = Math.floor(pos / BLOCK_TOKENS), slot = pos % BLOCK_TOKENS;
      const m = Math.min(e - pos, BLOCK_TOKENS - slot), base = this.pool.offset(s.blocks[k]);
      f(pos, m, base + bl.keysOffset + slot * ix.dim, base + bl.scalesOffset + 4 * slot);
      pos += m;
    }
  }

  /**
   * LayerCache: kv_cache [B, T, C] and pe_cache [B, T, dr] of sequences 0..batch-1, dequantised
   * (zeros past a row's length); with index keys also model.py's indexer.k_cache [B, T, DI] (e4m3
   * values) and indexer.k_scale_cache [B, T, 1].
   */
  snapshot(batch: number, endPos: number): Record<string, NamedTensor> {
    const { C, dr } = this.layout;
    const kv = new Float32Array(batch * endPos * C), pe = new Float32Array(batch * endPos * dr);
    for (let b = 0; b < batch; b++) {
      const n = Math.min(endPos, this.length(b));
      const rows = this.read(b, 0, n);
      for (let t = 0; t < n; t++) {
        kv.set(rows.subarray(t * (C + dr), t * (C + dr) + C), (b * endPos + t) * C);
        pe.set(rows.subarray(t * (C + dr) + C, (t + 1) * (C + dr)), (b * endPos + t) * dr);
      }
    }
    const out: Record<string, NamedTensor> = { kv_cache: { shape: [batch, endPos, C], data: kv }, pe_cache: { shape: [batch, endPos, dr], data: pe } };
    const ix = this.indexKeys;
    if (ix === null) return out;
    const kc = new Float32Array(batch * endPos * ix.dim), ks = new Float32Array(batch * endPos);
    for (let b = 0; b < batch; b++) {
      const { values, scales } = this.readIndexKeys(b, 0, Math.min(endPos, this.length(b)));
      kc.set(values, b * endPos * ix.dim);
      ks.set(scales, b * endPos);
    }
    out["indexer.k_cache"] = { shape: [batch, endPos, ix.dim], data: kc };
    out["indexer.k_scale_cache"] = { shape: [batch, endPos, 1], data: ks };
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Persistence support (persist.ts)

  /** Internal state for serialisation: sequences in id order. */
  exportState(): { nextId: number; sequences: { id: number; length: number; blocks: number[] }[] } {
    return {
      nextId: this.nextId,
      sequences: [...this.seqs.entries()].map(([id, s]) => ({ id, length: s.length, blocks: [...s.blocks] })),
    };
  }

  /** Build a cache from validated state (persist.ts validates before calling). */
  static fromState(config: MlaConfig, format: LatentFormat, indexKeys: boolean, maxBlocks: number, maxSequences: number, nextId: number, sequences: { id: number; length: number; blocks: number[] }[], pool: BlockPool): LatentCache {
    const cache = new LatentCache(config, { format, indexKeys, maxBlocks: 1, maxSequences, sequences: 0 });
    cache._pool = pool;
    for (const s of sequences) cache.seqs.set(s.id, { blocks: [...s.blocks], length: s.length });
    cache.nextId = nextId;
    return cache;
  }
}

/** LatentCache.checkpoint's record: the sequences' tables and lengths, and the bytes writes may overwrite. */
export interface CacheCheckpoint {
  readonly rows: readonly { seq: number; blocks: readonly number[]; length: number }[];
  readonly bytes: readonly { at: number; data: Uint8Array }[];
}

/** A finite number whose float32 the element type holds (limit): NonFiniteError / CacheError naming the field otherwise. */
function checkedValue(v: unknown, field: string, limit: RangeLimit, where: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new NonFiniteError(field, v, "a finite number");
  if ((f32Bits(v) & 0x7fffffff) >= limit.bits) throw new CacheError(field, v, `a value that stays finite in ${where} (|x| < ${limit.magnitude} after rounding)`);
  return v;
}

/** A batch is an array of objects: anything else is a ShapeError naming the bad entry. */
function batchList<T>(writes: readonly T[]): readonly T[] {
  if (!Array.isArray(writes)) throw new ShapeError("writes", writes, "an array of writes ({ seq, startPos, ... })");
  writes.forEach((w, i) => {
    if (w === null || typeof w !== "object") throw new ShapeError(`writes[${i}]`, w, "a write ({ seq, startPos, ... })");
  });
  return writes;
}
