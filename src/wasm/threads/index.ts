// The multi-threaded WASM core: a pool of workers on one shared memory (./pool.ts), the control
// protocol (./protocol.ts) and its typed error. Node defaults (worker_threads, the package's
// threaded builds): ./node.ts.
export { ThreadPool, type ThreadPoolOptions, type MlaDecodeSplitArgs, type Spawner, type SpawnedWorker, type WorkerStart, splitKeyRanges, splitHeadRanges, splitRowRanges, MIN_WORK_PER_THREAD, webSpawner } from "./pool.js";
export { ThreadError } from "./errors.js";
export { WORKER_OPS, type WorkerOp, workerSource } from "./protocol.js";
