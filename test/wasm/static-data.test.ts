// The core's static data stays read-only: a threaded build instantiates the module once per
// worker on one shared memory, and AssemblyScript writes its data segments at every
// instantiation, so any kernel that wrote into [0, heap_base) would race with (and be reset by)
// another thread's instantiation. The bytes below heap_base after every kind of work here must
// equal the bytes right after instantiation. The threaded builds are checked on a shared memory:
// the same work, then a second instance on that memory must leave every byte as it was (its
// data segments rewrite only identical bytes).
import { describe, expect, it } from "vitest";
import { makeConfig } from "../../src/config.js";
import { randomMlaWeights, randomWeights } from "../../src/weights.js";
import { mhaWeightShapes, seedWeightShapes, type MhaConfig } from "../../src/baseline-configs.js";
import { WasmMla } from "../../src/wasm/mla-layer.js";
import { WasmMha, WasmSeedLowRank } from "../../src/wasm/baseline-layers.js";
import { KERNEL_BUILDS, Rng, kernels } from "./helpers.js";
import { WasmKernels } from "../../src/wasm/kernels.js";
import { createSharedMemory, threadedImports } from "../../src/wasm/loader.js";
import { loadThreadedCoreNode } from "../../src/wasm/threads/node.js";
import { THREADED_BUILDS } from "./threads/helpers.js";

/** GEMM/GEMV edge panels, every layer path, both baselines and the codecs, on k's memory. */
function workload(k: WasmKernels): void {
  // odd widths so every partial 8-column panel (N % 8 = 1..7) is stored
  const cfg = makeConfig({ dim: 13, n_heads: 3, q_lora_rank: 7, kv_lora_rank: 11, qk_nope_head_dim: 5, qk_rope_head_dim: 2, v_head_dim: 3, max_seq_len: 140, max_batch_size: 2 });
  const rng = new Rng(3);
  const w = randomMlaWeights(cfg, rng);
  for (const [path, cacheFormat] of [["naive", undefined], ["absorbed", "f32"], ["absorbed", "int8"], ["recompute", "bf16"]] as const) {
    const layer = new WasmMla(cfg, w, k, { path, cacheFormat });
    layer.forward(rng.normalArray(2 * 70 * cfg.dim), { batch: 2, seqlen: 70, startPos: 0 });
    layer.forward(rng.normalArray(2 * cfg.dim), { batch: 2, seqlen: 1, startPos: 70 });
    layer.dispose();
  }
  const mha: MhaConfig = { dim: 9, n_heads: 6, n_kv_heads: 2, head_dim: 5, v_head_dim: 7, rope_dim: 2, rope_theta: 1000, rope_layout: "half", max_seq_len: 140, max_batch_size: 2 };
  for (const layer of [new WasmMha(mha, randomWeights(mhaWeightShapes(mha), rng, []) as never, k), new WasmSeedLowRank({ ...mha, rank: 3 }, randomWeights(seedWeightShapes({ ...mha, rank: 3 }), rng, []) as never, k)]) {
    layer.forward(rng.normalArray(2 * 66 * mha.dim), { batch: 2, seqlen: 66, startPos: 0 });
    layer.forward(rng.normalArray(2 * mha.dim), { batch: 2, seqlen: 1, startPos: 66 });
  }
}

function firstDiff(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe.each(KERNEL_BUILDS)("%s build", (build) => {
  it("no kernel writes below heap_base (GEMM/GEMV edge panels, every layer path, both baselines, codecs)", async () => {
    const k = await kernels(build);
    const top = k.exports.heap_base();
    expect(top).toBeGreaterThan(0);
    const before = new Uint8Array(k.arena.memory.buffer, 0, top).slice();
    workload(k);
    const after = new Uint8Array(k.arena.memory.buffer, 0, top);
    let first = -1;
    for (let i = 0; i < top && first < 0; i++) if (after[i] !== before[i]) first = i;
    expect(first, `static data changed at byte ${first} of ${top}`).toBe(-1);
  });
});

describe.each(THREADED_BUILDS)("%s build on a shared memory", (build) => {
  it("no kernel writes below heap_base, and a second instance on the same memory changes no byte the first wrote", async () => {
    const core = await loadThreadedCoreNode(build);
    const memory = createSharedMemory(1, 4096);
    const k = WasmKernels.createSync(core, threadedImports(memory));
    const top = k.exports.heap_base();
    expect(top).toBeGreaterThan(0);
    const before = new Uint8Array(memory.buffer, 0, top).slice();
    workload(k);
    expect(firstDiff(new Uint8Array(memory.buffer, 0, top), before), "static data changed").toBe(-1);
    const written = new Uint8Array(memory.buffer).slice();
    expect(written.length).toBeGreaterThan(65536); // the work grew the memory past the module's page
    const second = WasmKernels.createSync(core, threadedImports(memory));
    expect(second.exports.heap_base()).toBe(top);
    const now = new Uint8Array(memory.buffer);
    expect(now.length).toBe(written.length);
    expect(firstDiff(now, written), "the second instantiation rewrote a byte").toBe(-1);
  });
});
