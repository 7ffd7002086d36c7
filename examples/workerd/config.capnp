# workerd config for the example Worker: `npx workerd serve examples/workerd/config.capnp`.
# Everything is embedded at load, as a Cloudflare deployment ships it: the bundled worker
# (dist/worker.js, from `node examples/workerd/build.mjs`) and the WASM core as Wasm modules.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .mlaWorker) ],
  sockets = [ (name = "http", address = "127.0.0.1:8787", http = (), service = "main") ],
);

const mlaWorker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "dist/worker.js"),
    (name = "mla-simd128.wasm", wasm = embed "../../build/mla-simd128.wasm"),
    (name = "mla-relaxed.wasm", wasm = embed "../../build/mla-relaxed.wasm"),
  ],
  compatibilityDate = "2026-11-01",
);
