// The browser page: a static Vite build into web/dist. It imports the library through its
// published entry (what `import "mlakit"` gives a user: dist/index.js), so the bundle proves that
// entry loads in a browser, and the WASM files the library's build wrote (build/*.wasm) as URL
// assets, so the page runs the same binaries as Node; its decode worker loads them the library's
// default way (`new URL(..., import.meta.url)` in dist/wasm/loader.js, which Vite rewrites).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import { forbidNodeBuiltins } from "./forbid-node-builtins.js";

const root = fileURLToPath(new URL("..", import.meta.url));
// The file package.json publishes as `import "mlakit"` (exports["."].import), whatever it is.
const pkg = JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { exports: Record<"." | "./internal", { import: string }> };
const entry = (subpath: "." | "./internal") => `${root}${pkg.exports[subpath].import.replace(/^\.\//, "")}`;
export const LIBRARY_ENTRY = entry(".");

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  plugins: [forbidNodeBuiltins()],
  resolve: {
    // Exact matches: "mlakit" and the unstable "mlakit/internal" (the page's chart and formatting helpers).
    alias: [
      { find: /^mlakit$/, replacement: LIBRARY_ENTRY },
      { find: /^mlakit\/internal$/, replacement: entry("./internal") },
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
