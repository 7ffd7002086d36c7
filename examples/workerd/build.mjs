// Bundle the example Worker (mlakit's browser-safe entry included) into examples/workerd/dist/,
// through the project's one bundling path (test/runtimes/bundle.mjs, vite library mode).
// Needs `npm run build` first (dist/index.js and the WASM core).
import { join } from "node:path";
import { bundle, ROOT } from "../../test/runtimes/bundle.mjs";

await bundle({ worker: join(ROOT, "examples", "workerd", "worker.js") }, join(ROOT, "examples", "workerd", "dist"));
console.log("examples/workerd/dist/worker.js written; serve with: npx workerd serve examples/workerd/config.capnp");
