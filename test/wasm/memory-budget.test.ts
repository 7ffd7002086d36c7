// Issue 13 item 5: a call that fails leaves the backend's memory budget as it was. memory.grow
// cannot shrink and the budget is shared by every layer of a backend, so a call that grew memory
// and then failed used to keep its pages counted for good: after layer A's rejected 40,000-token
// call, layer B's 4096-token prefill no longer fitted and B's decode loop fitted 2048 tokens
// instead of thousands. Now a call reserves everything it needs before memory grows (a call the
// budget refuses grows nothing) and the budget counts the bytes the arenas hold, so a call that
// fails for any reason gives back what it reserved.
import { describe, expect, it } from "vitest";
import { makeConfig } from "../../src/config.js";
import { CacheError, NonFiniteError } from "../../src/errors.js";
import { Rng, randomMlaWeights } from "../../src/weights.js";
import { wasmBackendFromCore } from "../../src/wasm/backend.js";
import type { WasmMla } from "../../src/wasm/mla-layer.js";
import { core } from "./helpers.js";
import { thrown } from "../reference/error-helpers.js";

// ~1 MB of weights; a token of the f32 pool is 80 x 4 = 320 bytes; the workspace of a long call is ~11 KB per token
const cfg = makeConfig({ dim: 512, n_heads: 8, q_lora_rank: 0, kv_lora_rank: 64, qk_nope_head_dim: 32, qk_rope_head_dim: 16, v_head_dim: 32, max_seq_len: 65536, original_seq_len: 65536, max_batch_size: 1 });
const weights = randomMlaWeights(cfg, new Rng(3));
const x = (n: number, v = 0.25) => new Float32Array(n * cfg.dim).fill(v);
const MiB = 1 << 20;

/** Tokens a decode loop fits (one token per call from `start`) before the budget refuses one; stops at `cap`. */
function decodeCapacity(layer: WasmMla, start: number, cap: number): number {
  const one = x(1, 0.1);
  let n = start;
  for (; n < cap; n++) {
    try {
      layer.forward(one, { batch: 1, seqlen: 1, startPos: n });
    } catch (e) {
      expect(e).toBeInstanceOf(CacheError);
      break;
    }
  }
  return n;
}

describe("memory budget after a failed call", () => {
  it("after layer A's rejected 40,000-token call, layer B's 4096-token prefill still fits", async () => {
    const c = await core("simd128");
    const fresh = await (async () => {
      const l = await wasmBackendFromCore(c).createMla(cfg, weights, { path: "absorbed" });
      const n = l.kernels.arena.bytesReserved();
      l.dispose();
      return n;
    })();
    // room for two fresh layers and B's prefill (1.3 MB of pool + ~47 MB of workspace), not for A's call (12.8 MB + 64 MiB)
    const backend = wasmBackendFromCore(c, { memoryLimitBytes: 2 * fresh + 56 * MiB });
    const a = await backend.createMla(cfg, weights, { path: "absorbed" });
    const b = await backend.createMla(cfg, weights, { path: "absorbed" });
    const used = a.kernels.arena.budgetUsedBytes();
    expect(used).toBe(2 * fresh);
    const err = thrown(() => a.forward(x(40_000), { batch: 1, seqlen: 40_000, startPos: 0 }));
    expect(err).toBeInstanceOf(CacheError);
    expect((err as CacheError).expected).toMatch(/memoryLimitBytes/);
    expect(a.cache.length(0)).toBe(0);
    expect(a.kernels.arena.budgetUsedBytes()).toBe(used);
    expect(a.kernels.arena.bytesReserved()).toBe(fresh); // a call the budget refuses grows nothing
    expect(b.forward(x(4096), { batch: 1, seqlen: 4096, startPos: 0 }).every(Number.isFinite)).toBe(true);
    a.dispose();
    b.dispose();
  });

  it("in a decode loop B fits as many tokens after A's failed calls as before (budget refusal, pool exhaustion, a NaN mid-call)", async () => {
    const c = await core("simd128");
    const probe = await wasmBackendFromCore(c).createMla(cfg, weights, { path: "absorbed" });
    const fresh = probe.kernels.arena.bytesReserved();
    probe.dispose();
    const limit = 2 * fresh + 2 * MiB;
    /** B's decode capacity after A's successful calls (prepare) and failed calls (hurt), which must leave the budget as it was. */
    const capacityOfB = async (prepare: (a: WasmMla) => void, hurt: (a: WasmMla) => void): Promise<number> => {
      const backend = wasmBackendFromCore(c, { memoryLimitBytes: limit });
      const a = await backend.createMla(cfg, weights, { path: "absorbed", cacheBlocks: 200, maxChunkTokens: 64 });
      const b = await backend.createMla(cfg, weights, { path: "absorbed" });
      prepare(a);
      const used = a.kernels.arena.budgetUsedBytes();
      hurt(a);
      expect(a.kernels.arena.budgetUsedBytes()).toBe(used);
      const n = decodeCapacity(b, 0, 20_000);
      a.dispose();
      b.dispose();
      return n;
    };
    const first100 = (a: WasmMla) => a.forward(x(100), { batch: 1, seqlen: 100, startPos: 0 });
    const before = await capacityOfB(first100, () => {});
    expect(before).toBeGreaterThan(1000);
    // 6000 tokens: more pool than the budget holds
    const refused = await capacityOfB(first100, (a) => {
      const e = thrown(() => a.forward(x(6000), { batch: 1, seqlen: 6000, startPos: 100 }));
      expect(e).toBeInstanceOf(CacheError);
      expect((e as CacheError).expected).toMatch(/memoryLimitBytes/);
    });
    // an overflow in the third chunk of a long rollback call (after its pool grew), a call past cacheBlocks
    const failed = await capacityOfB(first100, (a) => {
      const big = x(1000);
      big.fill(1e20, 600 * cfg.dim, 601 * cfg.dim);
      expect(thrown(() => a.forward(big, { batch: 1, seqlen: 1000, startPos: 50 }))).toBeInstanceOf(NonFiniteError);
      expect(a.cache.length(0)).toBe(100);
      expect(thrown(() => a.forward(x(13_000), { batch: 1, seqlen: 13_000, startPos: 0 }))).toBeInstanceOf(CacheError); // 204 blocks > cacheBlocks 200
    });
    expect(refused).toBe(before);
    expect(failed).toBe(before);
  });
});
