// Loading (build choice and fallback, typed errors) and the arena allocator (no overlap,
// alignment, reuse and coalescing of freed blocks, views re-created after memory.grow).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CacheError, ConfigError, ShapeError } from "../../src/errors.js";
import { chooseBuild, compileCore } from "../../src/wasm/loader.js";
import { buildDir, loadCoreNode, packageRoot } from "../../src/wasm/node.js";
import { Arena } from "../../src/wasm/arena.js";
import { WasmKernels } from "../../src/wasm/kernels.js";
import { kernels } from "./helpers.js";

const simd128 = new Uint8Array(readFileSync(join(buildDir(), "mla-simd128.wasm")));
const relaxed = new Uint8Array(readFileSync(join(buildDir(), "mla-relaxed.wasm")));

describe("loader", () => {
  it("finds the package root and both builds from src/ (vitest) as from dist/ (CLI)", () => {
    expect(JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")).name).toBe("mlakit");
    expect(WebAssembly.validate(simd128)).toBe(true);
  });

  it("auto takes relaxed when it validates, falls back to simd128 when it does not", async () => {
    await loadCoreNode("auto"); // sets V8's relaxed-simd flag on Node 20
    expect(chooseBuild({ simd128, relaxed }, "auto")).toBe("relaxed");
    const broken = relaxed.slice(0, 40); // truncated: never validates, like relaxed opcodes on a runtime without them
    expect(chooseBuild({ simd128, relaxed: broken }, "auto")).toBe("simd128");
    expect(chooseBuild({ simd128 }, "auto")).toBe("simd128");
    expect((await compileCore({ simd128, relaxed: broken }, "auto")).build).toBe("simd128");
    expect(chooseBuild({ simd128, relaxed }, "simd128")).toBe("simd128");
  });

  it("typed errors: relaxed asked for but not valid; unknown build; invalid simd128 bytes", async () => {
    expect(() => chooseBuild({ simd128, relaxed: relaxed.slice(0, 40) }, "relaxed")).toThrow(ConfigError);
    expect(() => chooseBuild({ simd128, relaxed }, "avx512" as never)).toThrow(ConfigError);
    await expect(compileCore({ simd128: simd128.slice(0, 50) }, "simd128")).rejects.toBeInstanceOf(ConfigError);
  });

  it("each build reports its ISA; kernel names carry tile and ISA", async () => {
    for (const build of ["simd128", "relaxed"] as const) {
      const k = WasmKernels.createSync(await loadCoreNode(build));
      expect(k.exports.isa()).toBe(build === "relaxed" ? 1 : 0);
      expect(k.name("gemm_4x8")).toBe(`gemm_4x8_${build}`);
    }
  });

  it("wrappers refuse operands that do not fit their buffers (ShapeError), before calling WASM", async () => {
    const k = await kernels("simd128");
    const w = k.packNK(new Float32Array(6 * 5), 6, 5);
    const x = k.alloc(2 * 5), y = k.alloc(2 * 6 - 1);
    expect(() => k.gemm(2, x, w, y)).toThrow(ShapeError);
    expect(() => k.gemv(k.alloc(4), w, k.alloc(6))).toThrow(ShapeError);
    expect(() => x.set(new Float32Array(11))).toThrow(ShapeError);
  });
});

describe("arena", () => {
  it("blocks never overlap, are 64-byte aligned, freed space is reused and coalesced", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.record({ alloc: fc.integer({ min: 1, max: 200_000 }) }), fc.record({ free: fc.nat() })), { maxLength: 60 }), (ops) => {
        const mem = new WebAssembly.Memory({ initial: 1 });
        const a = new Arena(mem, 100);
        const live = new Map<number, number>();
        for (const op of ops) {
          if ("alloc" in op) {
            const p = a.alloc(op.alloc);
            expect(p % 64).toBe(0);
            expect(p).toBeGreaterThanOrEqual(100);
            expect(p + op.alloc).toBeLessThanOrEqual(mem.buffer.byteLength);
            for (const [q, n] of live) expect(p + op.alloc <= q || q + n <= p, `overlap ${p}+${op.alloc} with ${q}+${n}`).toBe(true);
            live.set(p, op.alloc);
          } else if (live.size > 0) {
            const p = [...live.keys()][op.free % live.size];
            a.free(p);
            live.delete(p);
          }
        }
        for (const p of [...live.keys()]) a.free(p);
        expect(a.bytesInUse()).toBe(0);
        // everything coalesced back: one allocation of all the memory now fits without growing
        const grows = a.grows;
        a.alloc(mem.buffer.byteLength - 128);
        expect(a.grows).toBe(grows);
      }),
      { numRuns: 100 },
    );
  });

  it("double free and foreign pointers throw CacheError; views follow memory.grow", () => {
    const mem = new WebAssembly.Memory({ initial: 1 });
    const a = new Arena(mem, 0);
    const p = a.alloc(16);
    a.f32[p >>> 2] = 3.5;
    const old = a.f32;
    a.alloc(200_000); // grows memory: the old view is detached
    expect(a.grows).toBe(1);
    expect(old.length).toBe(0);
    expect(a.f32[p >>> 2]).toBe(3.5);
    a.free(p);
    expect(() => a.free(p)).toThrow(CacheError);
    expect(() => a.free(12345)).toThrow(CacheError);
  });
});
