// mlakit vectors generate: write mla-vectors/1 cases computed by the float64 oracle.
import { join } from "node:path";
import { type MlaConfig, PRESET_NAMES, preset, validateConfig } from "../config.js";
import { readConfigFile } from "./config-file.js";
import { mlaTensorFilter } from "../io/hf-names.js";
import { loadMlaWeights } from "../io/mla-safetensors.js";
import { generateVectorCase } from "../io/mla-vectors-writer.js";
import { openCheckpoint } from "../io/safetensors-file.js";
import { checkDirectoryTarget, checkWritable, ensureDirectory, writeRegularFileSync } from "../io/regular-file.js";
import { type MlaWeights, mlaWeightShapes } from "../weights.js";
import { RANGES, choiceFlag, intFlag, parseFlags } from "./args.js";
import { type CliIo, EXIT_OK, UsageError, printJson } from "./io.js";
import { progress } from "./progress.js";

/** Inline JSON weights above this many parameters are refused (~11 bytes each: 4M -> ~45 MB of text). */
export const MAX_JSON_PARAMS = 4_000_000;
/** Default cap for safetensors weights (4 bytes each): one DeepSeek-V3 layer is 187M (748 MB). */
export const DEFAULT_MAX_PARAMS = 300_000_000;
/** Above this much oracle work, progress goes to stderr. */
const PROGRESS_PARAMS = 5_000_000;

export const vectorsHelp = `mlakit vectors generate (--preset NAME | --config FILE | --weights-from FILE.gguf) [--seed N] [--tokens P+D] [--batch B]
                       [--out DIR] [--name NAME] [--weights json|safetensors] [--scale-down K] [--max-params N]
                       [--weights-from CHECKPOINT [--layer N]] [--progress | --quiet] [--json]
  Runs the float64 oracle (naive and absorbed paths) over a prefill of P tokens and D single-token
  decodes and writes one mla-vectors/1 case (the official set's format): DIR/NAME.json, plus
  DIR/NAME.safetensors holding the weights when --weights safetensors (the JSON names it).
  Presets: ${PRESET_NAMES.join(", ")}; --config takes an official ModelArgs JSON or a HF config.json.
  Defaults: --seed 1 (0 to 2^32-1) --tokens 7+4 --batch 1 --out vectors/generated --weights json.
  Size: full presets are large (one DeepSeek-V3 layer has 187M weights). Inline JSON weights are
  refused above ${MAX_JSON_PARAMS.toLocaleString("en-US")} parameters; safetensors above --max-params (default ${DEFAULT_MAX_PARAMS.toLocaleString("en-US")}).
  --scale-down K divides dim, n_heads, q_lora_rank, kv_lora_rank, qk_nope_head_dim, v_head_dim and
  qk_rope_head_dim by K (rope dim kept even, >= 2) and keeps every RoPE/YaRN field, so a small case
  still exercises the preset's YaRN. Progress goes to stderr above ${PROGRESS_PARAMS.toLocaleString("en-US")} weights (or with --progress).
  --json: {"case": path, "weightsFile": path or null, "params", "prefill", "decodes", "batch", "maxAbsDiffNaiveVsAbsorb"}.
  --weights-from takes real weights instead of random ones: a .safetensors file, a sharded
  checkpoint's model.safetensors.index.json, or its directory; official or Hugging Face names;
  --layer N picks the layer (only the shards holding it are read). Use the model's config.json.
  A deepseek2 .gguf (llama.cpp's; F32, F16, BF16 or Q8_0 tensors) also works, and brings its own
  config from its metadata (--preset / --config may then be left out).`;

/** The preset or config shrunk by k (see vectorsHelp). */
export function scaleDown(cfg: MlaConfig, k: number): MlaConfig {
  const d = (v: number) => Math.max(1, Math.round(v / k));
  return validateConfig({
    ...cfg,
    dim: d(cfg.dim),
    n_heads: d(cfg.n_heads),
    q_lora_rank: cfg.q_lora_rank === 0 ? 0 : d(cfg.q_lora_rank),
    kv_lora_rank: d(cfg.kv_lora_rank),
    qk_nope_head_dim: d(cfg.qk_nope_head_dim),
    v_head_dim: d(cfg.v_head_dim),
    qk_rope_head_dim: 2 * Math.max(1, Math.round(cfg.qk_rope_head_dim / 2 / k)),
  });
}

export async function vectorsCommand(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== "generate") throw new UsageError(`vectors: expected the subcommand "generate", got ${sub === undefined ? "nothing" : JSON.stringify(sub)}\n${vectorsHelp}`);
  const { values: v, common } = parseFlags("vectors generate", rest, {
    preset: { type: "string" },
    config: { type: "string" },
    seed: { type: "string" },
    tokens: { type: "string" },
    batch: { type: "string" },
    out: { type: "string" },
    name: { type: "string" },
    weights: { type: "string" },
    "scale-down": { type: "string" },
    "max-params": { type: "string" },
    "weights-from": { type: "string" },
    layer: { type: "string" },
  });
  const values = v as Record<string, string | undefined>;
  // a GGUF carries its own config: --preset / --config are optional with one
  const ggufConfig = values.preset === undefined && values.config === undefined && (values["weights-from"]?.endsWith(".gguf") ?? false);
  if (!ggufConfig && (values.preset === undefined) === (values.config === undefined)) throw new UsageError(`vectors generate needs exactly one of --preset NAME or --config FILE (or --weights-from FILE.gguf alone)\n${vectorsHelp}`);
  // every number first: a bad one is refused before any config is read or any size checked
  const k = intFlag("scale-down", values["scale-down"], RANGES.scaleDown, 1);
  const seed = intFlag("seed", values.seed, RANGES.seed, 1);
  const batch = intFlag("batch", values.batch, RANGES.batch, 1);
  const maxParams = intFlag("max-params", values["max-params"], RANGES.params, DEFAULT_MAX_PARAMS);
  const layer = intFlag("layer", values.layer, RANGES.layer);
  const m = /^(\d{1,9})\+(\d{1,9})$/.exec(values.tokens ?? "7+4");
  if (!m || Number(m[1]) < 1) throw new UsageError(`--tokens ${JSON.stringify(values.tokens)}: expected P+D (P >= 1 prefill tokens, D >= 0 decodes), e.g. 7+4`);
  const mode = choiceFlag("weights", values.weights ?? "json", ["json", "safetensors"] as const);
  let cfg: MlaConfig, label: string;
  let fp8Block: [number, number] | undefined; // from a HF config's quantization_config.weight_block_size
  if (values.preset !== undefined) {
    cfg = preset(values.preset);
    label = values.preset;
  } else if (ggufConfig) {
    const store = await openCheckpoint(values["weights-from"]!, () => false);
    await store.close();
    cfg = store.config!;
    label = (values["weights-from"]!.split("/").pop() ?? "model").replace(/\.gguf$/, "");
  } else {
    const { config, json } = readConfigFile(values.config!, io, common.json || common.quiet);
    cfg = config;
    const wbs = (json as { quantization_config?: { weight_block_size?: unknown } })?.quantization_config?.weight_block_size;
    if (Array.isArray(wbs) && wbs.length === 2 && wbs.every((v) => Number.isInteger(v) && v > 0)) fp8Block = [wbs[0], wbs[1]];
    label = (values.config!.split("/").pop() ?? "config").replace(/\.json$/, "");
  }
  if (k > 1 && values["weights-from"] !== undefined) throw new UsageError("--scale-down cannot shrink real weights (--weights-from); pick a smaller checkpoint or drop --scale-down");
  if (values.layer !== undefined && values["weights-from"] === undefined) throw new UsageError("--layer picks a layer of --weights-from CHECKPOINT; give both");
  if (k > 1) {
    cfg = scaleDown(cfg, k);
    label += `-div${k}`;
  }
  const prefill = Number(m[1]), decodes = Number(m[2]);
  if (prefill + decodes > cfg.max_seq_len) throw new UsageError(`--tokens ${prefill}+${decodes}: ${prefill + decodes} tokens exceed max_seq_len ${cfg.max_seq_len}`);
  if (batch > cfg.max_batch_size) cfg = { ...cfg, max_batch_size: batch }; // the case needs the rows; nothing else depends on it

  const params = Object.values(mlaWeightShapes(cfg)).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`;
  if (mode === "json" && params > MAX_JSON_PARAMS) {
    throw new UsageError(
      `${label}: one MLA layer has ${params.toLocaleString("en-US")} weight parameters (~${mb(params * 11)} as JSON text), above the ${MAX_JSON_PARAMS.toLocaleString("en-US")} allowed inline. ` +
        `Use --weights safetensors (${mb(params * 4)} beside the JSON), or a smaller model, e.g. --scale-down 16.`,
    );
  }
  if (params > maxParams) throw new UsageError(`${label}: ${params.toLocaleString("en-US")} weight parameters (${mb(params * 4)}) exceed --max-params ${maxParams.toLocaleString("en-US")}; raise it or use --scale-down K`);

  let given: { weights: MlaWeights; source: string } | undefined;
  if (values["weights-from"] !== undefined) {
    const store = await openCheckpoint(values["weights-from"], mlaTensorFilter(layer));
    try {
      const loaded = await loadMlaWeights(store, cfg, { layer, fp8BlockSize: fp8Block });
      cfg = loaded.config; // rope rows now in the official interleaved layout
      given = { weights: loaded.weights, source: `${values["weights-from"]}${loaded.layer === null ? "" : ` layer ${loaded.layer}`} (${loaded.naming} names${loaded.permutedRope ? ", rope rows interleaved" : ""})` };
      if (loaded.layer !== null) label += `-layer${loaded.layer}`;
    } finally {
      await store.close();
    }
  }
  const name = values.name ?? `${label}-s${seed}-b${batch}-p${prefill}d${decodes}`;
  if (!/^[\w.+-]+$/.test(name)) throw new UsageError(`--name ${JSON.stringify(name)}: expected letters, digits, and . _ + -`);
  const out = values.out ?? join("vectors", "generated");
  const weightsFile = mode === "safetensors" ? `${name}.safetensors` : undefined;
  const jsonPath = join(out, `${name}.json`), wPath = weightsFile === undefined ? undefined : join(out, weightsFile);
  checkDirectoryTarget(out, "--out");
  for (const f of [jsonPath, wPath]) if (f !== undefined) checkWritable(f, "--out file"); // before the oracle runs, and both before either is written
  const slow = params > PROGRESS_PARAMS;
  const p = progress(io, common.progress);
  const g = generateVectorCase({ config: cfg, batch, prefill, decodes, seed, name, weightsFile, weights: given?.weights, weightsSource: given?.source, onProgress: (msg) => p.stage(msg, slow), source: { command: `mlakit vectors generate ${argv.slice(1).join(" ")}`.trim() } });
  ensureDirectory(out, "--out");
  let wrote = `${jsonPath} (${mb(g.json.length)})`;
  if (wPath !== undefined && g.weightsBytes) {
    p.stage(`writing ${wPath}`, slow);
    writeRegularFileSync(wPath, g.weightsBytes, "--out file"); // the weights first: the case JSON never names a file not written
    wrote += ` and ${wPath} (${mb(g.weightsBytes.length)})`;
  }
  writeRegularFileSync(jsonPath, g.json, "--out file");
  p.end();
  if (common.json) {
    printJson(io, { case: jsonPath, weightsFile: wPath ?? null, params, prefill, decodes, batch, maxAbsDiffNaiveVsAbsorb: g.maxAbsDiffNaiveVsAbsorb });
    return EXIT_OK;
  }
  io.out(`wrote ${wrote}: ${prefill}+${decodes} tokens, batch ${batch}, ${params.toLocaleString("en-US")} weights, naive vs absorbed max abs diff ${g.maxAbsDiffNaiveVsAbsorb.toExponential(2)}\ncheck it with: mlakit verify ${jsonPath}\n`);
  return EXIT_OK;
}
