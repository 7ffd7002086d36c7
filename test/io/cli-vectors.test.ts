// `mlakit vectors generate` and `mlakit verify` on generated cases (inline or safetensors
// weights), run in-process through run(): exit codes 0 / 1 / 2 and the messages a user sees.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { scaleDown } from "../../src/cli/cmd-vectors.js";
import { run } from "../../src/cli/run.js";
import { fromHfConfig, makeConfig, preset } from "../../src/config.js";
import { ggufMlaStore, mlaWeightsToGguf } from "../../src/io/mla-gguf.js";
import { openGguf } from "../../src/io/gguf.js";
import { weightsFromSeed } from "../../src/conformance/index.js";
import { loadMlaWeights, mlaWeightTensors } from "../../src/io/mla-safetensors.js";
import { OFFICIAL_TO_HF } from "../../src/io/hf-names.js";
import { bytesSource, e4m3ToNumber, f16ToNumber, numberToF16, writeSafetensors } from "../../src/io/safetensors.js";
import { mlaWeightShapes } from "../../src/weights.js";

async function cli(...argv: string[]) {
  let out = "", err = "";
  const code = await run(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "mlakit-vec-"));
});

describe("mlakit vectors generate", () => {
  test("a scaled-down preset with inline weights verifies (reference and wasm)", async () => {
    const g = await cli("vectors", "generate", "--preset", "deepseek-v3", "--scale-down", "32", "--tokens", "5+3", "--batch", "2", "--seed", "7", "--out", dir);
    expect(g.code, g.err).toBe(0);
    const file = join(dir, "deepseek-v3-div32-s7-b2-p5d3.json");
    expect(g.out).toContain(`check it with: mlakit verify ${file}`);
    const json = JSON.parse(readFileSync(file, "utf8"));
    expect(json.args.dim).toBe(224);
    expect(json.derived.yarn_enabled).toBe(true);
    expect(json.calls.length).toBe(4);
    for (const backend of ["reference", "wasm"]) {
      const v = await cli("verify", file, "--backend", backend);
      expect(v.code, v.out + v.err).toBe(0);
      expect(v.out).toMatch(/^PASS: 1\/1/m);
    }
  });

  test("--weights safetensors: JSON + .safetensors; verify takes the JSON, the weights file, or the directory", async () => {
    const sub = join(dir, "st");
    const g = await cli("vectors", "generate", "--preset", "kimi-k2", "--scale-down", "16", "--tokens", "3+2", "--weights", "safetensors", "--out", sub, "--name", "kimi-small");
    expect(g.code, g.err).toBe(0);
    const json = JSON.parse(readFileSync(join(sub, "kimi-small.json"), "utf8"));
    expect(json.weights_file).toBe("kimi-small.safetensors");
    expect(json.tensors["wq_a.weight"]).toBeUndefined();
    for (const target of [join(sub, "kimi-small.json"), join(sub, "kimi-small.safetensors"), sub]) {
      const v = await cli("verify", target, "--json");
      expect(v.code, v.out + v.err).toBe(0);
      expect(JSON.parse(v.out).cases.map((c: { name: string }) => c.name)).toEqual(["kimi-small"]);
    }
  });

  test("progress lines go to stderr (forced here; automatic above 5M weights)", async () => {
    const g = await cli("vectors", "generate", "--preset", "deepseek-v3", "--scale-down", "64", "--tokens", "2+1", "--out", join(dir, "p"), "--progress");
    expect(g.code).toBe(0);
    const lines = g.err.trim().split("\n");
    expect(lines[0]).toMatch(/^\[\d+\.\d s\] weights: [\d,]+ parameters from seed 1$/);
    expect(lines.filter((l) => /(naive|absorbed) path: call \d\/2 /.test(l)).length).toBe(4); // prefill + 1 decode, two paths
    expect(lines.at(-1)).toMatch(/writing \d+ tensors/);
  });

  test("a case with a corrupted output fails verify with exit 1", async () => {
    const sub = join(dir, "bad");
    expect((await cli("vectors", "generate", "--preset", "deepseek-v2-lite", "--scale-down", "64", "--tokens", "2+1", "--out", sub, "--name", "c")).code).toBe(0);
    const path = join(sub, "c.json");
    const json = JSON.parse(readFileSync(path, "utf8"));
    json.tensors["calls.1.output_absorb"].data[0] += 0.01;
    writeFileSync(path, JSON.stringify(json));
    const v = await cli("verify", path);
    expect(v.code).toBe(1);
    expect(v.out).toMatch(/FAIL/);
  });

  test("full presets: inline JSON is refused with the way out; safetensors obeys --max-params", async () => {
    // 1536*7168 + 1536 + 128*192*1536 + 576*7168 + 512 + 128*256*512 + 7168*16384 = 187,107,328
    const a = await cli("vectors", "generate", "--preset", "deepseek-v3", "--out", join(dir, "never"));
    expect(a.code).toBe(2);
    expect(a.err).toMatch(/187,107,328 weight parameters .* Use --weights safetensors \(748 MB beside the JSON\), or a smaller model, e\.g\. --scale-down 16/);
    const b = await cli("vectors", "generate", "--preset", "deepseek-v3", "--weights", "safetensors", "--max-params", "1000000", "--out", join(dir, "never"));
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/exceed --max-params 1,000,000/);
    expect(existsSync(join(dir, "never"))).toBe(false);
  });

  test("a HF config.json works as --config", async () => {
    const cfgPath = join(dir, "hf-config.json");
    writeFileSync(cfgPath, JSON.stringify({ hidden_size: 24, num_attention_heads: 2, q_lora_rank: null, kv_lora_rank: 8, qk_nope_head_dim: 4, qk_rope_head_dim: 4, v_head_dim: 4, max_position_embeddings: 64, rope_interleave: false }));
    const g = await cli("vectors", "generate", "--config", cfgPath, "--out", join(dir, "hf"), "--tokens", "4+1");
    expect(g.code, g.err).toBe(0);
    const file = join(dir, "hf", "hf-config-s1-b1-p4d1.json");
    expect(JSON.parse(readFileSync(file, "utf8")).args.rope_layout).toBe("half");
    expect((await cli("verify", file)).code).toBe(0);
  });

  test("--weights-from: a case from one layer of a real (here: HF-named, two-layer) checkpoint", async () => {
    const hfCfg = { hidden_size: 20, num_attention_heads: 2, q_lora_rank: 6, kv_lora_rank: 8, qk_nope_head_dim: 4, qk_rope_head_dim: 4, v_head_dim: 4, max_position_embeddings: 64 };
    const cfgPath = join(dir, "ckpt-config.json");
    writeFileSync(cfgPath, JSON.stringify(hfCfg));
    const c = fromHfConfig(hfCfg);
    const ws = [weightsFromSeed(c, 1), weightsFromSeed(c, 2)];
    const ckpt = join(dir, "ckpt.safetensors");
    writeFileSync(ckpt, writeSafetensors(Object.assign({}, ...ws.map((w, i) => mlaWeightTensors(c, w, { naming: "hf", layer: i })))));
    const noLayer = await cli("vectors", "generate", "--config", cfgPath, "--weights-from", ckpt, "--out", join(dir, "real"));
    expect(noLayer.code).toBe(2);
    expect(noLayer.err).toMatch(/a layer index: the file holds MLA weights of layers 0, 1/);
    const g = await cli("vectors", "generate", "--config", cfgPath, "--weights-from", ckpt, "--layer", "1", "--tokens", "3+1", "--out", join(dir, "real"));
    expect(g.code, g.err).toBe(0);
    const file = join(dir, "real", "ckpt-config-layer1-s1-b1-p3d1.json");
    const json = JSON.parse(readFileSync(file, "utf8"));
    expect(Float32Array.from(json.tensors["wkv_b.weight"].data)).toEqual(ws[1].wkv_b); // bit-exact after float32 rounding
    expect(json.generation.weights).toMatch(/ckpt\.safetensors layer 1 \(hf names\)/);
    expect((await cli("verify", file)).code).toBe(0);
    expect((await cli("vectors", "generate", "--config", cfgPath, "--layer", "1")).err).toMatch(/--layer picks a layer of --weights-from/);
    expect((await cli("vectors", "generate", "--config", cfgPath, "--weights-from", ckpt, "--layer", "1", "--scale-down", "2")).err).toMatch(/cannot shrink real weights/);
  });

  test("--weights-from a deepseek2 GGUF (F16, Q8_0): its config from its metadata, one layer's weights, and the case verifies", async () => {
    const c = makeConfig({ dim: 32, n_heads: 2, q_lora_rank: 0, kv_lora_rank: 32, qk_nope_head_dim: 32, qk_rope_head_dim: 4, v_head_dim: 16, max_seq_len: 256, original_seq_len: 64, rope_factor: 4, mscale: 0.707, n_layers: 2 });
    const ws = [weightsFromSeed(c, 3), weightsFromSeed(c, 4)];
    for (const type of ["F16", "Q8_0"] as const) {
      const gguf = join(dir, `tiny-ds2-${type}.gguf`);
      writeFileSync(gguf, mlaWeightsToGguf(c, ws, { type }));
      const g = await cli("vectors", "generate", "--weights-from", gguf, "--layer", "1", "--tokens", "3+1", "--out", join(dir, "gguf"), "--name", type);
      expect(g.code, g.err).toBe(0);
      const json = JSON.parse(readFileSync(join(dir, "gguf", `${type}.json`), "utf8"));
      // the case holds the file's values: F16 the weights' rounding; Q8_0 those of its decoder (its accuracy is test/io/gguf.test.ts's)
      const want = type === "F16" ? Float32Array.from(ws[1].wkv_b, (v) => f16ToNumber(numberToF16(v))) : (await loadMlaWeights(ggufMlaStore(await openGguf(bytesSource(readFileSync(gguf)))), c, { layer: 1 })).weights.wkv_b;
      expect(Float32Array.from(json.tensors["wkv_b.weight"].data)).toEqual(Float32Array.from(want));
      expect(json.generation.weights).toMatch(new RegExp(`tiny-ds2-${type}\\.gguf layer 1`));
      expect((await cli("verify", join(dir, "gguf", `${type}.json`))).code).toBe(0);
    }
    // a config that does not match the file's shapes is refused with the tensor named
    const wrongCfg = join(dir, "wrong-dim.json");
    writeFileSync(wrongCfg, JSON.stringify({ dim: 64, n_heads: 2, q_lora_rank: 0, kv_lora_rank: 32, qk_nope_head_dim: 32, qk_rope_head_dim: 4, v_head_dim: 16, max_seq_len: 256 }));
    const wrong = await cli("vectors", "generate", "--config", wrongCfg, "--weights-from", join(dir, "tiny-ds2-F16.gguf"), "--layer", "0", "--out", join(dir, "gguf"));
    expect(wrong.code).toBe(2);
    expect(wrong.err).toMatch(/layers\.0\.attn\.\w+\.weight\.shape/);
  });

  test("--weights-from an FP8 checkpoint: block size from the HF config's quantization_config", async () => {
    const hfCfg = { hidden_size: 6, num_attention_heads: 2, kv_lora_rank: 4, qk_nope_head_dim: 2, qk_rope_head_dim: 2, v_head_dim: 2, max_position_embeddings: 32, quantization_config: { quant_method: "fp8", fmt: "e4m3", weight_block_size: [2, 4] } };
    const cfgPath = join(dir, "fp8-config.json");
    writeFileSync(cfgPath, JSON.stringify(hfCfg));
    const c = fromHfConfig(hfCfg);
    const tensors: Record<string, { dtype: "F8_E4M3" | "F32"; shape: number[]; data: number[] }> = {};
    const want: Record<string, number[]> = {};
    for (const [w, shape] of Object.entries(mlaWeightShapes(c))) {
      const name = `model.layers.0.self_attn.${OFFICIAL_TO_HF[w as keyof typeof OFFICIAL_TO_HF]}.weight`;
      const n = shape.reduce((a, b) => a * b, 1);
      const q = Array.from({ length: n }, (_, i) => e4m3ToNumber((i * 37 + 5) % 0x70)); // representable, no NaN
      if (shape.length === 1) {
        tensors[name] = { dtype: "F32", shape, data: q.map((v) => 1 + v / 64) };
        continue;
      }
      const [r, k] = shape, sr = Math.ceil(r / 2), sc = Math.ceil(k / 4);
      const scale = Array.from({ length: sr * sc }, (_, i) => 2 ** -(i % 5));
      tensors[name] = { dtype: "F8_E4M3", shape, data: q };
      tensors[name.replace(/weight$/, "weight_scale_inv")] = { dtype: "F32", shape: [sr, sc], data: scale };
      want[w] = q.map((v, i) => v * scale[Math.floor(Math.floor(i / k) / 2) * sc + Math.floor((i % k) / 4)]);
    }
    const ckpt = join(dir, "fp8.safetensors");
    writeFileSync(ckpt, writeSafetensors(tensors));
    const g = await cli("vectors", "generate", "--config", cfgPath, "--weights-from", ckpt, "--tokens", "2+1", "--out", join(dir, "fp8"), "--name", "f");
    expect(g.code, g.err).toBe(0);
    const json = JSON.parse(readFileSync(join(dir, "fp8", "f.json"), "utf8"));
    for (const [w, vals] of Object.entries(want)) expect(Float32Array.from(json.tensors[`${w}.weight`].data), w).toEqual(Float32Array.from(vals));
    const bad = join(dir, "fp8-config-128.json");
    writeFileSync(bad, JSON.stringify({ ...hfCfg, quantization_config: undefined }));
    const r = await cli("vectors", "generate", "--config", bad, "--weights-from", ckpt, "--out", join(dir, "fp8"));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/128x128 blocks/);
  });

  test("usage errors exit 2 with one clear line", async () => {
    writeFileSync(join(dir, "array-config.json"), "[".repeat(100_000) + "]".repeat(100_000));
    const cases: [string[], RegExp][] = [
      [["vectors"], /expected the subcommand "generate"/],
      [["vectors", "generate"], /exactly one of --preset NAME or --config FILE/],
      [["vectors", "generate", "--preset", "nope"], /preset = "nope": expected one of deepseek-v3/],
      [["vectors", "generate", "--preset", "deepseek-v3", "--scale-down", "64", "--tokens", "7"], /--tokens "7": expected P\+D/],
      [["vectors", "generate", "--preset", "deepseek-v3", "--scale-down", "64", "--tokens", "0+3"], /expected P\+D/],
      [["vectors", "generate", "--preset", "deepseek-v3", "--scale-down", "64", "--weights", "npz"], /--weights "npz"/],
      [["vectors", "generate", "--preset", "deepseek-v3", "--scale-down", "x"], /--scale-down "x"/],
      [["vectors", "generate", "--config", join(dir, "missing.json")], /--config = ".*missing\.json": expected a regular file \(no such file or directory\)/],
      [["vectors", "generate", "--config", join(dir, "array-config.json")], /expected a JSON object/],
      [["vectors", "generate", "--preset", "deepseek-v3", "--scale-down", "64", "--bogus"], /bogus/],
    ];
    for (const [argv, re] of cases) {
      const r = await cli(...argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.err, argv.join(" ")).toMatch(re);
    }
  });

  test("scaleDown keeps the YaRN fields and an even rope dim", () => {
    const s = scaleDown(preset("deepseek-v3"), 16);
    expect([s.dim, s.n_heads, s.q_lora_rank, s.kv_lora_rank, s.qk_nope_head_dim, s.qk_rope_head_dim, s.v_head_dim]).toEqual([448, 8, 96, 32, 8, 4, 8]);
    expect([s.max_seq_len, s.original_seq_len, s.rope_factor, s.mscale]).toEqual([163840, 4096, 40, 1]);
    expect(scaleDown(preset("deepseek-v2-lite"), 1000).qk_rope_head_dim).toBe(2);
  });
});

describe("mlakit verify: files it cannot read are exit 2", () => {
  test("random bytes, non-case JSON, a safetensors nobody names, a missing weights_file, a truncated weights file", async () => {
    const junk = join(dir, "junk.bin");
    writeFileSync(junk, Uint8Array.from({ length: 64 }, (_, i) => (i * 97 + 13) & 0xff));
    const notCase = join(dir, "package.json");
    writeFileSync(notCase, JSON.stringify({ name: "x" }));
    const sub = join(dir, "w");
    expect((await cli("vectors", "generate", "--preset", "deepseek-v3", "--scale-down", "64", "--tokens", "2+1", "--weights", "safetensors", "--out", sub, "--name", "w")).code).toBe(0);
    const lone = join(dir, "lone.safetensors");
    writeFileSync(lone, readFileSync(join(sub, "w.safetensors")));
    const missing = join(dir, "missing-weights.json");
    writeFileSync(missing, JSON.stringify({ ...JSON.parse(readFileSync(join(sub, "w.json"), "utf8")), weights_file: "gone.safetensors" }));
    const trunc = join(dir, "trunc");
    expect((await cli("vectors", "generate", "--preset", "deepseek-v3", "--scale-down", "64", "--tokens", "2+1", "--weights", "safetensors", "--out", trunc, "--name", "t")).code).toBe(0);
    const full = readFileSync(join(trunc, "t.safetensors"));
    writeFileSync(join(trunc, "t.safetensors"), full.subarray(0, full.length - 100));
    const deep = join(dir, "deep.json");
    writeFileSync(deep, "[".repeat(100_000) + "]".repeat(100_000));
    const deepInside = join(dir, "deep-inside.json");
    writeFileSync(deepInside, '{"format":"mla-vectors/1","tensors":' + "[".repeat(100_000) + "]".repeat(100_000) + "}");
    const expectations: [string, RegExp][] = [
      [junk, /junk\.bin.*expected JSON text: an mla-vectors\/1 case \(or give a \.safetensors file that a case names\)/],
      [notCase, /format = undefined.*"mla-vectors\/1"/],
      [lone, /holds weights only, and no case JSON beside it names it/],
      [missing, /names weights_file "gone\.safetensors", which does not exist/],
      [join(trunc, "t.json"), /t\.safetensors.*data section's size; file truncated\?/],
      [join(dir, "nothing-here.json"), /no such file or directory/],
      [deep, /"a JSON array": expected an mla-vectors\/1 case \(a JSON object\)/],
      [deepInside, /deep-inside\.json\.tensors = \[\[\[\.\.\.\]\]\]: expected an object/],
    ];
    for (const [path, re] of expectations) {
      const r = await cli("verify", path);
      expect(r.code, path + "\n" + r.err).toBe(2);
      expect(r.err, path).toMatch(re);
      expect(r.err.trim().split("\n").length).toBe(1);
    }
  });
});
