// The browser page: a static Vite build into web/dist. It imports the library through its
// published entry (what `import "mlakit"` gives a user: dist/index.js), so the bundle proves that
// entry loads in a browser, and the WASM files the library's build wrote (build/*.wasm) as URL
// assets, so the page runs the same binaries as Node; its decode worker loads them the library's
// default way (`new URL(..., import.meta.url)` in dist/wasm/loader.js, which Vite rewrites).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Connect, type Plugin, defineConfig } from "vite";
import { forbidNodeBuiltins } from "./forbid-node-builtins.js";

/**
 * Cross-origin isolation (COOP same-origin + COEP require-corp on every response), so the page's
 * workers get SharedArrayBuffer and the decode can run on threads. `?isolation=off` on the page
 * (and on what it loads: its Referer carries the query) serves it without, to show the fallback.
 */
export const ISOLATION_HEADERS = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" } as const;
const isolationOff = (req: Connect.IncomingMessage): boolean => [req.url ?? "", String(req.headers.referer ?? "")].some((u) => /[?&]isolation=off(&|$)/.test(u));
function crossOriginIsolation(): Plugin {
  const use = (mw: Connect.Server): void => {
    mw.use((req, res, next) => {
      if (!isolationOff(req)) for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
      next();
    });
  };
  return { name: "mlakit:cross-origin-isolation", configureServer: (s) => use(s.middlewares), configurePreviewServer: (s) => use(s.middlewares) };
}

const root = fileURLToPath(new URL("..", import.meta.url));
// The file package.json publishes as `import "mlakit"` (exports["."].import), whatever it is.
const pkg = JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { exports: Record<"." | "./internal" | "./conformance", { import: string }> };
const entry = (subpath: "." | "./internal" | "./conformance") => `${root}${pkg.exports[subpath].import.replace(/^\.\//, "")}`;
export const LIBRARY_ENTRY = entry(".");

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  plugins: [forbidNodeBuiltins(), crossOriginIsolation()],
  resolve: {
    // Exact matches: "mlakit", "mlakit/conformance" (the decode worker's kit run) and the unstable "mlakit/internal" (the page's chart and formatting helpers).
    alias: [
      { find: /^mlakit$/, replacement: LIBRARY_ENTRY },
      { find: /^mlakit\/internal$/, replacement: entry("./internal") },
      { find: /^mlakit\/conformance$/, replacement: entry("./conformance") },
    ],
  },
  // The decode worker (web/src/bench-worker.ts) is a module worker, bundled with the same check.
  worker: { format: "es", plugins: () => [forbidNodeBuiltins()] },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // The official vectors are fetched as files, never inlined into the script.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1024,
  },
  server: { host: "127.0.0.1", fs: { allow: [root] } },
  preview: { host: "127.0.0.1" },
});
