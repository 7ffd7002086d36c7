// The worker side of the async layer interface: `serveLayers(self)` in a Web Worker (or
// `serveLayers(parentPort, { wasm: ... })` in a Node worker thread) builds backends and layers on
// request and runs their calls one at a time, on the worker's own thread — which may block (the
// thread pool's Atomics.wait) without freezing the page that talks to it. Every error goes back
// typed; a layer that threw is as the layer contract leaves it (unchanged).

import type { AttentionLayer } from "../layer.js";
import type { Backend } from "../backend.js";
import { ConfigError, MlaError } from "../errors.js";
import { referenceBackend } from "../reference/index.js";
import { createWasmBackend } from "../wasm/backend.js";
import { CACHE_QUERIES, type CreatedLayer, type ErrorData, LAYER_KINDS, type PortLike, type Reply, type Request, listen } from "./protocol.js";

/** Backend factories by name: options as the client sent them. */
export type BackendFactories = Record<string, (options: Record<string, unknown>) => Backend | Promise<Backend>>;

/** The defaults: the float64 reference, and the WASM core fetched the library's default way (createWasmBackend of the main entry). */
export const DEFAULT_BACKENDS: BackendFactories = {
  reference: () => referenceBackend,
  wasm: (options) => createWasmBackend(options),
};

/**
 * Serve layers on `port` until it closes. `backends` adds or replaces factories (Node:
 * `{ wasm: (o) => createWasmBackend(o) }` from "mlakit/wasm-node"). Returns a function that stops
 * serving (layers still alive are disposed).
 */
export function serveLayers(port: PortLike, backends: BackendFactories = {}): () => void {
  const factories: BackendFactories = { ...DEFAULT_BACKENDS, ...backends };
  const built = new Map<string, Promise<Backend>>();
  const layers = new Map<number, AttentionLayer>();
  let nextLayer = 1;
  // one request at a time, in arrival order: a layer's calls keep their order and never overlap
  let queue: Promise<void> = Promise.resolve();

  const backendFor = (name: string, options: Record<string, unknown> = {}): Promise<Backend> => {
    const f = factories[name];
    if (!f) throw new ConfigError("backend.name", name, `one of ${Object.keys(factories).map((n) => `"${n}"`).join(", ")} (the backends this worker serves)`);
    const key = `${name} ${JSON.stringify(options)}`;
    let b = built.get(key);
    if (!b) {
      b = Promise.resolve(f(options));
      built.set(key, b);
      b.catch(() => built.delete(key));
    }
    return b;
  };
  const layerOf = (id: number): AttentionLayer => {
    const l = layers.get(id);
    if (!l) throw new ConfigError("layer", id, "a layer this worker created and has not disposed");
    return l;
  };

  const handle = async (req: Request): Promise<{ value: unknown; transfer?: Transferable[] }> => {
    switch (req.op) {
      case "create": {
        const backend = await backendFor(req.backend.name, req.backend.options);
        const method = LAYER_KINDS[req.kind];
        const make = method && (backend as unknown as Record<string, unknown>)[method];
        if (typeof make !== "function") throw new ConfigError("kind", req.kind, `a layer kind backend "${backend.name}" builds (${Object.entries(LAYER_KINDS).filter(([, m]) => typeof (backend as unknown as Record<string, unknown>)[m] === "function").map(([k]) => k).join(", ")})`);
        const layer = (await make.call(backend, req.config, req.weights, req.options ?? {})) as AttentionLayer;
        const id = nextLayer++;
        layers.set(id, layer);
        const threads = (backend as { threads?: { count: number; reason: string } }).threads;
        const created: CreatedLayer = { layer: id, kind: layer.kind, backend: layer.backend, dim: layer.dim, ...(threads && { threads: { ...threads } }) };
        return { value: created };
      }
      case "forward": {
        const y = layerOf(req.layer).forward(req.x, req.opts);
        // hand the output over without a copy when it owns its whole (non-shared) buffer
        const own = y.buffer instanceof ArrayBuffer && y.byteOffset === 0 && y.byteLength === y.buffer.byteLength;
        return { value: y, transfer: own ? [y.buffer as ArrayBuffer] : [] };
      }
      case "cache": {
        if (!CACHE_QUERIES.includes(req.query)) throw new ConfigError("query", req.query, `one of ${CACHE_QUERIES.join(", ")}`);
        const cache = layerOf(req.layer).cache as unknown as Record<string, (...a: number[]) => unknown>;
        return { value: cache[req.query](...req.args) };
      }
      case "dispose": {
        const l = layers.get(req.layer);
        layers.delete(req.layer);
        l?.dispose();
        return { value: undefined };
      }
      default:
        throw new ConfigError("op", (req as { op?: unknown }).op, "create, forward, cache or dispose");
    }
  };

  const reply = (r: Reply, transfer?: Transferable[]): void => {
    try {
      port.postMessage(r, transfer);
    } catch {
      // a value that cannot be cloned (an error's value): send it as text
      if (!r.ok) port.postMessage({ ...r, error: { ...r.error, value: String(r.error.value) } });
    }
  };
  const stop = listen(port, (data) => {
    const req = data as Request;
    if (typeof req !== "object" || req === null || typeof req.id !== "number") return;
    queue = queue.then(async () => {
      try {
        const { value, transfer } = await handle(req);
        reply({ id: req.id, ok: true, value }, transfer);
      } catch (e) {
        reply({ id: req.id, ok: false, error: errorData(e) });
      }
    });
  });
  return () => {
    stop();
    for (const l of layers.values()) l.dispose();
    layers.clear();
  };
}

function errorData(e: unknown): ErrorData {
  if (e instanceof MlaError) return { name: e.name, message: e.message, field: e.field, value: e.value, expected: e.expected };
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: "Error", message: String(e) };
}
