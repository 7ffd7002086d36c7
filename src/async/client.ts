// The async form of the layer interface, for a thread that must not block (a browser window's
// main thread): AsyncAttentionLayer. Two ways to get one, for every backend:
//   - connectLayerWorker(worker): layers live in a worker serving them (./serve.ts); forward posts
//     the input and resolves with the output, so the page keeps running while the worker (and its
//     thread pool) computes. The documented worker wrapper.
//   - asyncLayer(layer): any AttentionLayer on this thread, behind the same interface (forward
//     still runs here; for code written once against the async form).
// Errors arrive as the library's typed errors (same class, field, value, expected and message).

import type { ForwardOptions, AttentionLayer, LayerCache, Tensor } from "../layer.js";
import { CacheError, ConfigError, FormatError, MlaError, NonFiniteError, PositionError, ShapeError } from "../errors.js";
import { ThreadError } from "../wasm/threads/errors.js";
import { type BackendSpec, type CacheQuery, type CreatedLayer, type ErrorData, type LayerKind, type PortLike, type Reply, type Request, listen } from "./protocol.js";

/** LayerCache with every answer a Promise. */
export type AsyncLayerCache = { [K in CacheQuery]: (...args: Parameters<LayerCache[K]>) => Promise<ReturnType<LayerCache[K]>> };

/** AttentionLayer whose calls return Promises: the same contract (a call that rejects changed nothing), one call at a time, in order. */
export interface AsyncAttentionLayer {
  readonly kind: string;
  readonly backend: string;
  readonly dim: number;
  /** What the backend's threads are (WASM: backend.threads), when it has them. */
  readonly threads?: { count: number; reason: string };
  forward(x: ArrayLike<number>, opts: ForwardOptions): Promise<Tensor>;
  readonly cache: AsyncLayerCache;
  dispose(): Promise<void>;
}

/** Any layer on this thread behind the async interface. */
export function asyncLayer(layer: AttentionLayer, threads?: { count: number; reason: string }): AsyncAttentionLayer {
  const cache = layer.cache as unknown as Record<CacheQuery, (...a: number[]) => unknown>;
  const q = <K extends CacheQuery>(k: K) => async (...a: number[]) => cache[k](...a);
  return {
    kind: layer.kind,
    backend: layer.backend,
    dim: layer.dim,
    ...(threads && { threads }),
    forward: async (x, opts) => layer.forward(x, opts),
    cache: { length: q("length"), bytesPerToken: q("bytesPerToken"), bytesInUse: q("bytesInUse"), snapshot: q("snapshot") } as AsyncLayerCache,
    dispose: async () => layer.dispose(),
  };
}

const ERRORS: Record<string, new (field: string, value: unknown, expected: string) => MlaError> = { MlaError, ConfigError, ShapeError, PositionError, NonFiniteError, FormatError, CacheError, ThreadError };

/** The error as it was thrown in the worker: the same class (MlaError subclasses by name), fields and message. */
function rebuild(d: ErrorData): Error {
  const Cls = ERRORS[d.name];
  const e: Error = Cls ? new Cls(d.field ?? "", d.value, d.expected ?? "") : new Error(d.message);
  e.message = d.message;
  if (!Cls) e.name = d.name;
  return e;
}

/** A request without its id (the connection numbers it). */
type RequestBody = Request extends infer R ? (R extends Request ? Omit<R, "id"> : never) : never;

/** A connection to a worker that serves layers (serveLayers). */
export interface LayerWorker {
  /** A layer of `kind` ("mla", "dsa", "mha", "seed-lowrank") on backend `backend` ({ name: "wasm", options: { threads: 2 } }, or "reference"). */
  create(backend: BackendSpec | string, kind: LayerKind, config: unknown, weights: unknown, options?: Record<string, unknown>): Promise<AsyncAttentionLayer>;
  /** createMla's shorthand: create(backend, "mla", ...). */
  createMla(backend: BackendSpec | string, config: unknown, weights: unknown, options: Record<string, unknown>): Promise<AsyncAttentionLayer>;
  /** Stop listening; pending calls reject. The worker itself is the caller's to terminate. */
  close(): void;
}

/**
 * Talk to a worker running `serveLayers(self)`: e.g.
 *   const lw = connectLayerWorker(new Worker(new URL("./mla-worker.js", import.meta.url), { type: "module" }));
 *   const layer = await lw.createMla({ name: "wasm", options: { threads: 2 } }, config, weights, { path: "absorbed" });
 *   const y = await layer.forward(x, { batch: 1, seqlen: 1, startPos });
 */
export function connectLayerWorker(port: PortLike): LayerWorker {
  let nextId = 1;
  let closed: string | null = null;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  const stop = listen(port, (data) => {
    const r = data as Reply;
    const p = typeof r === "object" && r !== null ? pending.get(r.id) : undefined;
    if (!p) return;
    pending.delete(r.id);
    if (r.ok) p.resolve(r.value);
    else p.reject(rebuild(r.error));
  });
  const call = <T>(req: RequestBody, transfer: Transferable[] = []): Promise<T> => {
    if (closed) return Promise.reject(new CacheError("layer worker", "closed", "an open connection (connectLayerWorker)"));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      try {
        port.postMessage({ ...req, id }, transfer);
      } catch (e) {
        pending.delete(id);
        reject(e);
      }
    });
  };
  const create = async (backend: BackendSpec | string, kind: LayerKind, config: unknown, weights: unknown, options: Record<string, unknown> = {}): Promise<AsyncAttentionLayer> => {
    const spec = typeof backend === "string" ? { name: backend } : backend;
    const c = await call<CreatedLayer>({ op: "create", backend: spec, kind, config, weights, options });
    const q = <K extends CacheQuery>(query: K) => (...args: number[]) => call({ op: "cache", layer: c.layer, query, args });
    return {
      kind: c.kind,
      backend: c.backend,
      dim: c.dim,
      ...(c.threads && { threads: c.threads }),
      forward: (x, opts) => {
        // a copy of x owned by the message (transferred, so the caller's array stays usable)
        const copy = x instanceof Float32Array ? new Float32Array(x) : Float64Array.from(x as ArrayLike<number>);
        return call<Tensor>({ op: "forward", layer: c.layer, x: copy, opts }, [copy.buffer]);
      },
      cache: { length: q("length"), bytesPerToken: q("bytesPerToken"), bytesInUse: q("bytesInUse"), snapshot: q("snapshot") } as unknown as AsyncLayerCache,
      dispose: () => call<void>({ op: "dispose", layer: c.layer }),
    };
  };
  return {
    create,
    createMla: (backend, config, weights, options) => create(backend, "mla", config, weights, options),
    close() {
      if (closed) return;
      closed = "closed";
      stop();
      for (const p of pending.values()) p.reject(new CacheError("layer worker", "closed", "an open connection (the connection was closed with this call pending)"));
      pending.clear();
    },
  };
}
