// @ts-check
// Node row of the matrix: `node driver-node.mjs <bundle.js> <request.json>`. Same bundle and
// request as Deno and Bun; bytes read with node:fs (the bundle itself uses no Node built-in).
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [bundle, requestFile] = process.argv.slice(2);
const req = JSON.parse(readFileSync(requestFile, "utf8"));
const { runChecks } = await import(pathToFileURL(bundle).href);
/** @type {Record<string, Uint8Array>} */
const wasm = {};
for (const [build, file] of Object.entries(req.wasm ?? {})) wasm[build] = new Uint8Array(readFileSync(/** @type {string} */ (file)));
const vectors = req.vectors.map((/** @type {{name: string, file: string}} */ v) => ({ name: v.name, text: readFileSync(v.file, "utf8") }));
// Node's threads are worker_threads, which the browser-safe bundle does not start: the row's
// threaded backend comes from mlakit/wasm-node (dist/wasm/node.js) on the same bytes.
const { createWasmBackend } = await import(new URL("../../dist/wasm/node.js", import.meta.url).href);
const makeThreaded = (/** @type {number} */ threads) => createWasmBackend({ binaries: wasm, threads, threadMinWork: 0 });
// the kit from the same copy as that backend (its typed errors are that copy's classes)
const threadedKit = await import(new URL("../../dist/conformance/index.js", import.meta.url).href);
const result = await runChecks({ runtime: `node ${process.versions.node}`, backend: req.backend, vectors, wasm, makeThreaded, threadedKit });
writeFileSync(req.out, JSON.stringify(result));
