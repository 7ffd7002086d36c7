// Shared set-up of the thread tests: the threaded builds this runtime runs, and a paged latent
// cache (shuffled block ids, spare blocks, unused bytes 0xFF) written into a pool's shared memory.
import { BLOCK_TOKENS, type StorageFormat, tokenLayout } from "../../../src/cache/layout.js";
import { decodeTokens, encodeTokens } from "../../../src/cache/codecs.js";
import { type WasmThreadedBuild, buildUnavailable } from "../../../src/wasm/loader.js";
import type { ByteRange, F32Buf, WasmKernels } from "../../../src/wasm/kernels.js";
import { enableRelaxedSimd } from "../../../src/wasm/node.js";
import { readAllBinaries } from "../../../src/wasm/threads/node.js";
import { Rng } from "../helpers.js";

enableRelaxedSimd();
const bins = readAllBinaries();
/** The threaded builds this runtime validates (both on Node 20 once the relaxed-simd flag is set). */
export const THREADED_BUILDS: WasmThreadedBuild[] = (["simd128-threads", "relaxed-threads"] as const).filter((b) => buildUnavailable(bins, b) === undefined);

export interface PagedCache {
  pool: ByteRange;
  blocks: Int32Array;
  table: F32Buf;
  /** The keys as the kernels see them (dequantised), [len, C + dr]. */
  keys: Float32Array;
  free(): void;
}

/** A cache of len random tokens in `format` inside k's memory. */
export function pagedCache(k: WasmKernels, format: StorageFormat, len: number, C: number, dr: number, rng: Rng): PagedCache {
  const W = C + dr, layout = tokenLayout(format, C, dr), bpt = layout.bytesPerToken;
  const nb = Math.ceil(len / BLOCK_TOKENS), numBlocks = nb + 2;
  const ids = Array.from({ length: numBlocks }, (_, i) => i);
  for (let i = ids.length - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform(0, i + 1));
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  const bytes = new Uint8Array(numBlocks * BLOCK_TOKENS * bpt).fill(0xff);
  const keys = new Float32Array(len * W);
  const blocks = new Int32Array(Math.max(1, nb));
  for (let b = 0; b < nb; b++) {
    const n = Math.min(BLOCK_TOKENS, len - b * BLOCK_TOKENS), id = ids[b];
    blocks[b] = id;
    encodeTokens(layout, rng.normalArray(n * W), 0, n, bytes, id * BLOCK_TOKENS * bpt);
    decodeTokens(layout, bytes, id * BLOCK_TOKENS * bpt, n, keys, b * BLOCK_TOKENS * W);
  }
  const buf = k.alloc(Math.ceil(bytes.length / 4));
  new Uint8Array(k.arena.memory.buffer, buf.ptr, bytes.length).set(bytes);
  const table = k.alloc(Math.max(1, nb));
  return { pool: { ptr: buf.ptr, bytes: bytes.length }, blocks, table, keys, free: () => (buf.free(), table.free()) };
}
