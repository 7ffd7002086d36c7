// The native peer stays out of the project's install: node-llama-cpp (about 730 MB of binaries) is
// pinned in bench/native's own package and lock, and neither the root package nor its lock names it.
// The models it hands llama.cpp are what the bench says: the check models' sizes are whole Q8_0
// blocks, and the timing models carry the step group's attention weights.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CHECK_MODELS, geometryModel } from "../../bench/native/models.js";
import { benchWeights } from "../../bench/step.js";
import { makeConfig, PRESETS } from "../../src/config.js";
import { openGguf } from "../../src/io/gguf.js";
import { tinyModelToGguf } from "../../src/io/mla-gguf.js";
import { bytesSource } from "../../src/io/safetensors.js";
import { randomTinyModel } from "../../src/reference/tiny-model.js";
import { Rng } from "../../src/weights.js";

const json = (p: string) => JSON.parse(readFileSync(new URL(`../../${p}`, import.meta.url), "utf8"));

describe("bench:native", () => {
  it("node-llama-cpp is pinned exactly in bench/native and absent from the project's package and lock", () => {
    const pkg = json("bench/native/package.json"), lock = json("bench/native/package-lock.json");
    expect(pkg.dependencies["node-llama-cpp"]).toBe("3.21.1");
    expect(lock.packages["node_modules/node-llama-cpp"].version).toBe("3.21.1");
    const root = json("package.json"), rootLock = json("package-lock.json");
    expect({ ...root.dependencies, ...root.devDependencies }).not.toHaveProperty("node-llama-cpp");
    expect(Object.keys(rootLock.packages).filter((k) => k.includes("node-llama-cpp"))).toEqual([]);
    expect(root.scripts["bench:native"]).toMatch(/^node bench\/native\/install\.mjs && /);
  });

  it("the check models are whole Q8_0 blocks at every matmul and write as Q8_0 GGUFs (every matrix Q8_0, 1-D tensors F32)", async () => {
    for (const m of CHECK_MODELS) {
      const { mla, ffn } = m.cfg;
      for (const k of [mla.dim, mla.q_lora_rank || 32, mla.qk_nope_head_dim, mla.kv_lora_rank, mla.n_heads * mla.v_head_dim, ffn]) expect(k % 32).toBe(0);
      const f = await openGguf(bytesSource(tinyModelToGguf(m.cfg, randomTinyModel(m.cfg, new Rng(m.seed)), { type: "Q8_0" })));
      const tensors = [...f.tensors.values()];
      expect(tensors.length).toBeGreaterThan(0);
      for (const t of tensors) expect(t.typeName, t.name).toBe(t.dims.length === 1 ? "F32" : "Q8_0");
    }
  });

  it("the timing model's attention is the step group's weights", () => {
    // The step group's own config (bench/step.ts): the preset at its full context and layer count.
    const stepCfg = makeConfig({ ...PRESETS["deepseek-v2-lite"], max_seq_len: 16384 + 16, max_batch_size: 1 });
    const g = geometryModel("V2-Lite", 1088), want = benchWeights(stepCfg, 101);
    const bytes = (a: unknown) => Buffer.from((a as Float32Array).buffer, (a as Float32Array).byteOffset, (a as Float32Array).byteLength);
    for (const [name, t] of Object.entries(want)) expect(Buffer.compare(bytes(g.weights.layers[0].mla[name as keyof typeof want]), bytes(t)), name).toBe(0);
    expect(g.cfg.mla.n_layers).toBe(1);
  });
});
