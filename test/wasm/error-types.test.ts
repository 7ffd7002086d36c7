// Issue 13 item 9 on the WASM backend: calls after dispose(), bad options.path, initialCapacity,
// maxChunkTokens threw the base MlaError; a huge input a RangeError. Every failure a caller can
// cause is one of the documented types (src/errors.ts).
import { describe, expect, it } from "vitest";
import { makeConfig } from "../../src/config.js";
import { CacheError, ConfigError } from "../../src/errors.js";
import { Rng, randomMlaWeights } from "../../src/weights.js";
import { createWasmBackend } from "../../src/wasm/node.js";
import { documented } from "../reference/error-helpers.js";

const cfg = makeConfig({ dim: 8, n_heads: 2, q_lora_rank: 0, kv_lora_rank: 8, qk_nope_head_dim: 2, qk_rope_head_dim: 2, v_head_dim: 2, max_seq_len: 64, original_seq_len: 64, max_batch_size: 2 });
const w = randomMlaWeights(cfg, new Rng(1));

describe("wasm: documented error types only", () => {
  it("both paths refuse calls (and kernels) after dispose() with CacheError; the cache stays readable", async () => {
    const backend = await createWasmBackend({ build: "simd128" });
    for (const path of ["naive", "absorbed"] as const) {
      const l = await backend.createMla(cfg, w, { path });
      l.forward(new Float32Array(8), { batch: 1, seqlen: 1, startPos: 0 });
      l.dispose();
      expect(documented(() => l.forward(new Float32Array(8), { batch: 1, seqlen: 1, startPos: 1 }))).toBeInstanceOf(CacheError);
      expect(documented(() => l.kernels)).toBeInstanceOf(CacheError);
      expect(l.cache.length(0)).toBe(1);
    }
  });

  it("bad options are ConfigErrors", async () => {
    const backend = await createWasmBackend({ build: "simd128" });
    const bad = async (o: object) => {
      const e = await backend.createMla(cfg, w, { path: "absorbed", ...o } as never).then(() => undefined, (x) => x);
      return documented(() => {
        if (e) throw e;
      });
    };
    expect(await bad({ path: "fast" })).toBeInstanceOf(ConfigError);
    for (const v of [0, -1, 1.5, NaN, "4"]) {
      expect(await bad({ path: "naive", initialCapacity: v })).toBeInstanceOf(ConfigError);
      expect(await bad({ maxChunkTokens: v })).toBeInstanceOf(ConfigError);
    }
  });

  it("an input too large to copy is a CacheError (memory), not a RangeError", async () => {
    const wide = makeConfig({ ...cfg, max_seq_len: 2 ** 40, original_seq_len: 2 ** 40 });
    const backend = await createWasmBackend({ build: "simd128" });
    for (const path of ["naive", "absorbed"] as const) {
      const l = await backend.createMla(wide, randomMlaWeights(wide, new Rng(1)), { path, ...(path === "absorbed" ? { cacheBlocks: 4 } : {}) });
      const n = 2 ** 33;
      const huge = new Proxy({ length: n }, { get: (t, k) => (k === "length" ? n : 0) }) as unknown as ArrayLike<number>;
      expect(documented(() => l.forward(huge, { batch: 1, seqlen: n / 8, startPos: 0 }))).toBeInstanceOf(CacheError);
      expect(l.cache.length(0)).toBe(0);
    }
  });
});
