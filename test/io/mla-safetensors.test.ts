// MLA weights through safetensors: official and HF names, layer selection, lazy reads, FP8 block
// scales, and the RoPE layout question: HF's DeepSeek checkpoints are stored interleaved (no
// permutation), while a rope_interleave=false checkpoint needs its rope rows interleaved.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { type MlaConfig, fromHfConfig, makeConfig } from "../../src/config.js";
import { arbMlaConfig, caseInput, weightsFromSeed } from "../../src/conformance/index.js";
import { FormatError, ShapeError } from "../../src/errors.js";
import { mlaTensorFilter, parseWeightName, weightTensorName } from "../../src/io/hf-names.js";
import { loadMlaWeights, mlaLayers, mlaWeightTensors, mlaWeightsToSafetensors, permuteRopeRows } from "../../src/io/mla-safetensors.js";
import { bytesSource, numberToE4m3, e4m3ToNumber, openSafetensors, writeSafetensors } from "../../src/io/safetensors.js";
import { openCheckpoint, openSafetensorsFile } from "../../src/io/safetensors-file.js";
import { F64_REORDER_TOL, firstMismatch, toleranceFor } from "../../src/numerics.js";
import { type QuantisedWeight, dequantiseWeight, isQuantisedWeight, quantiseWeight } from "../../src/weight-formats.js";
import { E4M3_VALUES } from "../../src/cache/scalar.js";
import { createWasmBackend } from "../../src/wasm/node.js";
import { ReferenceMla } from "../../src/reference/mla.js";
import { type MlaWeights, Rng, mlaWeightShapes } from "../../src/weights.js";

const cfg = makeConfig({ dim: 11, n_heads: 3, q_lora_rank: 5, kv_lora_rank: 7, qk_nope_head_dim: 3, qk_rope_head_dim: 6, v_head_dim: 4, max_seq_len: 32, original_seq_len: 8, rope_factor: 4, max_batch_size: 2 });
const open = async (bytes: Uint8Array) => openSafetensors(bytesSource(bytes));
const same = (a: MlaWeights, b: MlaWeights, c: MlaConfig) => {
  for (const k of Object.keys(mlaWeightShapes(c)) as (keyof MlaWeights)[]) expect(Array.from(a[k]!), k).toEqual(Array.from(b[k]!));
};
/** Run a layer over a prefill and two decodes; returns all outputs concatenated. */
function run(config: MlaConfig, w: MlaWeights, path: "naive" | "absorbed" = "absorbed"): number[] {
  const layer = new ReferenceMla(config, w, { path });
  const c = { config, batch: 1, seed: 5, calls: [{ startPos: 0, seqlen: 4 }, { startPos: 4, seqlen: 1 }, { startPos: 5, seqlen: 1 }] };
  return c.calls.flatMap((call, i) => Array.from(layer.forward(caseInput(c, i), { batch: 1, seqlen: call.seqlen, startPos: call.startPos })));
}

describe("names", () => {
  test("official and HF names, with and without layer prefixes", () => {
    expect(parseWeightName("wq_a")).toEqual({ weight: "wq_a", naming: "official", layer: null, part: "weight" });
    expect(parseWeightName("layers.3.attn.wkv_b.weight")).toEqual({ weight: "wkv_b", naming: "official", layer: 3, part: "weight" });
    expect(parseWeightName("layers.3.attn.wkv_b.scale")).toEqual({ weight: "wkv_b", naming: "official", layer: 3, part: "scale" });
    expect(parseWeightName("model.layers.12.self_attn.kv_a_proj_with_mqa.weight")).toEqual({ weight: "wkv_a", naming: "hf", layer: 12, part: "weight" });
    expect(parseWeightName("model.layers.0.self_attn.q_a_layernorm.weight")?.weight).toBe("q_norm");
    expect(parseWeightName("self_attn.kv_a_layernorm.weight")?.weight).toBe("kv_norm");
    expect(parseWeightName("model.layers.0.self_attn.o_proj.weight_scale_inv")).toEqual({ weight: "wo", naming: "hf", layer: 0, part: "scale" });
    expect(parseWeightName("model.layers.0.self_attn.q_proj.weight")?.weight).toBe("wq");
    for (const n of ["model.layers.0.mlp.gate_proj.weight", "model.embed_tokens.weight", "model.layers.0.input_layernorm.weight", "model.layers.0.mlp.o_proj.weight", "lm_head.weight"]) expect(parseWeightName(n), n).toBeNull();
    expect(weightTensorName("wkv_a", "hf", 2)).toBe("model.layers.2.self_attn.kv_a_proj_with_mqa.weight");
    expect(weightTensorName("kv_norm", "official", 2)).toBe("layers.2.attn.kv_norm.weight");
  });
});

describe("loading MLA weights", () => {
  const w0 = weightsFromSeed(cfg, 1);

  test("official names round-trip bit-exactly and build the same layer", async () => {
    const f = await open(mlaWeightsToSafetensors(cfg, w0));
    const got = await loadMlaWeights(f, cfg);
    expect(got.naming).toBe("official");
    expect(got.layer).toBeNull();
    same(got.weights, w0, cfg);
    expect(run(cfg, got.weights)).toEqual(run(cfg, w0));
  });

  test("one layer of a multi-layer HF file, picked by index; the others are not read", async () => {
    const ws = [1, 2, 3].map((s) => weightsFromSeed(cfg, s));
    const tensors = Object.assign({}, ...ws.map((w, i) => mlaWeightTensors(cfg, w, { naming: "hf", layer: i })), { "model.layers.0.mlp.down_proj.weight": { dtype: "F32", shape: [4], data: [1, 2, 3, 4] } });
    const bytes = writeSafetensors(tensors);
    let read = 0;
    const f = await openSafetensors({ size: bytes.length, read: async (o, l) => ((read += l), bytes.subarray(o, o + l)) });
    const headerBytes = read;
    expect(mlaLayers(f)).toEqual([0, 1, 2]);
    const got = await loadMlaWeights(f, cfg, { layer: 1 });
    expect(got.naming).toBe("hf");
    same(got.weights, ws[1], cfg);
    const layerBytes = Object.values(mlaWeightShapes(cfg)).reduce((a, s) => a + 4 * s.reduce((x, y) => x * y, 1), 0);
    expect(read - headerBytes).toBe(layerBytes);
    await expect(loadMlaWeights(f, cfg)).rejects.toThrow(/a layer index: the file holds MLA weights of layers 0, 1, 2/);
    await expect(loadMlaWeights(f, cfg, { layer: 7 })).rejects.toThrow(FormatError);
  });

  test("a layer built from HF-named weights (rope_interleave default) equals the oracle from official-named weights", async () => {
    const hf = await open(mlaWeightsToSafetensors(cfg, w0, { naming: "hf", layer: 5 }));
    const got = await loadMlaWeights(hf, cfg);
    expect(got.permutedRope).toBe(false);
    same(got.weights, w0, cfg); // DeepSeek's HF checkpoints are the official tensors: no permutation
    expect(run(got.config, got.weights, "naive")).toEqual(run(cfg, w0, "naive"));
  });

  test("rope_interleave=false weights: the half-layout oracle on them equals the official one, and loading interleaves them back", async () => {
    await fc.assert(
      fc.asyncProperty(arbMlaConfig({ ropeLayouts: ["interleaved"], maxDim: 9 }), fc.nat({ max: 1000 }), async (official, seed) => {
        const w = weightsFromSeed(official, seed);
        // What a rope_interleave=false checkpoint holds: the same model with rope rows de-interleaved.
        const hfRows = structuredClone(w);
        permuteRopeRows(hfRows, official, "interleaved-to-half");
        const halfCfg: MlaConfig = { ...official, rope_layout: "half" };
        // Independent of the loader: the half-layout oracle on those rows computes the official outputs.
        const a = run(halfCfg, hfRows), b = run(official, w);
        expect(firstMismatch(a, b, F64_REORDER_TOL, F64_REORDER_TOL)).toBe(-1);
        const f = await open(mlaWeightsToSafetensors(halfCfg, hfRows, { naming: "hf", layer: 0 }));
        const loaded = await loadMlaWeights(f, halfCfg);
        expect(loaded.permutedRope).toBe(official.qk_rope_head_dim > 0);
        expect(loaded.config.rope_layout).toBe("interleaved");
        same(loaded.weights, w, official);
        const kept = await loadMlaWeights(f, halfCfg, { layout: "as-stored" });
        expect(kept.config.rope_layout).toBe("half");
        same(kept.weights, hfRows, official);
      }),
      { numRuns: 25 },
    );
  });

  test("the layout really matters: interleaved rows under the half layout give different outputs (dr >= 4)", () => {
    const half = { ...cfg, rope_layout: "half" as const };
    const a = run(half, w0), b = run(cfg, w0);
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeGreaterThan(1e-3);
  });

  test("fromHfConfig(rope_interleave: false) + load gives the official layer", async () => {
    const hfJson = { hidden_size: 11, num_attention_heads: 3, q_lora_rank: 5, kv_lora_rank: 7, qk_nope_head_dim: 3, qk_rope_head_dim: 6, v_head_dim: 4, max_position_embeddings: 32, rope_interleave: false };
    const hfCfg = { ...fromHfConfig(hfJson), max_batch_size: 2 };
    expect(hfCfg.rope_layout).toBe("half");
    const official = { ...hfCfg, rope_layout: "interleaved" as const };
    const w = weightsFromSeed(official, 9);
    const stored = structuredClone(w);
    permuteRopeRows(stored, official, "interleaved-to-half");
    const loaded = await loadMlaWeights(await open(mlaWeightsToSafetensors(hfCfg, stored, { naming: "hf" })), hfCfg);
    expect(run(loaded.config, loaded.weights)).toEqual(run(official, w));
  });

  test("FP8 weights with block scales (HF weight_scale_inv) are dequantised", async () => {
    const c = makeConfig({ dim: 5, n_heads: 2, q_lora_rank: 0, kv_lora_rank: 3, qk_nope_head_dim: 2, qk_rope_head_dim: 2, v_head_dim: 2, max_seq_len: 16 });
    const w = weightsFromSeed(c, 4);
    const tensors: Record<string, { dtype: "F32" | "F8_E4M3" | "BF16"; shape: number[]; data: ArrayLike<number> }> = {};
    const want: Record<string, Float32Array> = {};
    const B = 2; // block size (DeepSeek uses 128; 2 makes several blocks at this size)
    for (const [k, shape] of Object.entries(mlaWeightShapes(c))) {
      const data = (w as unknown as Record<string, Float32Array>)[k];
      const name = weightTensorName(k as never, "hf", 0);
      if (shape.length === 1) {
        tensors[name] = { dtype: "BF16", shape, data };
        continue;
      }
      const [rows, cols] = shape;
      const sr = Math.ceil(rows / B), sc = Math.ceil(cols / B);
      const scale = Float32Array.from({ length: sr * sc }, (_, i) => 0.01 * (i + 1));
      const q = new Float32Array(rows * cols), out = new Float32Array(rows * cols);
      for (let i = 0; i < rows; i++)
        for (let j = 0; j < cols; j++) {
          const s = scale[Math.floor(i / B) * sc + Math.floor(j / B)];
          q[i * cols + j] = e4m3ToNumber(numberToE4m3(Math.max(-448, Math.min(448, data[i * cols + j] / s))));
          out[i * cols + j] = Math.fround(q[i * cols + j] * s);
        }
      tensors[name] = { dtype: "F8_E4M3", shape, data: q };
      tensors[name.replace(/weight$/, "weight_scale_inv")] = { dtype: "F32", shape: [sr, sc], data: scale };
      want[k] = out;
    }
    const f = await open(writeSafetensors(tensors));
    const got = await loadMlaWeights(f, c, { fp8BlockSize: B });
    for (const [k, shape] of Object.entries(mlaWeightShapes(c))) {
      if (shape.length === 1) continue;
      expect(Array.from((got.weights as unknown as Record<string, Float32Array>)[k]), k).toEqual(Array.from(want[k]));
    }
    await expect(loadMlaWeights(f, c)).rejects.toThrow(/blocks of a/); // 128-blocks do not match these scale shapes
    const same2 = await loadMlaWeights(f, c, { fp8BlockSize: [B, B] });
    expect(Array.from(same2.weights.wo)).toEqual(Array.from(want.wo));
    await expect(loadMlaWeights(f, c, { fp8BlockSize: [B, 3] })).rejects.toThrow(/2x3 blocks/);
  });

  test("keepFp8 hands F8_E4M3 projections and their block scales through as they are stored; the WASM layer on them == the oracle on their exact values", async () => {
    const c = makeConfig({ dim: 40, n_heads: 2, q_lora_rank: 24, kv_lora_rank: 16, qk_nope_head_dim: 8, qk_rope_head_dim: 4, v_head_dim: 8, max_seq_len: 16 });
    const w = weightsFromSeed(c, 4), B = 8; // 8x8 blocks: several per weight, and W_UK/W_UV views at offsets 0, 16 (dn + dv)
    const tensors: Record<string, { dtype: "F32" | "F8_E4M3"; shape: number[]; data: ArrayLike<number> }> = {};
    const q: Record<string, QuantisedWeight> = {};
    for (const [k, shape] of Object.entries(mlaWeightShapes(c))) {
      const name = weightTensorName(k as never, "hf", 0), data = (w as unknown as Record<string, Float32Array>)[k];
      if (shape.length === 1) {
        tensors[name] = { dtype: "F32", shape, data };
        continue;
      }
      q[k] = quantiseWeight("fp8", data, [shape[0], shape[1]], [B, B]);
      tensors[name] = { dtype: "F8_E4M3", shape, data: Array.from(q[k].codes, (code) => E4M3_VALUES[code]) };
      tensors[name.replace(/weight$/, "weight_scale_inv")] = { dtype: "F32", shape: [Math.ceil(shape[0] / B), Math.ceil(shape[1] / B)], data: q[k].scales! };
    }
    const f = await open(writeSafetensors(tensors));
    const kept = await loadMlaWeights(f, c, { fp8BlockSize: B, keepFp8: true });
    for (const k of Object.keys(q)) {
      const got = (kept.weights as unknown as Record<string, QuantisedWeight>)[k];
      expect(isQuantisedWeight(got), k).toBe(true);
      expect(Array.from(got.codes), k).toEqual(Array.from(q[k].codes)); // the stored bytes
      expect(Array.from(got.scales!), k).toEqual(Array.from(q[k].scales!));
    }
    const floats = await loadMlaWeights(f, c, { fp8BlockSize: B });
    expect(Array.from(floats.weights.wo)).toEqual(Array.from(dequantiseWeight(q.wo), Math.fround)); // the float loader: the same values rounded to float32
    const layer = await (await createWasmBackend()).createMla(c, kept.weights, { path: "absorbed" });
    expect(layer.weightFormat).toBe("fp8");
    const ref = new ReferenceMla(c, kept.weights, { path: "absorbed" }), x = new Rng(2).normalArray(3 * c.dim), call = { batch: 1, seqlen: 3, startPos: 0 };
    const { atol, rtol } = toleranceFor("float32");
    expect(firstMismatch(layer.forward(x, call), ref.forward(x, call), atol, rtol)).toBe(-1);
    // a store that cannot give bytes cannot keep them
    await expect(loadMlaWeights({ tensors: f.tensors, read: (n) => f.read(n) }, c, { fp8BlockSize: B, keepFp8: true })).rejects.toThrow(FormatError);
  });

  test("missing or mis-shaped weights are ShapeErrors naming both conventions", async () => {
    const t = mlaWeightTensors(cfg, w0, { naming: "hf" });
    delete t["self_attn.kv_b_proj.weight"];
    await expect(loadMlaWeights(await open(writeSafetensors(t)), cfg)).rejects.toThrow(/wkv_b.weight or self_attn.kv_b_proj.weight/);
    const other = makeConfig({ ...cfg, kv_lora_rank: 8 });
    await expect(loadMlaWeights(await open(mlaWeightsToSafetensors(cfg, w0)), other)).rejects.toThrow(ShapeError);
    await expect(loadMlaWeights(await open(writeSafetensors({ "model.norm.weight": { dtype: "F32", shape: [1], data: [1] } })), cfg)).rejects.toThrow(/MLA weights by official/);
  });

  test("a file on disk is read by ranges, never whole", async () => {
    const ws = Array.from({ length: 6 }, (_, i) => weightsFromSeed(cfg, 10 + i));
    const dir = mkdtempSync(join(tmpdir(), "mlakit-st-"));
    const path = join(dir, "six-layers.safetensors");
    writeFileSync(path, writeSafetensors(Object.assign({}, ...ws.map((w, i) => mlaWeightTensors(cfg, w, { layer: i })))));
    const { file, source } = await openSafetensorsFile(path);
    try {
      const got = await loadMlaWeights(file, cfg, { layer: 4 });
      same(got.weights, ws[4], cfg);
      const layerBytes = Object.values(mlaWeightShapes(cfg)).reduce((a, sh) => a + 4 * sh.reduce((x, y) => x * y, 1), 0);
      expect(source.bytesRead).toBe(file.header.dataStart + layerBytes); // header + one layer; 5 layers untouched
      expect(source.size - file.header.dataStart).toBe(6 * layerBytes);
    } finally {
      await source.close();
    }
  });

  test("a sharded HF checkpoint: the index picks the shards holding the layer, and only those are opened", async () => {
    const ws = [0, 1, 2].map((i) => weightsFromSeed(cfg, 20 + i));
    const dir = mkdtempSync(join(tmpdir(), "mlakit-shards-"));
    const t = ws.map((w, i) => mlaWeightTensors(cfg, w, { naming: "hf", layer: i }));
    // Layer 1 straddles two shards (its o_proj lives with layer 2), as real checkpoints do.
    const o1 = "model.layers.1.self_attn.o_proj.weight";
    const shard = (x: object) => writeSafetensors(x as Parameters<typeof writeSafetensors>[0]);
    const { [o1]: o1t, ...rest1 } = t[1];
    writeFileSync(join(dir, "model-00001-of-00003.safetensors"), shard(t[0]));
    writeFileSync(join(dir, "model-00002-of-00003.safetensors"), shard(rest1));
    writeFileSync(join(dir, "model-00003-of-00003.safetensors"), shard({ ...t[2], [o1]: o1t }));
    const weightMap: Record<string, string> = {};
    for (const [i, f] of ["model-00001-of-00003", "model-00002-of-00003", "model-00003-of-00003"].entries()) {
      for (const n of Object.keys(i === 0 ? t[0] : i === 1 ? rest1 : { ...t[2], [o1]: 1 })) weightMap[n] = `${f}.safetensors`;
    }
    writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
    for (const path of [dir, join(dir, "model.safetensors.index.json")]) {
      const store = await openCheckpoint(path, mlaTensorFilter(1));
      try {
        expect(store.files.map((f) => f.split("/").pop())).toEqual(["model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"]);
        same((await loadMlaWeights(store, cfg)).weights, ws[1], cfg);
      } finally {
        await store.close();
      }
    }
    writeFileSync(join(dir, "bad.index.json"), JSON.stringify({ weight_map: { a: "../etc/passwd" } }));
    await expect(openCheckpoint(join(dir, "bad.index.json"))).rejects.toThrow(FormatError);
    writeFileSync(join(dir, "bad2.index.json"), "[1]");
    await expect(openCheckpoint(join(dir, "bad2.index.json"))).rejects.toThrow(/weight_map/);
    await expect(openCheckpoint(join(dir, "missing"))).rejects.toThrow(FormatError);
  });
});
