// The ready-to-time decode cases (src/wasm/decode-cases.ts) that `mlakit demo` and the benchmarks
// time: every path at odd sizes builds, runs, writes every output element (sentinel-filled
// buffers are overwritten, finite), gives the same output on every call (a step rolls back to S,
// so each call does the same work), and frees what it took.
import { describe, expect, it } from "vitest";
import { makeConfig } from "../../src/config.js";
import { ConfigError } from "../../src/errors.js";
import { DECODE_PATHS, attentionCase, stepCase } from "../../src/wasm/decode-cases.js";
import { wasmBackendFromCore } from "../../src/wasm/backend.js";
import { core, kernels } from "./helpers.js";

const cfg = makeConfig({ dim: 24, n_heads: 6, q_lora_rank: 10, kv_lora_rank: 20, qk_nope_head_dim: 6, qk_rope_head_dim: 4, v_head_dim: 5, max_seq_len: 200 });
const widthOf = (_path: string) => cfg.v_head_dim * cfg.n_heads; // every path: o [H, dv] (baselines keep v_head_dim)

describe("decode cases", () => {
  it.each(DECODE_PATHS)("%s: attention over 1, 64 and 130 keys and a whole step at 70, deterministic, all outputs written", async (path) => {
    const k = await kernels("simd128-assert");
    const inUse = k.arena.bytesInUse();
    for (const S of [1, 64, 130]) {
      const c = attentionCase(k, cfg, path, S, 3);
      c.run();
      const a = c.output();
      expect(a.length).toBe(widthOf(path));
      expect(a.every(Number.isFinite)).toBe(true);
      c.run();
      expect(c.output()).toEqual(a);
      c.dispose();
    }
    expect(k.arena.bytesInUse()).toBe(inUse);
    const step = await stepCase(wasmBackendFromCore(await core("simd128")), cfg, path, 70, 5);
    expect(step.context).toBe(71);
    step.run();
    const y = step.output();
    expect(y.length).toBe(cfg.dim);
    expect(y.every(Number.isFinite)).toBe(true);
    step.run();
    expect(step.output()).toEqual(y);
    step.dispose();
  });

  it("bad contexts and paths are ConfigErrors", async () => {
    const k = await kernels("simd128");
    expect(() => attentionCase(k, cfg, "naive", 0)).toThrow(ConfigError);
    expect(() => attentionCase(k, cfg, "sparse" as never, 8)).toThrow(ConfigError);
    await expect(stepCase(wasmBackendFromCore(await core("simd128")), cfg, "absorbed", 200)).rejects.toThrow(ConfigError);
  });
});
