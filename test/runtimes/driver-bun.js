// Bun row: `bun driver-bun.js <bundle.js> <request.json>`. Files are read with Bun's own API;
// the bundle is mlakit's browser-safe entry plus checks.js.
/* global Bun */
const [bundle, requestFile] = Bun.argv.slice(2);
const req = JSON.parse(await Bun.file(requestFile).text());
const { runChecks } = await import(bundle);
const wasm = {};
for (const [build, file] of Object.entries(req.wasm ?? {})) wasm[build] = new Uint8Array(await Bun.file(file).arrayBuffer());
const vectors = [];
for (const v of req.vectors) vectors.push({ name: v.name, text: await Bun.file(v.file).text() });
const result = await runChecks({ runtime: `bun ${Bun.version}`, backend: req.backend, vectors, wasm });
await Bun.write(req.out, JSON.stringify(result));
