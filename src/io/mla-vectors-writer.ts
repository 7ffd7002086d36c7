// Writer of `mla-vectors/1` cases computed by the float64 oracle (format: vectors/deepseek-v3-mla/
// README.md). Same layout as the official files, so every reader of those (src/io/mla-vectors.ts,
// examples/python/check_mla.py, anyone's own) reads these. Browser-safe: returns text and bytes.
//
// Numbers are float32 written as the SHORTEST decimal that gives the same float32 back after
// parsing and rounding to float32 (JSON.parse + Math.fround, or Float32Array.from).

import { type MlaConfig, qkHeadDim, yarnEnabled } from "../config.js";
import { FormatError } from "../errors.js";
import type { NamedTensor } from "../layer.js";
import { ReferenceMla } from "../reference/mla.js";
import { RMSNORM_EPS, mlaSoftmaxScale, ropeFrequencies, ropeTable, yarnMscaleFactor } from "../derived.js";
import { type MlaWeightName, type MlaWeights, Rng, mlaWeightShapes, randomMlaWeights } from "../weights.js";
import { MLA_VECTORS_FORMAT } from "./mla-vectors.js";
import { mlaWeightsToSafetensors } from "./mla-safetensors.js";

/** Shortest decimal string that round-trips the float32 nearest to v. -0 stays "-0". */
export function float32ToJson(v: number, field = "value"): string {
  const f = Math.fround(v);
  if (!Number.isFinite(f)) throw new FormatError(field, v, "a finite float32 (JSON has no NaN or Infinity)");
  if (f === 0) return Object.is(f, -0) ? "-0" : "0";
  for (let p = 1; p < 9; p++) {
    const d = Number(f.toPrecision(p)); // fewest significant digits first; JS then prints that decimal compactly
    if (Math.fround(d) === f) return String(d);
  }
  return String(Number(f.toPrecision(9))); // 9 significant digits always identify a float32
}

/** The fields of the official ModelArgs that MLA reads (the official files' args_used_by_mla). */
export const ARGS_USED_BY_MLA = ["max_batch_size", "max_seq_len", "dim", "n_heads", "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim", "original_seq_len", "rope_theta", "rope_factor", "beta_fast", "beta_slow", "mscale"] as const;

export interface GenerateOptions {
  config: MlaConfig;
  /** Batch rows (<= config.max_batch_size). */
  batch: number;
  /** Prefill tokens at start_pos 0 (>= 1), then `decodes` single-token calls. */
  prefill: number;
  decodes: number;
  /** Seeds weights (Rng(seed)) and inputs (Rng(seed + 1)). */
  seed: number;
  name: string;
  /** Use these weights instead of random ones (e.g. a layer of a real checkpoint); `weightsSource` says where from. */
  weights?: MlaWeights;
  weightsSource?: string;
  /** Keep weights out of the JSON, in this .safetensors file (path relative to the JSON). */
  weightsFile?: string;
  /** Extra provenance for "source" (e.g. the command line). */
  source?: Record<string, unknown>;
  /** Called with a short message at each stage (weights, each call of each path, writing). */
  onProgress?: (message: string) => void;
}

export interface GeneratedCase {
  /** The case JSON text. */
  json: string;
  /** The weights as safetensors, when weightsFile was given. */
  weightsBytes?: Uint8Array;
  /** Largest |naive - absorbed| over every output, as computed in float64. */
  maxAbsDiffNaiveVsAbsorb: number;
}

/** Run the oracle (both paths) over one prefill and `decodes` decodes and serialise the case. */
export function generateVectorCase(o: GenerateOptions): GeneratedCase {
  const cfg = o.config, B = o.batch, D = cfg.dim;
  const say = o.onProgress ?? (() => {});
  if (!Number.isInteger(B) || B < 1 || B > cfg.max_batch_size) throw new FormatError("batch", B, `an integer in 1..${cfg.max_batch_size} (max_batch_size)`);
  if (!Number.isInteger(o.prefill) || o.prefill < 1) throw new FormatError("prefill", o.prefill, "an integer >= 1");
  if (!Number.isInteger(o.decodes) || o.decodes < 0) throw new FormatError("decodes", o.decodes, "an integer >= 0");
  const end = o.prefill + o.decodes;
  if (end > cfg.max_seq_len) throw new FormatError("prefill + decodes", end, `<= max_seq_len (${cfg.max_seq_len})`);

  const shapes = mlaWeightShapes(cfg);
  const params = Object.values(shapes).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
  say(`weights: ${params.toLocaleString("en-US")} parameters ${o.weights ? `from ${o.weightsSource ?? "the caller"}` : `from seed ${o.seed}`}`);
  // Given weights are rounded to float32 first: the case stores float32 and the oracle must run on exactly those numbers.
  const weights = o.weights ? toFloat32Weights(o.weights) : randomMlaWeights(cfg, new Rng(o.seed));
  const inRng = new Rng((o.seed + 1) >>> 0);
  const calls = [{ startPos: 0, seqlen: o.prefill }, ...Array.from({ length: o.decodes }, (_, i) => ({ startPos: o.prefill + i, seqlen: 1 }))];
  const inputs = calls.map((c) => inRng.normalArray(B * c.seqlen * D));

  const outputs: Record<"naive" | "absorbed", Float64Array[]> = { naive: [], absorbed: [] };
  const caches: Record<"naive" | "absorbed", Record<string, NamedTensor>> = { naive: {}, absorbed: {} };
  for (const path of ["naive", "absorbed"] as const) {
    const layer = new ReferenceMla(cfg, weights, { path });
    calls.forEach((c, i) => {
      say(`${path} path: call ${i + 1}/${calls.length} (start_pos ${c.startPos}, seqlen ${c.seqlen})`);
      outputs[path].push(layer.forward(inputs[i], { batch: B, seqlen: c.seqlen, startPos: c.startPos }));
    });
    caches[path] = layer.cache.snapshot(B, end);
  }
  const diffs = calls.map((_, i) => maxDiff(outputs.naive[i], outputs.absorbed[i]));
  const maxAbsDiff = Math.max(...diffs);
  let maxOut = 0;
  for (const y of outputs.naive) for (const v of y) maxOut = Math.max(maxOut, Math.abs(v));

  // Tensors, in the official files' order and names.
  const tensors: [string, number[], ArrayLike<number>][] = [];
  const weightNames = (Object.keys(shapes) as MlaWeightName[]).map((w) => `${w}.weight`);
  if (!o.weightsFile) for (const w of Object.keys(shapes) as MlaWeightName[]) tensors.push([`${w}.weight`, shapes[w]!, weights[w]!]);
  const half = cfg.qk_rope_head_dim / 2;
  const { cos, sin } = ropeTable(ropeFrequencies(cfg), Array.from({ length: end }, (_, p) => p)); // official freqs_cis: unscaled (rope_attention_factor is in derived)
  tensors.push(["freqs_cis.cos", [end, half], cos], ["freqs_cis.sin", [end, half], sin]);
  calls.forEach((c, i) => {
    const shape = [B, c.seqlen, D];
    tensors.push([`calls.${i}.input`, shape, inputs[i]], [`calls.${i}.output_naive`, shape, outputs.naive[i]], [`calls.${i}.output_absorb`, shape, outputs.absorbed[i]]);
  });
  for (const [n, t] of Object.entries(caches.naive)) tensors.push([`cache.naive.${n}`, t.shape, t.data]);
  for (const [n, t] of Object.entries(caches.absorbed)) tensors.push([`cache.absorb.${n}`, t.shape, t.data]);

  const yarn = yarnEnabled(cfg);
  const m = yarnMscaleFactor(cfg);
  const args: Record<string, unknown> = {};
  for (const k of ARGS_USED_BY_MLA) args[k] = cfg[k];
  args.n_layers = cfg.n_layers;
  if (cfg.rope_layout !== "interleaved") args.rope_layout = cfg.rope_layout; // mlakit extension; absent = official interleaved
  if (cfg.convention !== "official") {
    // mlakit extensions: transformers' YaRN switch, cos/sin factor and untruncated range (absent = official)
    args.convention = cfg.convention;
    args.yarn = cfg.yarn;
    args.rope_attention_factor = cfg.rope_attention_factor;
    args.yarn_truncate = cfg.yarn_truncate;
  }
  const head = {
    format: MLA_VECTORS_FORMAT,
    name: o.name,
    source: { generator: "mlakit float64 oracle (src/reference/mla.ts), naive and absorbed paths", ...o.source },
    runtime: { dtype: "float64 compute; tensors stored as float32 (shortest round-trip decimals)" },
    args,
    args_used_by_mla: [...ARGS_USED_BY_MLA],
    batch_size: B,
    derived: { qk_head_dim: qkHeadDim(cfg), convention: cfg.convention, yarn_enabled: yarn, mscale_factor: m, softmax_scale: mlaSoftmaxScale(cfg), rope_attention_factor: cfg.rope_attention_factor, rmsnorm_eps: RMSNORM_EPS, end_pos: end },
    generation: o.weights
      ? { seed: o.seed, rng: "mulberry32 + Box-Muller (src/weights.ts Rng); inputs Rng(seed+1)", weights: `given: ${o.weightsSource ?? "by the caller"}`, input: "N(0, 1^2)" }
      : { seed: o.seed, rng: "mulberry32 + Box-Muller (src/weights.ts Rng); weights Rng(seed), inputs Rng(seed+1)", linear_weight_std: "1/sqrt(fan_in)", norm_weight: "U(0.6, 1.4)", input: "N(0, 1^2)" },
    weights: weightNames,
    ...(o.weightsFile ? { weights_file: o.weightsFile } : {}),
    freqs: { cos: "freqs_cis.cos", sin: "freqs_cis.sin" },
    calls: calls.map((c, i) => ({
      start_pos: c.startPos,
      seqlen: c.seqlen,
      mask: c.seqlen > 1 ? "causal" : null,
      freqs_rows: [c.startPos, c.startPos + c.seqlen],
      input: `calls.${i}.input`,
      output_naive: `calls.${i}.output_naive`,
      output_absorb: `calls.${i}.output_absorb`,
      max_abs_diff_naive_vs_absorb: diffs[i],
    })),
    caches: { naive: { k_cache: "cache.naive.k_cache", v_cache: "cache.naive.v_cache" }, absorb: { kv_cache: "cache.absorb.kv_cache", pe_cache: "cache.absorb.pe_cache" } },
    agreement: { max_abs_diff_naive_vs_absorb: maxAbsDiff, max_abs_output: maxOut },
    notes:
      `Generated by mlakit's float64 oracle, not by DeepSeek's model.py; same format and semantics as the official set. One prefill of ${o.prefill} token(s) at start_pos 0 then ${o.decodes} single-token decode(s) on the same layer. ` +
      `Outputs and caches are the float64 results rounded to float32.` +
      (o.weightsFile ? ` Weights (state_dict names in "weights") are in the safetensors file "${o.weightsFile}" beside this JSON, float32.` : "") +
      (cfg.rope_layout === "half" ? ` args.rope_layout "half": RoPE pairs (i, i+dr/2) (HF rotate_half), an mlakit extension.` : ""),
  };
  say(`writing ${tensors.length} tensors`);
  const parts: string[] = [JSON.stringify(head, null, 1).replace(/\n}$/, ',\n "tensors": {')];
  tensors.forEach(([name, shape, data], i) => {
    const nums = new Array<string>(data.length);
    for (let k = 0; k < data.length; k++) nums[k] = float32ToJson(data[k], name);
    parts.push(`\n  ${JSON.stringify(name)}: {"shape": ${JSON.stringify(shape)}, "dtype": "float32", "data": [${nums.join(", ")}]}${i < tensors.length - 1 ? "," : ""}`);
  });
  parts.push("\n }\n}\n");
  const weightsBytes = o.weightsFile ? mlaWeightsToSafetensors(cfg, weights as MlaWeights, { naming: "official", metadata: { format: "pt", "mlakit.case": o.name } }) : undefined;
  return { json: parts.join(""), weightsBytes, maxAbsDiffNaiveVsAbsorb: maxAbsDiff };
}

function toFloat32Weights(w: MlaWeights): MlaWeights {
  const out: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(w)) if (v !== undefined) out[k] = v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
  return out as unknown as MlaWeights;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
