// mlakit analyze: the cost model for one config (src/analysis), as tables, JSON or SVG charts.
import { type MlaConfig, PRESET_NAMES, preset } from "../config.js";
import { readConfigFile } from "./config-file.js";
import { type Analysis, type PathFigures, type PathTable, analyze } from "../analysis/analyze.js";
import { type BenchResults, parseBenchResults } from "../analysis/bench-results.js";
import { cacheChart, timeChart } from "../analysis/charts.js";
import { KV_SCHEMES } from "../analysis/kv-cache.js";
import { svgDocument } from "../analysis/svg.js";
import { fmtBytes, fmtInt, fmtNum, fmtRatio, fmtSeconds, fmtSi, fmtTokens } from "../analysis/units.js";
import type { ModelPath } from "../analysis/work.js";
import { WORK_TERMS } from "../work-terms.js";
import { FormatError } from "../errors.js";
import { checkWritable, readRegularFileSync, writeRegularFileSync } from "../io/regular-file.js";
import { RANGES, choiceFlag, intFlag, parseFlags } from "./args.js";
import { WEIGHT_FORMATS } from "../weight-formats.js";
import { CLI_FORMAT_NAMES, cacheFormatFlag, toAnalysisFormat } from "./formats.js";
import { type CliIo, EXIT_OK, UsageError, oneLine, printJson } from "./io.js";
import { resolveMachine } from "./machine.js";
import { formatTable } from "./table.js";

export { parseMachine } from "./machine.js";

export const analyzeHelp = `mlakit analyze [--preset NAME | --config FILE] [--context N] [--batch B] [--format ${CLI_FORMAT_NAMES}]
               [--machine GFLOPS,GBPS | --machine FILE] [--bench FILE] [--json] [--svg FILE] [--groups G] [--seed-rank R] [--weights f32|bf16|int8|fp8]
  The cost model: KV-cache bytes per scheme (MHA, GQA, MQA, MLA latent, MLA decompressed, the seed's
  per-head rank r), FLOPs and bytes of a decode step and a prefill per path (naive, recompute,
  absorbed, MHA; GQA, MQA, seed too; DSA, the sparse attention, for a DeepSeek-V3.2 config, with
  its index key cache) split by term, arithmetic intensity, roofline time on a machine, and
  crossovers. Presets: ${PRESET_NAMES.join(", ")} (default deepseek-v3).
  Defaults: --context 32768 (1 to 2^30), --batch 1, --format bf16, weights at the format's value width.
  --json: kvCache.<scheme>.{elementsPerTokenPerLayer,bytesPerTokenPerLayer,totalBytes} and
  decode|prefill.<path>.{flops,bytes,intensity,bound,seconds,terms} for the whole model (perLayer too);
  V3.2: indexKeys.{bytesPerTokenPerLayer,totalBytes,vsLatent,topk} and the path decode|prefill.dsa.
  The machine (printed with its source): --machine GFLOPS,GBPS or a file from mlakit probe --json,
  else the probe of a --bench results file (whose measured decode steps --svg also draws), else the
  probe mlakit probe --save stored, else a default (one Zen 3 core, 31 GFLOP/s, 14 GB/s).`;

export const DEFAULT_CONTEXT = 32768;

/** A --bench file above this size is refused unread (bench/results/*.json are tens of KB). */
export const MAX_BENCH_JSON_BYTES = 64 * 2 ** 20;

/** A --bench results file (bench/results/latest.json in the repository, or any run's), parsed. */
export function loadBenchResults(file: string): BenchResults {
  try {
    const text = readRegularFileSync(file, "--bench", MAX_BENCH_JSON_BYTES).toString("utf8"); // a file that is no regular file: its own one-line error
    return parseBenchResults(JSON.parse(text));
  } catch (e) {
    if (e instanceof FormatError && e.field === "--bench") throw e;
    throw new UsageError(`--bench ${JSON.stringify(file)}: not readable JSON (${oneLine((e as Error).message)})`);
  }
}

export function loadConfig(presetName: string | undefined, configFile: string | undefined, io: CliIo, quiet = false): { cfg: MlaConfig; name: string } {
  if (presetName !== undefined && configFile !== undefined) throw new UsageError("give --preset or --config, not both");
  if (configFile !== undefined) return { cfg: readConfigFile(configFile, io, quiet).config, name: configFile };
  const name = presetName ?? "deepseek-v3";
  return { cfg: preset(name), name };
}

export async function analyzeCommand(argv: string[], io: CliIo): Promise<number> {
  const { values: v, common } = parseFlags("analyze", argv, {
    preset: { type: "string" },
    config: { type: "string" },
    context: { type: "string" },
    batch: { type: "string" },
    format: { type: "string" },
    machine: { type: "string" },
    svg: { type: "string" },
    groups: { type: "string" },
    "seed-rank": { type: "string" },
    weights: { type: "string" },
    bench: { type: "string" },
  });
  const format = cacheFormatFlag("format", v.format ?? "bf16");
  const context = intFlag("context", v.context, RANGES.context, DEFAULT_CONTEXT);
  const batch = intFlag("batch", v.batch, RANGES.batch, 1);
  const groups = intFlag("groups", v.groups, RANGES.heads);
  const seedRank = intFlag("seed-rank", v["seed-rank"], RANGES.heads);
  const weightFormat = v.weights === undefined ? undefined : choiceFlag("weights", v.weights, WEIGHT_FORMATS);
  const svgPath = v.svg as string | undefined;
  if (svgPath !== undefined) checkWritable(svgPath, "--svg"); // before the work
  const { cfg, name } = loadConfig(v.preset as string | undefined, v.config as string | undefined, io, common.json || common.quiet);
  const bench = v.bench === undefined ? undefined : loadBenchResults(v.bench as string);
  const machine = resolveMachine(v.machine as string | undefined, bench, io);

  const a = analyze(cfg, name, { context, batch, format: toAnalysisFormat(format), machine, groups, seedRank, weightFormat });

  if (svgPath !== undefined) {
    const common = { format: a.format, groups: a.groups, seedRank: a.seedRank, weightFormat: a.weightFormat, batch, maxContext: Math.max(cfg.max_seq_len, context) };
    const svg = svgDocument([cacheChart(cfg, name, common), timeChart(cfg, name, { ...common, machine, measured: bench?.decode })]);
    writeRegularFileSync(svgPath, svg, "--svg");
  }
  const shown = { ...a, format }; // the CLI's name for the format (fp8_e4m3), as --format takes it
  if (common.json) printJson(io, shown);
  else io.out(renderText(shown) + (svgPath !== undefined ? `\nCharts written to ${svgPath}\n` : ""));
  return EXIT_OK;
}

const PATH_LABEL: Record<ModelPath, string> = { naive: "MLA naive", recompute: "MLA recompute", absorbed: "MLA absorbed", mha: "MHA", gqa: "GQA", mqa: "MQA", seedPerHead: "seed per-head", dsa: "DSA (sparse)" };

/** A path of the analysis's own list (a.paths), which its tables always have. */
const fig = (t: PathTable, p: ModelPath): PathFigures => t[p] as PathFigures;

export function renderText(a: Omit<Analysis, "format"> & { format: string }): string {
  const c = a.config;
  const out: string[] = [];
  out.push(
    `${a.name}: D ${c.dim}, H ${c.n_heads}, q_lora_rank ${c.q_lora_rank}, kv_lora_rank ${c.kv_lora_rank}, dn ${c.qk_nope_head_dim}, dr ${c.qk_rope_head_dim}, dv ${c.v_head_dim}, ${c.n_layers} layers`,
    `context ${fmtInt(a.context)}, batch ${a.batch}, cache ${a.format}, weights ${a.weightFormat} (${+a.weightBytes.toFixed(4)} B/element read), GQA ${a.groups} groups, seed rank r = ${a.seedRank}`,
    `machine: ${fmtNum(a.machine.gflops)} GFLOP/s, ${fmtNum(a.machine.gbps)} GB/s, ridge ${(a.machine.gflops / a.machine.gbps).toFixed(1)} FLOP/B (${a.machine.source})`,
    "",
    `KV cache (whole model = per layer x ${c.n_layers}):`,
    formatTable(
      ["scheme", "elements/token/layer", `bytes/token/layer`, "bytes/token", `total (${fmtTokens(a.context)} x ${a.batch})`, "vs MLA"],
      KV_SCHEMES.map((s) => {
        const k = a.kvCache[s];
        return [s, fmtInt(k.elementsPerTokenPerLayer), fmtInt(k.bytesPerTokenPerLayer), fmtInt(k.bytesPerToken), fmtBytes(k.totalBytes), fmtRatio(k.vsMla)];
      }),
    ),
  );
  if (a.indexKeys) {
    const k = a.indexKeys;
    out.push(
      `DSA's index keys beside the latent: ${fmtInt(k.bytesPerTokenPerLayer)} B/token/layer (e4m3 + float32 scale, any --format), ${fmtInt(k.bytesPerToken)} B/token, ${fmtBytes(k.totalBytes)} in all: ${(100 * k.vsLatent).toFixed(1)} % over the ${a.format} latent; each query attends the top ${fmtInt(k.topk)} keys.`,
    );
  }
  out.push("");
  for (const phase of ["decode", "prefill"] as const) {
    const f = a[phase];
    out.push(
      phase === "decode"
        ? `Decode step at context ${fmtInt(a.context)} (one new token per row, whole model, attention layers only):`
        : `Prefill of ${fmtInt(a.context)} tokens per row (whole model, attention layers only):`,
      formatTable(
        ["path", "cache", "FLOPs", "bytes", "FLOP/B", "bound", "roofline time", "terms in sequence", phase === "decode" ? "tokens/s" : "tokens/s (prefill)"],
        a.paths.map((p) => {
          const x = fig(f, p);
          const tps = (phase === "decode" ? a.batch : a.batch * a.context) / x.seconds;
          return [PATH_LABEL[p], x.cache, fmtSi(x.flops), fmtBytes(x.bytes), x.intensity.toFixed(1), x.bound, fmtSeconds(x.seconds), fmtSeconds(x.secondsSequential), fmtSi(tps)];
        }),
      ),
      "",
    );
  }
  out.push(
    "Decode step by term (FLOPs / bytes, whole model):",
    formatTable(
      ["term", ...a.paths.map((p) => PATH_LABEL[p])],
      // topk has no FLOPs or bytes (the line below gives its work); rows no path uses are left out
      WORK_TERMS.filter((t) => t !== "topk" && a.paths.some((p) => fig(a.decode, p).terms[t].flops || fig(a.decode, p).terms[t].bytes)).map((t) => [
        t,
        ...a.paths.map((p) => {
          const c = fig(a.decode, p).terms[t];
          return c.flops || c.bytes ? `${fmtSi(c.flops)} / ${fmtBytes(c.bytes)}` : "-";
        }),
      ]),
    ),
  );
  if (a.decode.dsa) out.push(`  DSA's top-k ranks ${fmtSi(a.decode.dsa.ranked)} candidate scores per decode step (whole model; no FLOPs counted).`);
  out.push("");
  out.push("Crossovers (roofline time; context scanned up to max(max_seq_len, --context), heads 1..512):");
  if (a.crossovers.length === 0) out.push("  none in range");
  for (const x of a.crossovers) {
    const where = x.varies === "context" ? `from context ${fmtInt(x.at)}` : `from ${x.at} heads (context ${fmtInt(x.context ?? 0)})`;
    out.push(`  ${x.phase}: ${PATH_LABEL[x.faster]} becomes faster than ${PATH_LABEL[x.slower]} ${where}`);
  }
  for (const b of a.boundChanges) out.push(`  ${b.phase}: ${PATH_LABEL[b.path]} becomes ${b.bound}-bound from context ${fmtInt(b.at)}`);
  out.push("");
  const s = a.seed;
  out.push(
    `The seed text's formulas (h ${s.stated.h}, s ${fmtInt(s.stated.s)}, d_head ${s.stated.d}, r ${s.stated.r}; one layer, one row, one decode step):`,
    formatTable(
      ["figure", "seed formula", "seed scheme (counted)", "MLA naive", "MLA recompute", "MLA absorbed"],
      [
        ["decompression FLOPs", fmtSi(s.stated.decompressionFlops), fmtSi(s.seedScheme.decompressionFlops), fmtSi(s.mla.naive.decompressionFlops), fmtSi(s.mla.recompute.decompressionFlops), fmtSi(s.mla.absorbed.decompressionFlops)],
        ["absorption FLOPs", "-", "-", fmtSi(s.mla.naive.absorptionFlops), fmtSi(s.mla.recompute.absorptionFlops), fmtSi(s.mla.absorbed.absorptionFlops)],
        ["attention FLOPs", fmtSi(s.stated.attentionFlops), fmtSi(s.seedScheme.attentionFlops), fmtSi(s.mla.naive.attentionFlops), fmtSi(s.mla.recompute.attentionFlops), fmtSi(s.mla.absorbed.attentionFlops)],
        ["total / MHA attention", fmtRatio(s.stated.computeRatio), fmtRatio(s.seedScheme.computeRatio), fmtRatio(s.mla.naive.totalVsMha), fmtRatio(s.mla.recompute.totalVsMha), fmtRatio(s.mla.absorbed.totalVsMha)],
        ["cache: MHA / this", fmtRatio(s.stated.memoryRatio), fmtRatio(s.seedScheme.cacheRatioVsMha), fmtRatio(a.kvCache.mha.elementsPerTokenPerLayer / a.kvCache.mlaNaiveCache.elementsPerTokenPerLayer), fmtRatio(s.cacheRatioMhaOverMla), fmtRatio(s.cacheRatioMhaOverMla)],
      ],
    ),
    `  MLA's cache equals the seed scheme's at r = (d_c + d_rope) / (2 H) = ${s.equivalentSeedRank.toFixed(2)} per head.`,
  );
  return out.join("\n") + "\n";
}
