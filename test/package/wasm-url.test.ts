// Loading the WASM core by URL (src/wasm/loader.ts fetchCore, the browser entry's createWasmBackend)
// over a local HTTP server: the default URL points into the package's build/, wasmPaths as a base
// or per build, streaming and byte compilation, the "auto" fallback, typed errors.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../../src/errors.js";
import { createWasmBackend } from "../../src/wasm/backend.js";
import { defaultWasmUrl, fetchCore, relaxedSimdSupported, wasmUrl } from "../../src/wasm/loader.js";
import { enableRelaxedSimd } from "../../src/wasm/node.js";

const BUILD = fileURLToPath(new URL("../../build/", import.meta.url));
const files: Record<string, { body: Uint8Array | string; type: string }> = {
  "/wasm/mla-simd128.wasm": { body: readFileSync(`${BUILD}mla-simd128.wasm`), type: "application/wasm" },
  "/wasm/mla-relaxed.wasm": { body: readFileSync(`${BUILD}mla-relaxed.wasm`), type: "application/wasm" },
  // A server that sends the wrong content type: no streaming, the bytes path.
  "/plain/mla-simd128.wasm": { body: readFileSync(`${BUILD}mla-simd128.wasm`), type: "application/octet-stream" },
  // An SPA fallback page served where the relaxed build should be.
  "/html/mla-relaxed.wasm": { body: "<!doctype html><p>index</p>", type: "text/html" },
  "/html/mla-simd128.wasm": { body: readFileSync(`${BUILD}mla-simd128.wasm`), type: "application/wasm" },
  // Truncated bytes sent as application/wasm: compileStreaming fails, the bytes path names why.
  "/cut/mla-relaxed.wasm": { body: readFileSync(`${BUILD}mla-relaxed.wasm`).subarray(0, 40), type: "application/wasm" },
  "/cut/mla-simd128.wasm": { body: readFileSync(`${BUILD}mla-simd128.wasm`), type: "application/wasm" },
};
let server: Server;
let base: string;

beforeAll(async () => {
  enableRelaxedSimd(); // Node 20: relaxed SIMD validates only after the V8 flag
  server = createServer((req, res) => {
    const f = files[req.url ?? ""];
    if (!f) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": f.type }).end(f.body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe("WASM loading by URL", () => {
  it("defaults to the package's build/ beside the module; wasmPaths is a base or one URL per build", () => {
    expect(fileURLToPath(defaultWasmUrl("relaxed"))).toBe(`${BUILD}mla-relaxed.wasm`);
    expect(fileURLToPath(defaultWasmUrl("simd128"))).toBe(`${BUILD}mla-simd128.wasm`);
    expect(wasmUrl("simd128", "/static/wasm/")).toBe("/static/wasm/mla-simd128.wasm");
    expect(wasmUrl("relaxed", "/static/wasm")).toBe("/static/wasm/mla-relaxed.wasm");
    expect(wasmUrl("relaxed", new URL("https://cdn.example/mlakit/"))).toBe("https://cdn.example/mlakit/mla-relaxed.wasm");
    expect(wasmUrl("relaxed", { simd128: "/a.wasm" })).toBeUndefined();
    expect(() => wasmUrl("simd128", 42 as never)).toThrow(ConfigError);
  });

  it("auto fetches only the build it picks and compiles it (streaming or from bytes)", async () => {
    expect(relaxedSimdSupported()).toBe(true);
    expect((await fetchCore("auto", `${base}/wasm/`)).build).toBe("relaxed");
    expect((await fetchCore("simd128", `${base}/wasm/`)).build).toBe("simd128");
    expect((await fetchCore("auto", { simd128: `${base}/plain/mla-simd128.wasm` })).build).toBe("simd128");
    const backend = await createWasmBackend({ wasmPaths: `${base}/wasm/`, build: "simd128" });
    expect([backend.name, backend.build, backend.precision]).toEqual(["wasm", "simd128", "float32"]);
  });

  it("auto falls back to simd128 when the relaxed file is not WASM; asked for, it is a ConfigError", async () => {
    expect((await fetchCore("auto", `${base}/html/`)).build).toBe("simd128");
    expect((await fetchCore("auto", `${base}/cut/`)).build).toBe("simd128");
    await expect(fetchCore("relaxed", `${base}/cut/`)).rejects.toMatchObject({ field: "wasm.relaxed", value: "invalid module" });
    await expect(fetchCore("relaxed", `${base}/html/`)).rejects.toMatchObject({ name: "ConfigError", field: "wasm.relaxed" });
    await expect(fetchCore("relaxed", { simd128: `${base}/wasm/mla-simd128.wasm` })).rejects.toMatchObject({ field: "build" });
  });

  it("a missing file, an unreachable URL and Node's file: URLs are ConfigErrors that say what to do", async () => {
    await expect(fetchCore("simd128", `${base}/nowhere/`)).rejects.toMatchObject({ field: "wasmPaths", message: expect.stringContaining("HTTP 404") });
    await expect(fetchCore("auto", {})).rejects.toMatchObject({ field: "wasmPaths.simd128" });
    await expect(fetchCore("avx" as never)).rejects.toMatchObject({ field: "build" });
    await expect(fetchCore("simd128")).rejects.toMatchObject({ field: "wasmPaths", message: expect.stringContaining("mlakit/wasm-node") });
  });
});
