// The loader hooks for edge runtimes (src/wasm/edge.ts, the memory budget in arena.ts/backend.ts,
// the compile-refused message in loader.ts), in Node. The real runtimes are exercised by
// `npm run test:runtimes`; here each hook is pinned down, including its failure modes.
import { afterEach, describe, expect, it, vi } from "vitest";
import { CacheError, ConfigError } from "../../src/errors.js";
import { makeConfig } from "../../src/config.js";
import { Rng, randomMlaWeights } from "../../src/weights.js";
import { WORKERS_MEMORY_LIMIT_BYTES, coreFromModules, defaultMemoryLimit, isCloudflareWorkers } from "../../src/wasm/edge.js";
import { compileCore } from "../../src/wasm/loader.js";
import { createWasmBackendFromModules, wasmBackendFromCore } from "../../src/wasm/backend.js";
import { loadCoreNode, readBinaries } from "../../src/wasm/node.js";

// Weights of ~1 MB, so a fresh layer is larger than the 256 KiB of headroom used below.
const cfg = makeConfig({ dim: 512, n_heads: 8, q_lora_rank: 0, kv_lora_rank: 64, qk_nope_head_dim: 32, qk_rope_head_dim: 16, v_head_dim: 32, max_seq_len: 4096, max_batch_size: 1 });
const weights = randomMlaWeights(cfg, new Rng(3));
const x = (n: number) => new Float32Array(n * cfg.dim).fill(0.25);

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe("coreFromModules", () => {
  it("takes the relaxed module under auto when given, simd128 otherwise; refuses what was not given", async () => {
    const simd = await WebAssembly.compile(readBinaries().simd128 as Uint8Array<ArrayBuffer>);
    const relaxed = (await loadCoreNode("relaxed")).module; // Node needs the flag; loadCoreNode sets it
    expect(coreFromModules({ simd128: simd, relaxed }).build).toBe("relaxed");
    expect(coreFromModules({ simd128: simd, relaxed }, "simd128").module).toBe(simd);
    expect(coreFromModules({ simd128: simd }).build).toBe("simd128");
    expect(() => coreFromModules({ simd128: simd }, "relaxed")).toThrow(ConfigError);
    expect(() => coreFromModules({ simd128: new Uint8Array(8) as unknown as WebAssembly.Module })).toThrow(/modules\.simd128/);
    const backend = createWasmBackendFromModules({ simd128: simd });
    const layer = await backend.createMla(cfg, weights, { path: "absorbed" });
    expect(layer.forward(x(2), { batch: 1, seqlen: 2, startPos: 0 }).every(Number.isFinite)).toBe(true);
    layer.dispose();
  });
});

describe("compile refused", () => {
  it("turns a runtime's refusal to compile valid bytes into a ConfigError that says what to do", async () => {
    vi.spyOn(WebAssembly, "compile").mockRejectedValue(new WebAssembly.CompileError("Wasm code generation disallowed by embedder"));
    const err = await compileCore(readBinaries(), "simd128").catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/createWasmBackendFromModules/);
    expect(err.message).toMatch(/disallowed by embedder/);
  });
});

describe("memory limit", () => {
  it("is 128 MiB by default only where navigator.userAgent says Cloudflare-Workers", () => {
    vi.stubGlobal("navigator", { userAgent: "Node.js/20" });
    expect(isCloudflareWorkers()).toBe(false);
    expect(defaultMemoryLimit()).toBeUndefined();
    vi.stubGlobal("navigator", { userAgent: "Cloudflare-Workers" });
    expect(defaultMemoryLimit()?.bytes).toBe(WORKERS_MEMORY_LIMIT_BYTES);
    expect(WORKERS_MEMORY_LIMIT_BYTES).toBe(134217728);
  });

  it("refuses a cache growth past the limit with CacheError, leaving the cache as it was; dispose gives memory back", async () => {
    const core = await loadCoreNode("simd128");
    const one = await wasmBackendFromCore(core).createMla(cfg, weights, { path: "absorbed" });
    const fresh = one.kernels.arena.bytesReserved();
    one.dispose();
    // Room for one fresh layer plus 256 KiB: 16 tokens fit, 2000 tokens (2000 x 80 x 4 B = 640 KB of cache) do not,
    // nor does a second layer (> 1 MB) beside the first.
    const headroom = 4 * 65536;
    expect(fresh).toBeGreaterThan(headroom);
    const backend = wasmBackendFromCore(core, { memoryLimitBytes: fresh + headroom });
    expect(backend.memoryLimitBytes).toBe(fresh + headroom);
    const layer = await backend.createMla(cfg, weights, { path: "absorbed" });
    layer.forward(x(16), { batch: 1, seqlen: 16, startPos: 0 });
    const before = layer.cache.snapshot(1, 16).kv_cache.data.slice();
    const err = (() => {
      try {
        layer.forward(x(2000), { batch: 1, seqlen: 2000, startPos: 16 });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(CacheError);
    expect((err as CacheError).expected).toMatch(/options\.memoryLimitBytes/);
    expect(layer.cache.length(0)).toBe(16);
    expect(layer.cache.snapshot(1, 16).kv_cache.data).toEqual(before);
    await expect(backend.createMla(cfg, weights, { path: "absorbed" })).rejects.toThrow(CacheError); // the budget is shared
    layer.dispose();
    (await backend.createMla(cfg, weights, { path: "absorbed" })).dispose(); // and given back
  });

  it("rejects a limit that is not a positive integer", async () => {
    const core = await loadCoreNode("simd128");
    for (const bad of [0, -1, 1.5, NaN]) expect(() => wasmBackendFromCore(core, { memoryLimitBytes: bad })).toThrow(ConfigError);
  });
});
