// The async form of the layer interface: a worker that serves layers, and clients of it.
export { type AsyncAttentionLayer, type AsyncLayerCache, type LayerWorker, asyncLayer, connectLayerWorker } from "./client.js";
export { type BackendFactories, DEFAULT_BACKENDS, serveLayers } from "./serve.js";
export { type BackendSpec, type LayerKind, type PortLike, LAYER_KINDS } from "./protocol.js";
