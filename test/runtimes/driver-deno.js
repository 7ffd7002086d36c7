// Deno row: `deno run --allow-read=... --allow-write=<out dir> driver-deno.js <bundle.js> <request.json>`.
// Files are read with Deno's own API; the bundle is mlakit's browser-safe entry plus checks.js.
/* global Deno */
const [bundle, requestFile] = Deno.args;
const req = JSON.parse(await Deno.readTextFile(requestFile));
const { runChecks } = await import(new URL(`file://${bundle}`).href);
const wasm = {};
for (const [build, file] of Object.entries(req.wasm ?? {})) wasm[build] = await Deno.readFile(file);
const vectors = [];
for (const v of req.vectors) vectors.push({ name: v.name, text: await Deno.readTextFile(v.file) });
const result = await runChecks({ runtime: `deno ${Deno.version.deno}`, backend: req.backend, vectors, wasm });
await Deno.writeTextFile(req.out, JSON.stringify(result));
