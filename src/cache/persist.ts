// Save a LatentCache to bytes and restore it (a request can resume on another instance).
//
// File layout (little-endian):
//   0   8  magic "MLAKVC\r\n" (the CR LF catches text-mode mangling)
//   8   4  version (u32) = 1
//   12  4  M: bytes of the metadata JSON (u32)
//   16  4  N: blocks stored (u32)
//   20  4  blockBytes (u32) = 64 x (bytesPerToken + indexKeys.bytesPerToken)
//   24  4  CRC-32 of bytes [0, 24) followed by bytes [28, end)
//   28  M  metadata, UTF-8 JSON: {config (MlaConfig), format, bytesPerToken (of the latent record),
//          blockTokens, maxBlocks, maxSequences, nextId, sequences: [{id, length, blocks: [stored
//          block indices]}], and, for a cache with index keys only, indexKeys: {dim, bytesPerToken}}
//   28+M   N x blockBytes: the blocks the sequences use, each once (shared blocks stay shared)
// The index keys are an added section of version 1, not a new version: a cache without them (and
// in a format other than fp8_e4m3_v32) is saved byte for byte as before, and every file written
// before loads. An older reader refuses a file with them (FormatError: fp8_e4m3_v32 is not a
// format it knows; otherwise blockBytes is not 64 x bytesPerToken), so none is misread.
// The file is exactly 28 + M + N x blockBytes bytes. Loading checks the caller's expectations
// (a bad one is the caller's ConfigError or CacheError), then the file's structure, lengths,
// checksum and metadata, then that the file matches the expectations, and only then builds a new
// cache: a bad file throws FormatError (structure, checksum) or CacheError (config or format
// mismatch, a pool larger than the caller allows) and nothing is half-loaded or allocated.
//
// Every number the metadata states is bounded by what the file holds or a documented maximum
// before anything is allocated: block indices < N, N <= maxBlocks <= MAX_POOL_BLOCKS (block ids
// are int32), sequence ids < nextId <= Number.MAX_SAFE_INTEGER (latent-cache.ts MAX_SEQUENCE_ID:
// ids are never reused, so a larger nextId would repeat one), lengths <= max_seq_len with exactly
// ceil(length / 64) blocks each. The pool the file describes (maxBlocks x blockBytes, allocated on
// load like the constructor's) is reserved only up to expect.maxPoolBytes: a 500-byte file can
// name a pool of terabytes, so a larger one is the caller's to allow.

import { DSA_FIELDS, type MlaConfig, MODEL_ARGS_DEFAULTS, isDsaConfig, validateConfig } from "../config.js";
import { CacheError, FormatError, MlaError } from "../errors.js";
import { crc32 } from "./crc32.js";
import { blockLayout, indexKeyLayout } from "./index-keys.js";
import { BLOCK_TOKENS, type LatentFormat, LATENT_FORMATS, checkLatentFormat, isDsaStorageFormat, tokenLayout } from "./layout.js";
import { LatentCache, MAX_SEQUENCE_ID } from "./latent-cache.js";
import { BlockPool } from "./pool.js";

/** Files written before the convention fields existed hold official configs: these fill them. */
const PRE_CONVENTION_DEFAULTS = { convention: "official", yarn: null, rope_attention_factor: 1, yarn_truncate: true } as const;

export const CACHE_FILE_MAGIC = Uint8Array.from([0x4d, 0x4c, 0x41, 0x4b, 0x56, 0x43, 0x0d, 0x0a]); // "MLAKVC\r\n"
export const CACHE_FILE_VERSION = 1;
const HEADER = 28;

/** The most blocks a pool can have: block ids and refcounts are int32 (BlockPool, blockTable). */
export const MAX_POOL_BLOCKS = 2 ** 31 - 1;
/** expect.maxPoolBytes when not given: the pool a loaded file may reserve (1 GiB), or the bytes it stores when more. */
export const DEFAULT_MAX_POOL_BYTES = 2 ** 30;

interface Meta {
  config: MlaConfig;
  format: LatentFormat;
  bytesPerToken: number;
  indexKeys?: { dim: number; bytesPerToken: number };
  blockTokens: number;
  maxBlocks: number;
  maxSequences: number;
  nextId: number;
  sequences: { id: number; length: number; blocks: number[] }[];
}

function fileCrc(bytes: Uint8Array): number {
  return crc32(bytes.subarray(HEADER), crc32(bytes.subarray(0, 24)));
}

export function saveCache(cache: LatentCache): Uint8Array {
  const state = cache.exportState();
  const local = new Map<number, number>(); // pool block id -> stored index
  const order: number[] = [];
  const sequences = state.sequences.map((s) => ({
    id: s.id,
    length: s.length,
    blocks: s.blocks.map((b) => {
      if (!local.has(b)) {
        local.set(b, order.length);
        order.push(b);
      }
      return local.get(b)!;
    }),
  }));
  const meta: Meta = {
    config: { ...cache.config },
    format: cache.format,
    bytesPerToken: cache.layout.bytesPerToken,
    blockTokens: BLOCK_TOKENS,
    maxBlocks: cache.pool.maxBlocks,
    maxSequences: cache.maxSequences,
    nextId: state.nextId,
    sequences,
    ...(cache.indexKeys && { indexKeys: { dim: cache.indexKeys.dim, bytesPerToken: cache.indexKeys.bytesPerToken } }),
  };
  const json = new TextEncoder().encode(JSON.stringify(meta));
  const bb = cache.blockBytes;
  const out = new Uint8Array(HEADER + json.length + order.length * bb);
  const dv = new DataView(out.buffer);
  out.set(CACHE_FILE_MAGIC, 0);
  dv.setUint32(8, CACHE_FILE_VERSION, true);
  dv.setUint32(12, json.length, true);
  dv.setUint32(16, order.length, true);
  dv.setUint32(20, bb, true);
  out.set(json, HEADER);
  order.forEach((b, i) => out.set(cache.pool.storage.subarray(cache.pool.offset(b), cache.pool.offset(b) + bb), HEADER + json.length + i * bb));
  dv.setUint32(24, fileCrc(out), true);
  return out;
}

export interface LoadExpectations {
  /** The config the caller will use the cache with; every field must match. */
  config?: MlaConfig;
  /** The storage format the caller expects. */
  format?: LatentFormat;
  /** Whether the caller expects the indexer's keys in the file (a CacheError when the file differs). */
  indexKeys?: boolean;
  /** Backing bytes for the restored pool (see LatentCacheOptions.storage); at least the blocks the file stores. */
  storage?: Uint8Array;
  /**
   * The largest pool the file may describe, in bytes (maxBlocks x 64 x bytesPerToken, what
   * bytesReserved() will say); default DEFAULT_MAX_POOL_BYTES (1 GiB) or the bytes the file
   * stores, whichever is larger. A file describing a larger pool throws a CacheError before
   * anything is allocated.
   */
  maxPoolBytes?: number;
}

const isNat = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** The caller's expectations, checked before the file is read: a bad one is the caller's error, not the file's. */
function checkExpectations(expect: LoadExpectations): { config?: MlaConfig; format?: LatentFormat; maxPoolBytes?: number } {
  if (typeof expect !== "object" || expect === null) throw new CacheError("expect", expect, "an object {config?, format?, indexKeys?, storage?, maxPoolBytes?}");
  const config = expect.config === undefined ? undefined : validateConfig(expect.config, "expect.config.");
  const format = expect.format === undefined ? undefined : checkLatentFormat(expect.format, "expect.format");
  if (expect.indexKeys !== undefined && typeof expect.indexKeys !== "boolean") throw new CacheError("expect.indexKeys", expect.indexKeys, "true or false");
  if (expect.storage !== undefined && !(expect.storage instanceof Uint8Array)) throw new CacheError("expect.storage", expect.storage, "a Uint8Array");
  const maxPoolBytes = expect.maxPoolBytes;
  if (maxPoolBytes !== undefined && !(isNat(maxPoolBytes) && maxPoolBytes > 0)) throw new CacheError("expect.maxPoolBytes", maxPoolBytes, "a positive safe integer (bytes)");
  return { config, format, maxPoolBytes };
}

export function loadCache(bytes: Uint8Array, expect: LoadExpectations = {}): LatentCache {
  const wanted = checkExpectations(expect);
  if (!(bytes instanceof Uint8Array)) throw new FormatError("cache file", bytes, "a Uint8Array");
  if (bytes.length < HEADER) throw new FormatError("cache file length", bytes.length, `>= ${HEADER} bytes (the header)`);
  for (let i = 0; i < CACHE_FILE_MAGIC.length; i++) {
    if (bytes[i] !== CACHE_FILE_MAGIC[i]) throw new FormatError("cache file magic", Array.from(bytes.subarray(0, 8)), `the bytes of "MLAKVC\\r\\n" (not an mlakit cache file)`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8, true);
  if (version !== CACHE_FILE_VERSION) throw new FormatError("cache file version", version, `${CACHE_FILE_VERSION}`);
  const M = dv.getUint32(12, true), N = dv.getUint32(16, true), bb = dv.getUint32(20, true);
  const want = HEADER + M + N * bb;
  if (bytes.length !== want) throw new FormatError("cache file length", bytes.length, `${want} = header ${HEADER} + metadata ${M} + ${N} blocks x ${bb} bytes (truncated or padded file)`);
  const stored = dv.getUint32(24, true), actual = fileCrc(bytes);
  if (stored !== actual) throw new FormatError("cache file crc32", `0x${actual.toString(16).padStart(8, "0")}`, `0x${stored.toString(16).padStart(8, "0")} as stored (the file is corrupted)`);

  let meta: Meta;
  try {
    meta = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(HEADER, HEADER + M))) as Meta;
  } catch (e) {
    throw new FormatError("cache file metadata", `${M} bytes`, "UTF-8 JSON", (e as Error).message);
  }
  if (typeof meta !== "object" || meta === null) throw new FormatError("metadata", meta, "an object");
  let config: MlaConfig;
  try {
    const stored: Record<string, unknown> = { ...(meta.config as object) };
    for (const [k, v] of Object.entries(PRE_CONVENTION_DEFAULTS)) if (!Object.prototype.hasOwnProperty.call(stored, k)) stored[k] = v;
    config = validateConfig(stored, "metadata.config.");
  } catch (e) {
    if (e instanceof MlaError) throw new FormatError(e.field, e.value, e.expected, "in the cache file");
    throw e;
  }
  if (!LATENT_FORMATS.includes(meta.format)) throw new FormatError("metadata.format", meta.format, `one of ${LATENT_FORMATS.join(", ")}`);
  const dsa = isDsaConfig(config);
  if (isDsaStorageFormat(meta.format) && !dsa) throw new FormatError("metadata.format", meta.format, "a dense format for this file's config (fp8_e4m3_v32 needs a DeepSeek-V3.2 config)");
  const layout = tokenLayout(meta.format, config.kv_lora_rank, config.qk_rope_head_dim, dsa ? config.scale_fmt : null);
  if (meta.bytesPerToken !== layout.bytesPerToken) throw new FormatError("metadata.bytesPerToken", meta.bytesPerToken, `${layout.bytesPerToken} for ${meta.format} with C ${config.kv_lora_rank}, dr ${config.qk_rope_head_dim}`);
  if (meta.blockTokens !== BLOCK_TOKENS) throw new FormatError("metadata.blockTokens", meta.blockTokens, `${BLOCK_TOKENS}`);
  const indexKeys = meta.indexKeys !== undefined;
  if (indexKeys) {
    if (!dsa) throw new FormatError("metadata.indexKeys", meta.indexKeys, "absent for this file's config (index keys need a DeepSeek-V3.2 config)");
    const ix = indexKeyLayout(config);
    const k = meta.indexKeys as unknown;
    if (typeof k !== "object" || k === null || (k as { dim?: unknown }).dim !== ix.dim || (k as { bytesPerToken?: unknown }).bytesPerToken !== ix.bytesPerToken) {
      throw new FormatError("metadata.indexKeys", k, `{dim: ${ix.dim}, bytesPerToken: ${ix.bytesPerToken}} (index_head_dim codes and a float32 scale)`);
    }
  }
  const blocks = blockLayout(layout, indexKeys ? indexKeyLayout(config) : null);
  if (bb !== blocks.blockBytes) throw new FormatError("cache file blockBytes", bb, `${blocks.blockBytes} = 64 x ${blocks.tokenBytes}${indexKeys ? ` (latent ${layout.bytesPerToken} + index keys ${blocks.tokenBytes - layout.bytesPerToken})` : ""}`);
  if (!isNat(meta.maxBlocks) || meta.maxBlocks < Math.max(N, 1) || meta.maxBlocks > MAX_POOL_BLOCKS) throw new FormatError("metadata.maxBlocks", meta.maxBlocks, `an integer in ${Math.max(N, 1)} (blocks stored)..${MAX_POOL_BLOCKS} (int32 block ids)`);
  if (typeof meta.maxSequences !== "number" || !Number.isInteger(meta.maxSequences) || meta.maxSequences < 1) throw new FormatError("metadata.maxSequences", meta.maxSequences, "a positive integer");
  if (!isNat(meta.nextId) || meta.nextId > MAX_SEQUENCE_ID + 1) throw new FormatError("metadata.nextId", meta.nextId, `an integer in 0..${MAX_SEQUENCE_ID + 1} (ids are never reused; the last is MAX_SEQUENCE_ID ${MAX_SEQUENCE_ID})`);
  if (!Array.isArray(meta.sequences) || meta.sequences.length > meta.maxSequences) throw new FormatError("metadata.sequences", meta.sequences, `an array of <= ${meta.maxSequences} sequences`);
  const refs = new Int32Array(N); // refcounts of the stored blocks (nothing sized by maxBlocks before the pool is allowed)
  const ids = new Set<number>();
  meta.sequences.forEach((s, i) => {
    const f = `metadata.sequences[${i}]`;
    if (typeof s !== "object" || s === null) throw new FormatError(f, s, "{id, length, blocks}");
    if (!isNat(s.id) || s.id >= meta.nextId || ids.has(s.id)) throw new FormatError(`${f}.id`, s.id, `a unique integer < nextId ${meta.nextId}`);
    ids.add(s.id);
    if (!isNat(s.length) || s.length > config.max_seq_len) throw new FormatError(`${f}.length`, s.length, `an integer in 0..${config.max_seq_len} (max_seq_len)`);
    const nb = Math.ceil(s.length / BLOCK_TOKENS);
    if (!Array.isArray(s.blocks) || s.blocks.length !== nb) throw new FormatError(`${f}.blocks`, s.blocks, `${nb} block indices (ceil(length / 64))`);
    for (const b of s.blocks) {
      if (!isNat(b) || b >= N) throw new FormatError(`${f}.blocks[]`, b, `an integer in 0..${N - 1} (blocks stored)`);
      refs[b]++;
    }
  });
  for (let b = 0; b < N; b++) if (refs[b] === 0) throw new FormatError(`block ${b}`, 0, "a stored block used by at least one sequence");

  // The file is sound; now does it belong to the caller's model, and may it reserve its pool?
  if (wanted.config !== undefined) {
    for (const key of [...Object.keys(MODEL_ARGS_DEFAULTS), ...DSA_FIELDS] as (keyof MlaConfig)[]) {
      if (config[key] !== wanted.config[key]) throw new CacheError(`config.${key}`, config[key], `${String(wanted.config[key])} (the config this cache is loaded for)`);
    }
  }
  if (wanted.format !== undefined && wanted.format !== meta.format) throw new CacheError("format", meta.format, `"${wanted.format}" (the format expected)`);
  if (expect.indexKeys !== undefined && expect.indexKeys !== indexKeys) throw new CacheError("indexKeys", indexKeys, `${expect.indexKeys} (the caller expects ${expect.indexKeys ? "" : "no "}index keys)`);
  const poolBytes = meta.maxBlocks * bb, limit = wanted.maxPoolBytes ?? Math.max(DEFAULT_MAX_POOL_BYTES, N * bb);
  if (poolBytes > limit) {
    throw new CacheError("metadata.maxBlocks", meta.maxBlocks, `a pool of <= ${limit} bytes (expect.maxPoolBytes${wanted.maxPoolBytes === undefined ? ", default" : ""}): this file's is ${meta.maxBlocks} blocks x ${bb} bytes = ${poolBytes}; pass a larger maxPoolBytes to load it`);
  }
  if (expect.storage !== undefined && expect.storage.length < N * bb) throw new CacheError("expect.storage", expect.storage, `a Uint8Array of >= ${N * bb} bytes (the ${N} blocks the file stores x ${bb} bytes)`);
  return restore(bytes.subarray(HEADER + M, want), config, meta, bb, refs, expect.storage);
}

/** Build the cache from a checked file; an allocation the runtime refuses is a CacheError (as in the LatentCache constructor). */
function restore(blocks: Uint8Array, config: MlaConfig, meta: Meta, bb: number, refs: Int32Array, storage?: Uint8Array): LatentCache {
  let pool: BlockPool;
  try {
    const all = new Int32Array(meta.maxBlocks);
    all.set(refs);
    pool = BlockPool.restored(bb, meta.maxBlocks, all, storage);
  } catch (e) {
    if (e instanceof RangeError) throw new CacheError("metadata.maxBlocks", meta.maxBlocks, `a pool this runtime can allocate (${meta.maxBlocks} x ${bb} bytes failed); pass a storage`, e.message);
    throw e;
  }
  pool.storage.set(blocks, 0);
  return LatentCache.fromState(config, meta.format, meta.indexKeys !== undefined, meta.maxBlocks, meta.maxSequences, meta.nextId, meta.sequences, pool);
}
