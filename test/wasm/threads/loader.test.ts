// Choosing among the four builds (src/wasm/loader.ts pickBuild): "auto" falls back
// threaded-relaxed -> threaded-simd128 -> relaxed -> simd128 by WebAssembly.validate and whether
// shared memory works here (crossOriginIsolated in browsers); a build asked for by name that cannot
// run is a ConfigError on field "build" saying why. The single-threaded chooseBuild is unchanged.
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/errors.js";
import { BUILD_FALLBACK_ORDER, type WasmAllBinaries, chooseBuild, compileAnyCore, createSharedMemory, pickBuild, sharedMemorySupport } from "../../../src/wasm/loader.js";
import { enableRelaxedSimd } from "../../../src/wasm/node.js";
import { readAllBinaries } from "../../../src/wasm/threads/node.js";

enableRelaxedSimd();
const all = readAllBinaries();
const junk = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0xff]);
const g = globalThis as { crossOriginIsolated?: boolean };

afterEach(() => {
  delete g.crossOriginIsolated;
});

function configError(f: () => unknown): ConfigError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error("no error");
}

describe("pickBuild", () => {
  it("the fallback order, one build at a time taken away", () => {
    expect(BUILD_FALLBACK_ORDER).toEqual(["relaxed-threads", "simd128-threads", "relaxed", "simd128"]);
    expect(pickBuild(all).build).toBe("relaxed-threads");
    const noRelaxedThreads: WasmAllBinaries = { ...all, "relaxed-threads": junk };
    expect(pickBuild(noRelaxedThreads)).toMatchObject({ build: "simd128-threads", reason: expect.stringMatching(/relaxed-threads: this runtime does not validate it/) });
    const { "relaxed-threads": _a, "simd128-threads": _b, ...single } = all;
    expect(pickBuild(single).build).toBe("relaxed");
    expect(pickBuild({ simd128: all.simd128 }).build).toBe("simd128");
    expect(pickBuild(all, "auto", { threads: false }).build).toBe("relaxed");
  });

  it("no shared memory (a page that is not cross-origin isolated): auto takes the single-threaded builds and says why; a threaded build asked for is a ConfigError", () => {
    g.crossOriginIsolated = false;
    expect(sharedMemorySupport()).toEqual({ ok: false, reason: expect.stringMatching(/not cross-origin isolated/) });
    const p = pickBuild(all);
    expect(p.build).toBe("relaxed");
    expect(p.reason).toMatch(/relaxed-threads: SharedArrayBuffer unavailable \(not cross-origin isolated/);
    const e = configError(() => pickBuild(all, "simd128-threads"));
    expect(e.field).toBe("build");
    expect(e.value).toBe("simd128-threads");
    expect(e.message).toMatch(/COOP same-origin and COEP require-corp/);
  });

  it("a build asked for by name: taken when it runs, else a ConfigError naming field, value and why", () => {
    expect(pickBuild(all, "simd128-threads").build).toBe("simd128-threads");
    expect(pickBuild(all, "simd128").build).toBe("simd128");
    const e = configError(() => pickBuild({ simd128: all.simd128 }, "relaxed-threads"));
    expect(e.message).toMatch(/build = "relaxed-threads": expected a build this runtime can run \(no bytes of mla-relaxed-threads.wasm were given\)/);
    expect(configError(() => pickBuild(all, "threads" as never)).message).toMatch(/"auto" or one of "relaxed-threads", "simd128-threads", "relaxed", "simd128"/);
    expect(configError(() => pickBuild({ simd128: junk })).message).toMatch(/none of the given bytes validate/);
  });

  it("compileAnyCore: the threaded build imports a shared memory; the existing chooseBuild still picks among the single-threaded two", async () => {
    const c = await compileAnyCore(all);
    expect(c).toMatchObject({ variant: "relaxed-threads", build: "relaxed", threaded: true });
    expect(WebAssembly.Module.imports(c.module)).toEqual([{ module: "env", name: "memory", kind: "memory" }]);
    expect(chooseBuild(all)).toBe("relaxed");
    expect(chooseBuild(all, "simd128")).toBe("simd128");
  });

  it("createSharedMemory checks its page counts", () => {
    expect(createSharedMemory(1, 16).buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(configError(() => createSharedMemory(1, 0)).field).toBe("maximumMemoryPages");
    expect(configError(() => createSharedMemory(20, 16)).field).toBe("initialMemoryPages");
  });
});
