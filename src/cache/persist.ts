// Save a LatentCache to bytes and restore it (a request can resume on another instance).
//
// File layout (little-endian):
//   0   8  magic "MLAKVC\r\n" (the CR LF catches text-mode mangling)
//   8   4  version (u32) = 1
//   12  4  M: bytes of the metadata JSON (u32)
//   16  4  N: blocks stored (u32)
//   20  4  blockBytes (u32) = 64 x bytesPerToken
//   24  4  CRC-32 of bytes [0, 24) followed by bytes [28, end)
//   28  M  metadata, UTF-8 JSON: {config (MlaConfig), format, bytesPerToken, blockTokens, maxBlocks,
//          maxSequences, nextId, sequences: [{id, length, blocks: [stored block indices]}]}
//   28+M   N x blockBytes: the blocks the sequences use, each once (shared blocks stay shared)
// The file is exactly 28 + M + N x blockBytes bytes. Loading checks structure, lengths, checksum,
// metadata, then the expected config and format, and only then builds a new cache: a bad file
// throws FormatError (structure, checksum) or CacheError (config or format mismatch) and nothing
// is half-loaded.

import { type MlaConfig, MODEL_ARGS_DEFAULTS, validateConfig } from "../config.js";

/** Files written before the convention fields existed hold official configs: these fill them. */
const PRE_CONVENTION_DEFAULTS = { convention: "official", yarn: null, rope_attention_factor: 1, yarn_truncate: true } as const;
import { CacheError, FormatError, MlaError } from "../errors.js";
import { crc32 } from "./crc32.js";
import { BLOCK_TOKENS, type StorageFormat, STORAGE_FORMATS, tokenLayout } from "./layout.js";
import { LatentCache } from "./latent-cache.js";
import { BlockPool } from "./pool.js";

export const CACHE_FILE_MAGIC = Uint8Array.from([0x4d, 0x4c, 0x41, 0x4b, 0x56, 0x43, 0x0d, 0x0a]); // "MLAKVC\r\n"
export const CACHE_FILE_VERSION = 1;
const HEADER = 28;

interface Meta {
  config: MlaConfig;
  format: StorageFormat;
  bytesPerToken: number;
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
  format?: StorageFormat;
  /** Backing bytes for the restored pool (see LatentCacheOptions.storage). */
  storage?: Uint8Array;
}

const isNat = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;

export function loadCache(bytes: Uint8Array, expect: LoadExpectations = {}): LatentCache {
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
  if (!STORAGE_FORMATS.includes(meta.format)) throw new FormatError("metadata.format", meta.format, `one of ${STORAGE_FORMATS.join(", ")}`);
  const layout = tokenLayout(meta.format, config.kv_lora_rank, config.qk_rope_head_dim);
  if (meta.bytesPerToken !== layout.bytesPerToken) throw new FormatError("metadata.bytesPerToken", meta.bytesPerToken, `${layout.bytesPerToken} for ${meta.format} with C ${config.kv_lora_rank}, dr ${config.qk_rope_head_dim}`);
  if (meta.blockTokens !== BLOCK_TOKENS) throw new FormatError("metadata.blockTokens", meta.blockTokens, `${BLOCK_TOKENS}`);
  if (bb !== BLOCK_TOKENS * layout.bytesPerToken) throw new FormatError("cache file blockBytes", bb, `${BLOCK_TOKENS * layout.bytesPerToken} = 64 x ${layout.bytesPerToken}`);
  if (!isNat(meta.maxBlocks) || meta.maxBlocks < Math.max(N, 1)) throw new FormatError("metadata.maxBlocks", meta.maxBlocks, `an integer >= ${Math.max(N, 1)} (blocks stored)`);
  if (!isNat(meta.maxSequences) || meta.maxSequences < 1) throw new FormatError("metadata.maxSequences", meta.maxSequences, "a positive integer");
  if (!isNat(meta.nextId)) throw new FormatError("metadata.nextId", meta.nextId, "a non-negative integer");
  if (!Array.isArray(meta.sequences) || meta.sequences.length > meta.maxSequences) throw new FormatError("metadata.sequences", meta.sequences, `an array of <= ${meta.maxSequences} sequences`);
  const refs = new Int32Array(meta.maxBlocks);
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

  // The file is sound; now does it belong to the caller's model?
  if (expect.config !== undefined) {
    for (const key of Object.keys(MODEL_ARGS_DEFAULTS) as (keyof MlaConfig)[]) {
      if (config[key] !== expect.config[key]) throw new CacheError(`config.${key}`, config[key], `${String(expect.config[key])} (the config this cache is loaded for)`);
    }
  }
  if (expect.format !== undefined && expect.format !== meta.format) throw new CacheError("format", meta.format, `"${expect.format}" (the format expected)`);

  const pool = BlockPool.restored(bb, meta.maxBlocks, refs, expect.storage);
  pool.storage.set(bytes.subarray(HEADER + M, want), 0);
  return LatentCache.fromState(config, meta.format, meta.maxBlocks, meta.maxSequences, meta.nextId, meta.sequences, pool);
}
