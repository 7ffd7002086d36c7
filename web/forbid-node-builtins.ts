// A Vite/Rolldown plugin that fails the build when anything in the bundle imports a Node built-in
// (fs, path, v8, node:*). Vite would otherwise swap in an empty stub with only a warning, and the
// page would break at run time instead of at build time. The library's entry must stay
// browser-safe; this is the check (test/browser/ builds a fixture to prove it can fail).
import { builtinModules } from "node:module";
import type { Plugin } from "vite";

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

export function isNodeBuiltin(id: string): boolean {
  return id.startsWith("node:") || BUILTINS.has(id) || BUILTINS.has(id.split("/")[0]);
}

export function forbidNodeBuiltins(): Plugin {
  return {
    name: "mlakit:forbid-node-builtins",
    enforce: "pre",
    resolveId(id, importer) {
      if (isNodeBuiltin(id)) {
        this.error(`browser bundle imports the Node built-in "${id}" (from ${importer ?? "the entry"}); the library's browser path must not use Node built-ins`);
      }
      return null;
    },
  };
}
