// @ts-check
// The one bundling path for runtimes that need a single file (workerd; Deno and Bun load the same
// file): vite's library mode, ES module output, mlakit taken from its browser-safe entry
// (dist/index.js, what `import "mlakit"` gives a user). A Node built-in reached from that entry
// fails the build with the importer's name, instead of being stubbed as vite would do for browsers.
import { builtinModules } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "vite";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** @returns {import("vite").Plugin} */
function forbidNodeBuiltins() {
  const builtins = new Set(builtinModules);
  return {
    name: "mlakit:forbid-node-builtins",
    enforce: "pre",
    resolveId(id, importer) {
      const bare = id.startsWith("node:") ? id.slice(5) : id;
      if (id.startsWith("node:") || builtins.has(bare.split("/")[0])) {
        this.error(`the browser-safe bundle reaches the Node built-in "${id}" (imported by ${importer ?? "the entry"}); edge runtimes such as workerd do not provide it`);
      }
      return null;
    },
  };
}

/**
 * Bundle `entries` (name -> file) into `outDir/<name>.js`. Imports of `*.wasm` stay external: a
 * runtime binds them itself (workerd: embedded Wasm modules).
 * @param {Record<string, string>} entries
 * @param {string} outDir
 */
export async function bundle(entries, outDir) {
  await build({
    configFile: false,
    root: ROOT,
    logLevel: "warn",
    plugins: [forbidNodeBuiltins()],
    resolve: {
      alias: [
        { find: /^mlakit\/conformance$/, replacement: join(ROOT, "dist", "conformance", "index.js") },
        { find: /^mlakit$/, replacement: join(ROOT, "dist", "index.js") },
      ],
    },
    build: {
      outDir,
      emptyOutDir: true,
      minify: false,
      target: "es2022",
      sourcemap: false,
      copyPublicDir: false,
      lib: { entry: entries, formats: ["es"], fileName: (_format, name) => `${name}.js` },
      rollupOptions: { external: [/\.wasm$/] },
    },
  });
}
