// The kernel-level MLA decode API on the WASM core: the same arguments as the oracle
// (./mla-decode.ts, FlashMLA correspondence in ./args.ts), float32, one attn_mla_decode call per
// sequence (attendCore with normalize = false: o / l and lse = m + ln l). All arena memory the
// call takes is given back before it returns, whether it succeeds or throws.

import { BLOCK_TOKENS } from "../cache/layout.js";
import type { WasmKernels } from "../wasm/kernels.js";
import { type MlaDecodeArgs, checkMlaDecodeArgs } from "./args.js";

/** o [b, s_q, h, C] and lse [b, h, s_q] in float32 (queries rounded to float32 on upload). */
export function mlaDecodeWasm(k: WasmKernels, a: MlaDecodeArgs): { o: Float32Array; lse: Float32Array } {
  checkMlaDecodeArgs(a);
  const { batch: B, seqlenQ: sq, heads: H, C, dr } = a, R = sq * H, topk = a.topk ?? 0;
  const arena = k.arena;
  arena.begin();
  try {
    const q = k.alloc(a.q.length), o = k.alloc(B * R * C), lse = k.alloc(R), lseAll = new Float32Array(B * R);
    const scratch = k.alloc(k.attnPagedScratchFloats(R, C, dr));
    const table = k.alloc(Math.max(1, a.cache.maxBlocksPerSeq));
    const pool = k.allocBytes(Math.max(1, a.cache.pool.length));
    const sel = a.indices ? k.allocBytes(4 * a.indices.length) : null;
    arena.grow();
    q.set(a.q);
    new Uint8Array(arena.memory.buffer, pool.ptr, a.cache.pool.length).set(a.cache.pool);
    if (sel) new Int32Array(arena.memory.buffer, sel.ptr, a.indices!.length).set(a.indices!);
    const poolRange = { ptr: pool.ptr, bytes: a.cache.pool.length };
    for (let b = 0; b < B; b++) {
      const len = a.cache.seqlens[b], mb = a.cache.maxBlocksPerSeq;
      const blocks = a.cache.blockTable.subarray(b * mb, b * mb + Math.ceil(len / BLOCK_TOKENS));
      k.attnMlaDecode({
        format: a.cache.format, sq, H, C, dr, len, q, qOff: b * R * (C + dr), pool: poolRange, blocks, table, scale: a.softmaxScale,
        causal: a.causal, sel: sel ? { range: sel, at: 4 * b * sq * topk, topk } : undefined, o, oOff: b * R * C, lse, scratch,
      });
      lseAll.set(lse.view(), b * R); // [H, sq] of batch row b
    }
    const out = { o: o.toArray(), lse: lseAll };
    return out;
  } finally {
    arena.rollback(); // the call's buffers: nothing of it stays in the arena
  }
}
