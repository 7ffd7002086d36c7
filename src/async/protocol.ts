// Messages between an AsyncAttentionLayer client (./client.ts) and the worker serving layers
// (./serve.ts). One request, one reply, matched by id; a layer is named by the id the worker gave it.
// Structured-clone only: typed arrays, plain objects, strings and numbers.

import type { ForwardOptions } from "../layer.js";

/** The layers a served backend can build: its create* method for each. */
export const LAYER_KINDS = { mla: "createMla", dsa: "createDsa", mha: "createMha", "seed-lowrank": "createSeedLowRank" } as const;
export type LayerKind = keyof typeof LAYER_KINDS;

/** LayerCache's methods that a client may ask about (all read-only). */
export const CACHE_QUERIES = ["length", "bytesPerToken", "bytesInUse", "snapshot"] as const;
export type CacheQuery = (typeof CACHE_QUERIES)[number];

/** Which backend the worker builds, by name among those it serves, with that backend's options (e.g. wasm: { build, threads }). */
export interface BackendSpec {
  name: string;
  options?: Record<string, unknown>;
}

export type Request =
  | { id: number; op: "create"; backend: BackendSpec; kind: LayerKind; config: unknown; weights: unknown; options?: Record<string, unknown> }
  | { id: number; op: "forward"; layer: number; x: Float32Array | Float64Array; opts: ForwardOptions }
  | { id: number; op: "cache"; layer: number; query: CacheQuery; args: number[] }
  | { id: number; op: "dispose"; layer: number };

/** A layer as created in the worker: what its proxy reports synchronously. */
export interface CreatedLayer {
  layer: number;
  kind: string;
  backend: string;
  dim: number;
  /** The backend's `threads` (WASM): what it got and why; absent for backends without threads. */
  threads?: { count: number; reason: string };
}

/** An error as it crossed: the MlaError subclass by name, its fields, its exact message. */
export interface ErrorData {
  name: string;
  message: string;
  field?: string;
  value?: unknown;
  expected?: string;
}

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: ErrorData };

/** What both ends talk through: a Worker, a worker's `self`, a MessagePort (Node's too) or Node's parentPort / Worker. */
export interface PortLike {
  postMessage(message: unknown, transfer?: readonly Transferable[]): void;
  addEventListener?(type: "message", listener: (ev: MessageEvent) => void): void;
  removeEventListener?(type: "message", listener: (ev: MessageEvent) => void): void;
  on?(type: "message", listener: (data: unknown) => void): void;
  off?(type: "message", listener: (data: unknown) => void): void;
  start?(): void;
}

/** Listen on any PortLike; returns the function that stops listening. */
export function listen(port: PortLike, onData: (data: unknown) => void): () => void {
  if (typeof port.on === "function") {
    port.on("message", onData);
    return () => port.off?.("message", onData);
  }
  if (typeof port.addEventListener === "function") {
    const l = (ev: MessageEvent) => onData(ev.data);
    port.addEventListener("message", l);
    port.start?.(); // a MessagePort delivers nothing until started
    return () => port.removeEventListener?.("message", l);
  }
  throw new TypeError("port: expected a Worker, MessagePort or worker scope (postMessage and addEventListener or on)");
}
