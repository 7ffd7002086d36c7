// A directory laid out as a reader of the README has it: mlakit installed (node_modules/mlakit ->
// this package, built; or, with MLAKIT_READER_PACKAGE set, the package a tarball install put
// somewhere, as test/package/install.test.mjs does), the repository's vector sets under vectors/,
// a Hugging Face config.json, and a small DeepSeek-V3-style checkpoint in DeepSeek-V3/ whose
// tensors are named for layer 3, and a small deepseek2 GGUF (DeepSeek-V2-Lite-F16.gguf, 4 layers). Commands and snippets run inside it, so whatever they write stays in it.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeConfig } from "../../src/config.js";
import { Rng, randomMlaWeights } from "../../src/weights.js";
import { mlaWeightsToGguf } from "../../src/io/mla-gguf.js";

export const ROOT = join(import.meta.dirname, "..", "..");
/** The mlakit the reader has installed: this checkout, or an installed tarball's package directory. */
export const PACKAGE = process.env.MLAKIT_READER_PACKAGE ?? ROOT;
const HF_CASE = join(ROOT, "vectors", "hf-deepseek", "v3-plain-interleave");

/** A safetensors file with every tensor renamed by `rename` (offsets are relative to the data, so the bytes stay). */
export function renameTensors(bytes: Uint8Array, rename: (name: string) => string): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  const renamed = Object.fromEntries(Object.entries(header).map(([k, v]) => [k === "__metadata__" ? k : rename(k), v]));
  let text = JSON.stringify(renamed);
  text += " ".repeat((8 - (text.length % 8)) % 8);
  const head = new TextEncoder().encode(text), out = new Uint8Array(8 + head.length + bytes.length - 8 - n);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  out.set(bytes.subarray(8 + n), 8 + head.length);
  return out;
}

export function makeReaderDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "mlakit-readme-"));
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(PACKAGE, join(dir, "node_modules", "mlakit"), "dir");
  symlinkSync(join(ROOT, "node_modules", "@types"), join(dir, "node_modules", "@types"), "dir");
  mkdirSync(join(dir, "vectors"));
  for (const set of readdirSync(join(ROOT, "vectors"))) symlinkSync(join(ROOT, "vectors", set), join(dir, "vectors", set), "dir");
  copyFileSync(join(HF_CASE, "config.json"), join(dir, "config.json"));
  const ckpt = join(dir, "DeepSeek-V3");
  mkdirSync(ckpt);
  const config = JSON.parse(readFileSync(join(HF_CASE, "config.json"), "utf8")) as Record<string, unknown>;
  writeFileSync(join(ckpt, "config.json"), JSON.stringify({ ...config, num_hidden_layers: 4 }, null, 2));
  const weights = renameTensors(readFileSync(join(HF_CASE, "model.safetensors")), (k) => k.replace("model.layers.0.", "model.layers.3."));
  writeFileSync(join(ckpt, "model.safetensors"), weights);
  // a small deepseek2 GGUF in F16 with layers 0..3, for the GGUF example (the name is the README's)
  const g = makeConfig({ dim: 32, n_heads: 2, q_lora_rank: 0, kv_lora_rank: 32, qk_nope_head_dim: 32, qk_rope_head_dim: 4, v_head_dim: 16, max_seq_len: 256, original_seq_len: 64, rope_factor: 4, n_layers: 4 });
  writeFileSync(join(dir, "DeepSeek-V2-Lite-F16.gguf"), mlaWeightsToGguf(g, [1, 2, 3, 4].map((seed) => randomMlaWeights(g, new Rng(seed))), { type: "F16" }));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "readme-reader", private: true, type: "module" }));
  return dir;
}
