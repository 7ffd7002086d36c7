// @ts-check
// A Cloudflare Worker that keeps a latent KV cache per session and returns the next attention
// output. Bundle with `node examples/workerd/build.mjs`, serve with
// `npx workerd serve examples/workerd/config.capnp` (127.0.0.1:8787), then:
//   curl -X POST 127.0.0.1:8787/sessions/abc/step -d '{"token": 42}'     (or {"x": [256 numbers]})
//   curl -X DELETE 127.0.0.1:8787/sessions/abc
//   curl 127.0.0.1:8787/                                                   (config and memory)
// Sessions live in this isolate's memory: a deployment that must keep them across isolates pins
// each session to one Durable Object; the layer code stays the same.
import { CacheError, MlaError, createWasmBackendFromModules } from "mlakit";
import { DEMO_CONFIG, Sessions, demoWeights, latentCacheBytes, tokenVector } from "../demo-layer.js";
// The WASM core as Wasm modules: Workers compile them at upload (config.capnp embeds them here;
// wrangler does the same for these imports). Compiling from bytes at run time is refused there.
import simd128 from "./mla-simd128.wasm";
import relaxed from "./mla-relaxed.wasm";

// Four sessions of 15.6 MiB each when new (weights packed in each layer's memory), 21.7 MiB at
// 2048 tokens (4.5 MiB of it cache, the rest growth headroom; measured with wasm memory sizes),
// stay inside the 128 MiB isolate; the backend enforces that cap itself (CacheError -> 503).
const MAX_SESSIONS = 4;
const backend = createWasmBackendFromModules({ simd128, relaxed });
const sessions = new Sessions(backend, demoWeights(), { maxSessions: MAX_SESSIONS });

/** @param {unknown} body @param {number} [status] */
const json = (body, status = 200) => Response.json(body, { status });

export default {
  /** @param {Request} request */
  async fetch(request) {
    const url = new URL(request.url);
    const parts = url.pathname.split("/").filter(Boolean);
    try {
      if (parts.length === 0 && request.method === "GET") {
        const bytesPerNumber = backend.precision === "float64" ? 8 : 4;
        return json({
          backend: backend.name,
          build: backend.build,
          memoryLimitBytes: backend.memoryLimitBytes,
          config: DEMO_CONFIG,
          maxSessions: MAX_SESSIONS,
          cacheBytesPerToken: latentCacheBytes(DEMO_CONFIG, 1, bytesPerNumber),
          cacheBytesPerSessionAtMaxSeqLen: latentCacheBytes(DEMO_CONFIG, DEMO_CONFIG.max_seq_len, bytesPerNumber),
        });
      }
      if (parts[0] !== "sessions" || parts.length < 2) return json({ error: "not found" }, 404);
      const id = decodeURIComponent(parts[1]);
      if (parts.length === 2 && request.method === "DELETE") return json({ session: id, ended: sessions.end(id) });
      if (parts.length === 3 && parts[2] === "step" && request.method === "POST") {
        const body = /** @type {{ token?: number, x?: number[] }} */ (await request.json());
        const x = body.x ?? tokenVector(/** @type {number} */ (body.token));
        return json(await sessions.step(id, x));
      }
      return json({ error: "not found" }, 404);
    } catch (e) {
      if (e instanceof CacheError) return json({ error: e.name, field: e.field, message: e.message }, 503);
      if (e instanceof MlaError) return json({ error: e.name, field: e.field, message: e.message }, 400);
      if (e instanceof SyntaxError) return json({ error: "SyntaxError", message: `request body: ${e.message}` }, 400);
      throw e;
    }
  },
};
