// The pool's one control block: a SharedArrayBuffer beside the core's shared memory, read and
// written with Atomics by the caller and every worker. No postMessage per step: the caller writes
// each worker's call (an export's index and its arguments) into the worker's slot, bumps GO and
// notifies; each worker runs its call, and the last to finish brings PENDING to 0 and notifies.
//
//   Int32 [0] GO       step counter (workers wait while it equals the last step they ran)
//   Int32 [1] PENDING  workers still running the current step
//   Int32 [2] STOP     1: leave the loop (terminate)
//   Int32 [SLOTS + w * SLOT_INTS + 0..2]  worker w: export index + 1 (0: nothing this step), argument count, status (0 ok, 1 failed)
//   Float64 [ARGS_BYTES / 8 + w * MAX_ARGS ...]  worker w's arguments (pointers, sizes, the scale)
//   Uint8 [MSG_BYTES + w * MSG_LEN ...]  worker w's last error message (UTF-16 code units clipped to bytes, NUL-terminated)

export const GO = 0;
export const PENDING = 1;
export const STOP = 2;
export const SLOTS = 16;
export const SLOT_INTS = 4;
export const MAX_ARGS = 32;
export const MSG_LEN = 512;
/** Most workers one control block serves. */
export const MAX_WORKERS = 64;
export const ARGS_BYTES = (SLOTS + MAX_WORKERS * SLOT_INTS) * 4;
export const MSG_BYTES = ARGS_BYTES + MAX_WORKERS * MAX_ARGS * 8;
export const CTRL_BYTES = MSG_BYTES + MAX_WORKERS * MSG_LEN;
/**
 * Loads of the control word a thread spins through before it sleeps in Atomics.wait (workers on
 * GO between steps, the caller on PENDING at the end of one): a few hundred microseconds. Waking a
 * sleeping worker cost ~200 us on these VMs, a step between spinning threads ~1 us
 * (tools/threads/split-overhead.mjs); a layer's next split follows within microseconds.
 */
export const SPIN_LOADS = 1 << 15;

/** The exports a worker may run (index + 1 goes into its slot); probe_peak (registers only) measures what n threads of FMA reach together; linear is GEMM/GEMV over a range of 8-column panels. */
export const WORKER_OPS = ["attn_mla_decode_range", "attn_mla_combine", "attn_mla_decode", "probe_peak", "linear", "linear_w", "mla_absorb_q_heads", "mla_absorb_q_heads_w", "mla_project_uv_heads", "mla_project_uv_heads_w", "attn_decode_naive_heads"] as const;
export type WorkerOp = (typeof WORKER_OPS)[number];

/**
 * The worker's program, as JavaScript source (no module system, nothing imported): Node runs it
 * with `new Worker(src, { eval: true })`, browsers and Deno from a Blob URL. `host` is how it gets
 * its start message and reports ready/error: Node's worker_threads (workerData, parentPort) or a
 * Web Worker's onmessage/postMessage. The start message: { module, memory, ctrl, index, ops }.
 */
export function workerSource(host: "node" | "web"): string {
  const body = `
"use strict";
const GO = ${GO}, PENDING = ${PENDING}, STOP = ${STOP}, SLOTS = ${SLOTS}, SLOT_INTS = ${SLOT_INTS}, MAX_ARGS = ${MAX_ARGS}, MSG_LEN = ${MSG_LEN}, ARGS_BYTES = ${ARGS_BYTES}, MSG_BYTES = ${MSG_BYTES}, SPIN_LOADS = ${SPIN_LOADS};
function run(data, post) {
  const i32 = new Int32Array(data.ctrl), f64 = new Float64Array(data.ctrl, ARGS_BYTES), u8 = new Uint8Array(data.ctrl, MSG_BYTES);
  const w = data.index, slot = SLOTS + w * SLOT_INTS, argBase = w * MAX_ARGS, msgBase = w * MSG_LEN;
  let fns;
  try {
    const ex = new WebAssembly.Instance(data.module, { env: { memory: data.memory } }).exports;
    fns = data.ops.map((name) => {
      if (typeof ex[name] !== "function") throw new Error("the core has no export " + name);
      return ex[name];
    });
  } catch (e) {
    post({ type: "error", message: String((e && e.message) || e) });
    return;
  }
  // the step counter before "ready": the caller may start a step as soon as it has every ready,
  // and a worker that read GO after that step began would wait for the next one
  let seen = Atomics.load(i32, GO);
  post({ type: "ready" });
  const args = [];
  for (;;) {
    for (let s = 0; s < SPIN_LOADS && Atomics.load(i32, GO) === seen; s++);
    Atomics.wait(i32, GO, seen);
    const g = Atomics.load(i32, GO);
    if (g === seen) continue;
    seen = g;
    if (Atomics.load(i32, STOP) !== 0) break;
    const op = i32[slot], n = i32[slot + 1];
    if (op > 0) {
      try {
        args.length = n;
        for (let k = 0; k < n; k++) args[k] = f64[argBase + k];
        fns[op - 1].apply(null, args);
        i32[slot + 2] = 0;
      } catch (e) {
        const m = String((e && e.message) || e);
        const len = Math.min(m.length, MSG_LEN - 1);
        for (let k = 0; k < len; k++) u8[msgBase + k] = m.charCodeAt(k) & 0x7f;
        u8[msgBase + len] = 0;
        i32[slot + 2] = 1;
      }
    }
    if (Atomics.sub(i32, PENDING, 1) === 1) Atomics.notify(i32, PENDING);
  }
}
`;
  return host === "node"
    ? `${body}\nconst { workerData, parentPort } = require("node:worker_threads");\nrun(workerData, (m) => parentPort.postMessage(m));\n`
    : `${body}\nself.onmessage = (e) => { self.onmessage = null; run(e.data, (m) => self.postMessage(m)); };\n`;
}
