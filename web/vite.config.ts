// The browser page: a static Vite build into web/dist. It imports the library through its
// published entry (dist/index.js, what `import "mlakit"` gives a user), so the bundle proves that
// entry loads in a browser, and the WASM files the library's build wrote (build/*.wasm) as URL
// assets, so the page runs the same binaries as Node.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import { forbidNodeBuiltins } from "./forbid-node-builtins.js";

const root = fileURLToPath(new URL("..", import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  plugins: [forbidNodeBuiltins()],
  resolve: {
    alias: { mlakit: `${root}dist/index.js` },
  },
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
