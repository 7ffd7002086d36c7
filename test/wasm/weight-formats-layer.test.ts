// WasmMla with compressed projections (weightFormat bf16 / int8 / fp8) == the float64 oracle on
// the exact dequantised weights, at the float32 tolerance (the dequantisation is exact, so the
// tolerance does not widen): random configs and schedules, absorbed and naive paths, both builds,
// on one thread and on two; a checkpoint's quantised tensors pass through as they are; the
// conformance kit on a backend given compressed weights; bad quantised tensors give typed errors.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ReferenceMla } from "../../src/reference/mla.js";
import { makeConfig } from "../../src/config.js";
import { Rng, mlaWeightShapes, randomMlaWeights } from "../../src/weights.js";
import { firstMismatch, toleranceFor } from "../../src/numerics.js";
import { FormatError, ShapeError } from "../../src/errors.js";
import { type MlaWeightsInput, type QuantisedWeight, convertMlaWeights } from "../../src/weight-formats.js";
import { WasmMla } from "../../src/wasm/mla-layer.js";
import { createWasmBackend } from "../../src/wasm/node.js";
import { PROPERTY_NAMES, checkBackend } from "../../src/conformance/index.js";
import { BUILDS, kernels } from "./helpers.js";
import { concreteCalls, scheduleArb, wasmConfigArb } from "./arb.js";

const { atol, rtol } = toleranceFor("float32");

/** What an async call rejected with (undefined when it resolved). */
async function rejected(f: () => Promise<unknown>): Promise<unknown> {
  try {
    await f();
  } catch (e) {
    return e;
  }
  return undefined;
}
const FORMATS = ["bf16", "int8", "fp8"] as const;

function mismatch(got: ArrayLike<number>, ref: ArrayLike<number>): string | null {
  const i = firstMismatch(got, ref, atol, rtol);
  return i < 0 ? null : `element ${i} of ${ref.length}: wasm ${got[i]}, reference ${ref[i]}`;
}

describe.each(BUILDS)("%s build", (build) => {
  it.each(["absorbed", "naive"] as const)("%s path with compressed weights == the oracle on the dequantised weights", async (path) => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...FORMATS), wasmConfigArb, scheduleArb, fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.constantFrom<[number, number]>([128, 128], [4, 8], [3, 1]), async (format, cfg, specs, seed, block) => {
        const rng = new Rng(seed);
        const w = convertMlaWeights(cfg, randomMlaWeights(cfg, rng), format, block);
        const ref = new ReferenceMla(cfg, w, { path });
        const layer = new WasmMla(cfg, w, await kernels(build), { path });
        expect(layer.weightFormat).toBe(format);
        for (const call of concreteCalls(cfg, specs)) {
          const x = rng.normalArray(call.batch * call.seqlen * cfg.dim);
          expect(mismatch(layer.forward(x, call), ref.forward(x, call)), `${format} call ${JSON.stringify(call)}`).toBeNull();
        }
      }),
      { numRuns: 24 },
    );
  });
});

describe("weight formats through createWasmBackend", () => {
  const cfg = makeConfig({ dim: 48, n_heads: 3, q_lora_rank: 20, kv_lora_rank: 24, qk_nope_head_dim: 8, qk_rope_head_dim: 4, v_head_dim: 8, max_seq_len: 160, max_batch_size: 2 });

  it("float weights converted on load (backend weightFormat, a layer's own wins), on 1 and 2 threads, == the oracle on the same conversion", async () => {
    const w = randomMlaWeights(cfg, new Rng(5));
    for (const threads of [1, 2] as const) {
      const backend = await createWasmBackend({ threads, threadMinWork: 0, weightFormat: "int8" });
      for (const format of FORMATS) {
        const ref = new ReferenceMla(cfg, convertMlaWeights(cfg, w, format), { path: "absorbed" });
        const layer = await backend.createMla(cfg, w, { path: "absorbed", ...(format !== "int8" && { weightFormat: format }) });
        try {
          expect(layer.weightFormat).toBe(format);
          const rng = new Rng(9);
          for (const call of [{ batch: 2, seqlen: 70, startPos: 0 }, { batch: 2, seqlen: 1, startPos: 70 }, { batch: 1, seqlen: 3, startPos: 71 }]) {
            const x = rng.normalArray(call.batch * call.seqlen * cfg.dim);
            expect(mismatch(layer.forward(x, call), ref.forward(x, call)), `${threads} threads ${format} ${JSON.stringify(call)}`).toBeNull();
          }
        } finally {
          layer.dispose();
        }
      }
    }
  });

  it("a checkpoint's fp8 tensors and block scales are packed as they are: the layer's format is theirs, and weightFormat f32 dequantises them", async () => {
    const w = convertMlaWeights(cfg, randomMlaWeights(cfg, new Rng(6)), "fp8");
    const backend = await createWasmBackend();
    const fp8 = await backend.createMla(cfg, w, { path: "absorbed" });
    const f32 = await backend.createMla(cfg, w, { path: "absorbed", weightFormat: "f32" });
    expect(fp8.weightFormat).toBe("fp8");
    expect(f32.weightFormat).toBe("f32");
    // one byte per weight plus a float32 scale per 8 columns x k-group (the norms stay float32), against four bytes per weight
    const weights = Object.entries(mlaWeightShapes(cfg)).reduce((a, [name, shape]) => a + (name.endsWith("norm") ? 0 : shape[0] * shape[1]), 0);
    expect(f32.weightBytes).toBeGreaterThanOrEqual(4 * weights);
    expect(fp8.weightBytes).toBeLessThan(0.5 * f32.weightBytes);
    const ref = new ReferenceMla(cfg, w, { path: "absorbed" }), x = new Rng(1).normalArray(4 * cfg.dim), call = { batch: 1, seqlen: 4, startPos: 0 };
    const want = ref.forward(x, call);
    expect(mismatch(fp8.forward(x, call), want)).toBeNull();
    expect(mismatch(f32.forward(x, call), want)).toBeNull();
  });

  it("bad quantised tensors give typed errors naming the field", async () => {
    const w = convertMlaWeights(cfg, randomMlaWeights(cfg, new Rng(6)), "fp8") as MlaWeightsInput & Record<string, QuantisedWeight>;
    const backend = await createWasmBackend();
    const spoil = async (name: string, change: (q: QuantisedWeight) => QuantisedWeight) => rejected(() => backend.createMla(cfg, { ...w, [name]: change(w[name]) }, { path: "absorbed" }));
    const nan = await spoil("wo", (q) => ({ ...q, codes: Uint8Array.from(q.codes as Uint8Array, (c, i) => (i === 5 ? 0x7f : c)) }));
    expect(nan).toBeInstanceOf(FormatError);
    expect((nan as FormatError).field).toBe("weights.wo.codes[5]");
    const short = await spoil("wq_b", (q) => ({ ...q, scales: q.scales!.subarray(1) }));
    expect(short).toBeInstanceOf(ShapeError);
    expect((short as ShapeError).field).toBe("weights.wq_b.scales");
    const shape = await spoil("wkv_a", (q) => ({ ...q, shape: [q.shape[0], q.shape[1] + 1] }));
    expect(shape).toBeInstanceOf(ShapeError);
    expect((shape as ShapeError).field).toBe("weights.wkv_a.shape");
    const fmt = await rejected(() => backend.createMla(cfg, w, { path: "absorbed", weightFormat: "fp4" as never }));
    expect((fmt as ShapeError).field).toBe("options.weightFormat");
    const mixed = await rejected(() => backend.createMla(cfg, { ...w, wo: convertMlaWeights(cfg, randomMlaWeights(cfg, new Rng(2)), "bf16").wo }, { path: "absorbed" }));
    expect(mixed).toBeInstanceOf(ShapeError);
  });

  it.each(FORMATS)("the conformance kit passes on the WASM backend given %s weights", async (format) => {
    const backend = await createWasmBackend();
    const r = await checkBackend(backend, { numRuns: 6, seed: 20261202, weightFormat: format, properties: PROPERTY_NAMES.filter((n) => !n.startsWith("dsa")) });
    expect(r.pass, r.report).toBe(true);
    expect(r.properties.filter((p) => p.pass).length).toBeGreaterThan(5);
  });
});
