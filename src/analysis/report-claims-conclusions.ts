// Claims 7-12 of the seed text: what it concludes about speed and memory (memory-bound decode, a
// negligible W_decomp, a million tokens in 24 GB, fused kernels, low precision, the trade overall).
// Wording only: every number comes from report-figures.ts.

import { type Claim, NOT_MEASURED as NM } from "./report-claims.js";
import { chartFile } from "./report-charts.js";
import type { ModelFigures, ReportFigures, RooflineFigures } from "./report-figures.js";
import { type AttentionPair, longestWith } from "./report-measured.js";
import { fmtBytes, fmtBytesDecimal, fmtInt, fmtRatio, fmtSeconds } from "./units.js";

/** "attention at 4,096: absorbed 1.2 ms, naive 9.8 ms (absorbed 8.2x faster)". */
function attentionPairText(a: AttentionPair): string {
  return `attention at ${fmtInt(a.context)}: absorbed ${fmtSeconds(a.absorbed)}, naive ${fmtSeconds(a.naive)} (${a.absorbed < a.naive ? `absorbed ${fmtRatio(a.naiveOverAbsorbed)} faster` : `naive ${fmtRatio(a.absorbedOverNaive)} faster`})`;
}

// Claim 7 prices this machine at f32 (what the WASM core stores and computes, so the measured points
// compare), with bf16 as the variant; the GPU at bf16.
function memoryBound(f: ReportFigures): Claim {
  const { v3, lite, context } = f;
  const crossLine = (r: RooflineFigures) => r.crossovers.map((c) => `${c.faster} overtakes ${c.slower} from context ${fmtInt(c.at)}`).join("; ") || "no crossover between naive, absorbed and MHA";
  const computeBoundFrom = (r: RooflineFigures) => (r.absorbedComputeBoundFrom !== undefined ? `; absorbed is compute-bound from context ${fmtInt(r.absorbedComputeBoundFrom)}.` : ".");
  // No crossover up to max_seq_len: the order at the report's context holds everywhere.
  const noCross = (r: RooflineFigures) => `absorbed ${r.absorbedNotSlowerThanNaive ? "faster" : "slower"} than naive at every context`;
  const naiveFaster = (r: RooflineFigures) => (r.naiveFasterFrom !== undefined ? `naive faster from ${fmtInt(r.naiveFasterFrom)}` : noCross(r));
  const cpuCell = (m: ModelFigures) => {
    const r32 = m.roofline.cpu32;
    return (
      `absorbed attention ${m.absorbedAttentionIntensity.toFixed(0)} FLOP/B (bf16); this machine, f32: ` +
      `${r32.absorbedComputeBoundFrom !== undefined ? `compute-bound from ${fmtInt(r32.absorbedComputeBoundFrom)} tokens` : r32.decode.absorbed.bound + "-bound"}, ${naiveFaster(r32)}` +
      `; bf16: ${naiveFaster(m.roofline.cpu)}`
    );
  };
  const timeCells = (r: RooflineFigures) => (["absorbed", "naive", "mha"] as const).map((p) => `${fmtSeconds(r.decode[p].seconds)} (${r.decode[p].bound})`).join(" | ");
  const nv16 = v3.roofline.cpu.naiveFasterFrom, nv32 = v3.roofline.cpu32.naiveFasterFrom;
  const pair = (label: string, a: AttentionPair | undefined) => a && `${label} ${attentionPairText(a)}`;
  return {
    title: "Long-context decode is memory-bound, compute sits idle, so trading compute for memory wins",
    quote: "在长上下文场景下，标准 Transformer 的瓶颈是内存带宽和容量。计算单元经常处于“饥饿”状态 … 减少高延迟的内存访问次数往往比增加计算更有利于提升整体吞吐量",
    translation: "In long contexts the bottleneck of a standard Transformer is memory bandwidth and capacity; compute units starve. Fewer memory accesses usually help throughput more than the added compute hurts.",
    formula: "roofline: time = max(FLOPs / peak, bytes / bandwidth)",
    body: [
      `MHA's decode step has an arithmetic intensity of about ${v3.roofline.cpu.decode.mha.intensity.toFixed(1)} FLOP/B: memory-bound on any machine. The absorbed path's attention`,
      `does 2·h·(2·d_c + d_R) FLOPs per cached token of ${v3.mlaBytesPerTokenPerLayer.bf16} B (bf16): ${v3.absorbedAttentionIntensity.toFixed(0)} FLOP/B for V3 (h 128), ${lite.absorbedAttentionIntensity.toFixed(0)} for V2-Lite (h 16); half that at f32.`,
      `Whether it pays depends on the machine's ridge point (peak / bandwidth): ${f.ridge.machine.toFixed(1)} FLOP/B on this machine, ${f.ridge.gpu.toFixed(0)} on the datasheet GPU,`,
      "and on the cache's format, which sets the naive path's bytes.",
      "",
      `| decode, s = ${fmtInt(context)}, whole model | this machine, f32: absorbed | naive | MHA | datasheet GPU, bf16: absorbed | naive | MHA |`,
      "|---|---|---|---|---|---|---|",
      ...[v3, lite].map((m) => `| ${m.title} | ${timeCells(m.roofline.cpu32)} | ${timeCells(m.roofline.gpu)} |`),
      "",
      "Crossovers (batch 1; `mlakit analyze` lists them for any config, format and machine):",
      "",
      ...[v3, lite].map((m) => `- ${m.title}, this machine, f32: ${crossLine(m.roofline.cpu32)}` + computeBoundFrom(m.roofline.cpu32)),
      ...[v3, lite].map((m) => `- ${m.title}, this machine, bf16 cache and weights: ${crossLine(m.roofline.cpu)}` + computeBoundFrom(m.roofline.cpu)),
      ...[v3, lite].map(
        (m) =>
          `- ${m.title}, datasheet GPU, bf16: ${crossLine(m.roofline.gpu)}; absorbed is ${m.roofline.gpu.decode.absorbed.bound}-bound at ${fmtInt(context)}` +
          (m.roofline.gpu.absorbedFastestEverywhere ? `, and the fastest of the three at every context up to ${fmtInt(m.config.max_seq_len)}.` : "."),
      ),
      ...([["this machine", v3.roofline.cpu32], ["datasheet GPU", v3.roofline.gpu]] as const).map(([where, r]) => {
        const x = r.prefill.naiveFasterFrom;
        return `- Prefill, DeepSeek-V3, ${where}: absorbed does ${fmtRatio(r.prefill.absorbedOverNaiveFlops)} the naive path's FLOPs at ${fmtInt(context)} tokens${x !== undefined ? `; naive is faster from ${fmtInt(x)} tokens` : ""}.`;
      }),
      "",
      "In the charts, the upper panel is this machine with a float32 cache and float32 weights (what the WASM core runs, so",
      "measured points can sit on it); the lower one is the datasheet GPU at bf16.",
      "",
      `![Decode time per layer, DeepSeek-V3](${chartFile("time", "deepseek-v3")})`,
      "",
      `![Decode time per layer, V2-Lite](${chartFile("time", "deepseek-v2-lite")})`,
    ],
    v3: cpuCell(v3),
    lite: cpuCell(lite),
    measured: [pair("V3", v3.measured.attentionPair), pair("V2-Lite", lite.measured.attentionPair)].filter(Boolean).join("; ") || NM,
    verdict:
      `**Machine- and format-dependent.** True for MHA everywhere, and for absorbed MLA on a GPU (datasheet: ${v3.roofline.gpu.decode.absorbed.bound}-bound at 32k). ` +
      `On a CPU core absorbed MLA makes decode compute-bound, so compute is not idle there; ` +
      (nv32 !== undefined ? `a naive f32 cache (if it fit) would be faster beyond ${fmtInt(nv32)} tokens` : `at f32 (V3), ${noCross(v3.roofline.cpu32)}`) +
      (nv16 !== undefined ? `; with bf16 storage a naive cache would overtake it beyond ${fmtInt(nv16)} tokens.` : "."),
  };
}

/** The decode GEMV that streams wkv_b, against the measured absorbed attention. */
function wkvbMeasured({ v3, lite }: ReportFigures): string | undefined {
  const parts: string[] = [];
  for (const [name, m] of [["V3", v3], ["V2-Lite", lite]] as const) {
    const g = m.measured.wkvbStream;
    if (!g) continue;
    const att = g.percentOfAbsorbed;
    parts.push(
      `${name} wkv_b (f32, ${fmtBytes(g.bytes)}) streams in ${fmtSeconds(g.seconds)}` +
        (att.length ? ` = ${att.map((a) => `${a.percent.toFixed(0)} %`).join(" / ")} of the measured absorbed attention at ${att.map((a) => fmtInt(a.context)).join(" / ")} tokens` : ""),
    );
  }
  return parts.length ? parts.join("; ") : undefined;
}

function wDecompSmall(f: ReportFigures): Claim {
  const { v3, lite } = f;
  return {
    title: "W_decomp is small and its load negligible",
    quote: "W_decomp 是小的、固定的矩阵 ([r, d_head])。它可以常驻在高速缓存 (Cache) 中，其加载开销可以忽略不计",
    translation: "W_decomp is a small fixed [r, d_head] matrix; it can stay in cache and its load cost is negligible.",
    formula: "seed: r·d_head values; MLA: wkv_b = h·(d_nope + d_v)·d_c",
    body: [
      "MLA's up-projection `wkv_b` is h·(d_nope + d_v)·d_c values per layer. The absorbed path reads it every step",
      "(as W_UK for the query and W_UV for the output); at bf16 it weighs as much as this many cached tokens of the",
      "same layer:",
      "",
      "| | wkv_b per layer (bf16) | seed W_decomp (r 8, K and V) | equals the latent cache of |",
      "|---|---|---|---|",
      ...[v3, lite].map((m) => `| ${m.title} | ${fmtBytes(m.wkvb.bytesPerLayer)} | ${fmtBytes(f.seedWDecompBytes)} | ${fmtInt(m.wkvb.cachedTokens)} tokens (cache of one layer at 32k: ${fmtBytes(m.wkvb.cacheLayerBytesAtContext)}) |`),
      "",
      "Batching amortises every weight read (all of the step's weights, not only wkv_b): share of the bytes of an",
      "absorbed decode step that are weights, bf16, DeepSeek-V3, whole model:",
      "",
      `| context | ${f.weightShareBatches.map((B) => `batch ${B}`).join(" | ")} |`,
      "|---|---|---|---|",
      ...f.weightShare.map((w) => `| ${fmtInt(w.context)} | ${w.percentByBatch.map((x) => `${x.toFixed(0)} %`).join(" | ")} |`),
    ],
    v3: `${fmtBytes(v3.wkvb.bytesPerLayer)} per layer = ${fmtInt(v3.wkvb.cachedTokens)} cached tokens`,
    lite: `${fmtBytes(lite.wkvb.bytesPerLayer)} per layer = ${fmtInt(lite.wkvb.cachedTokens)} cached tokens`,
    measured: wkvbMeasured(f) ?? NM,
    verdict: `**False for MLA.** wkv_b is ${fmtBytes(v3.wkvb.bytesPerLayer)} per layer for V3 (${fmtBytes(v3.wkvb.bytesAllLayers)} over ${v3.config.n_layers} layers), ${fmtBytes(lite.wkvb.bytesPerLayer)} for V2-Lite, streamed once per step: at batch 1 as many bytes as ${fmtInt(v3.wkvb.cachedTokens)} (V3) or ${fmtInt(lite.wkvb.cachedTokens)} (V2-Lite) cached tokens — negligible only at long contexts or large batches.`,
  };
}

function millionTokens({ v3, lite }: ReportFigures): Claim {
  const tok = (m: ModelFigures) => m.millionTokens;
  return {
    title: "Million-token context on one 24 GB consumer GPU",
    quote: "这使得在单张消费级 GPU (如 24GB) 上运行百万 token 级别的上下文成为可能",
    translation: "This makes million-token contexts possible on a single consumer GPU (e.g. 24 GB).",
    formula: "bytes/token x 10^6 <= 24 GB",
    body: [
      "The latent cache alone (no weights, batch 1) at one million tokens, and the longest context whose cache fits",
      "in 24 GB:",
      "",
      "| | bf16 at 1M tokens | fp8 at 1M tokens | fits in 24 GB (bf16) | fits (fp8) | model's max_seq_len |",
      "|---|---|---|---|---|---|",
      ...[v3, lite].map(
        (m) =>
          `| ${m.title} | ${fmtBytesDecimal(tok(m).bytes.bf16)} | ${fmtBytesDecimal(tok(m).bytes.fp8)} | ${fmtInt(tok(m).fitIn24GB.bf16)} tokens | ${fmtInt(tok(m).fitIn24GB.fp8)} tokens | ${fmtInt(m.config.max_seq_len)} |`,
      ),
      "",
      "The weights come on top: V3 has 671 B parameters, V2-Lite 16 B (about 32 GB in bf16) — neither fits a 24 GB card.",
    ],
    v3: `${fmtBytesDecimal(tok(v3).bytes.bf16)} cache at 1M (bf16); ${fmtInt(tok(v3).fitIn24GB.bf16)} tokens fit`,
    lite: `${fmtBytesDecimal(tok(lite).bytes.bf16)} at 1M; ${fmtInt(tok(lite).fitIn24GB.bf16)} tokens fit`,
    measured: "n/a (arithmetic)",
    verdict: "**False.** Even the cache alone exceeds 24 GB at 1M tokens for both models, and the released models serve at most 160k tokens.",
  };
}

function fusedKernels({ v3, lite }: ReportFigures): Claim {
  const fused = v3.measured.fused;
  // The seed's own proposal, built: recompute with the decompression fused into the attention kernel.
  const seedFused = [v3, lite].flatMap((m) => {
    const at = longestWith(m.measured.attentionByPath, ["recompute", "absorbed"]);
    return at ? [`${m.title} at ${fmtInt(at.context)}: the seed's fused recompute kernel ${fmtSeconds(at.seconds.recompute!)}, ${fmtRatio(at.seconds.recompute! / at.seconds.absorbed!)} the absorbed one`] : [];
  });
  return {
    title: "Fuse decompression into the attention kernel",
    quote: "将解压缩操作 (L_K * W_decomp) 与后续的 Q * K'^T 计算融合到一个高度优化的 CUDA/ROCm 内核中",
    translation: "Fuse the decompression (L_K·W_decomp) with the following Q·K'^T in one optimised kernel.",
    formula: "—",
    body: [
      "What DeepSeek fuses (FlashMLA) is the absorbed attention: q_abs·c + q_pe·k_pe, softmax and the latent",
      "weighted sum in one pass over the latent cache; no decompression happens in it. mlakit's WASM core does the same",
      "(`attn_absorbed_paged`), and also builds the seed's own proposal, the recompute path with the decompression",
      "fused into attention (`attn_recompute_paged`: per 64-token block and head, K/V land in an L2-resident tile and",
      "are attended at once, never written to memory); the benchmarks time both beside the naive kernel.",
    ],
    v3: "absorbed: no decompression to fuse",
    lite: "same",
    measured: fused ? [`V3 fused absorbed attention at ${fmtInt(fused.context)}: ${fmtSeconds(fused.seconds)}, ${fmtRatio(fused.overRoofline)} its roofline bound`, ...seedFused].join("; ") : NM,
    verdict: "**Right idea, wrong operation**: the fused kernel is absorbed attention over latents.",
  };
}

function lowPrecision({ v3 }: ReportFigures): Claim {
  const b = v3.mlaBytesPerTokenPerLayer;
  return {
    title: "Low precision (FP16/BF16/INT8) without notable accuracy loss",
    quote: "解压缩和注意力计算都可以使用 FP16/BF16 甚至 INT8 量化来进一步加速，而不会显著损失精度",
    translation: "Decompression and attention can use FP16/BF16 or even INT8 quantisation for further speed, without significant accuracy loss.",
    formula: "bytes per token per format",
    body: [
      `The bytes are exact (see claim 2): f32 ${fmtInt(b.f32)}, bf16 ${fmtInt(b.bf16)}, int8 ${b.int8}, fp8 (FlashMLA) ${b.fp8} bytes per token per`,
      "layer for V3/V2-Lite. The accuracy of each format against the float64 oracle (max abs error, FlashMLA's cal_diff,",
      "derived bounds) is measured in [docs/cache.md](cache.md), \"Accuracy vs memory\".",
    ],
    v3: `fp8 ${b.fp8} B, int8 ${b.int8} B per token per layer`,
    lite: "same (same d_c, d_R)",
    measured: "accuracy per format: docs/cache.md",
    verdict: "**Bytes: yes** (FlashMLA ships an FP8 cache); accuracy: measured per format in docs/cache.md, not judged here.",
  };
}

function conclusion(f: ReportFigures): Claim {
  const s3 = f.v3.seed, sl = f.lite.seed;
  return {
    title: "Conclusion: O(r)x more compute buys O(d_head / r)x less memory",
    quote: "巧妙地用可控的计算开销 (O(r) 倍增长) 换取了革命性的内存节省 (O(d_head/r) 倍减少)",
    translation: "MLA trades a controllable compute overhead (growing O(r)x) for a revolutionary memory saving (O(d_head/r)x).",
    formula: "(r+1)x compute, d_head/r memory",
    body: [
      `MLA's real trade: the cache shrinks by 2·h·d_h / (d_c + d_R) (${fmtRatio(s3.cacheRatioMhaOverMla)} for V3, ${fmtRatio(sl.cacheRatioMhaOverMla)} for V2-Lite); decode never`,
      `decompresses the cache; the price is attention in a ${f.v3.latentWidths.key}/${f.v3.latentWidths.value}-wide latent space, ${fmtRatio(s3.mla.absorbed.attentionVsMha)} MHA's attention FLOPs`,
      "per key, plus one absorption per new token. That moves decode from memory-bound towards compute-bound: a clear",
      `win on GPUs (datasheet ridge ${f.ridge.gpu.toFixed(0)} FLOP/B), a loss against an uncompressed cache on a CPU core (ridge ${f.ridge.machine.toFixed(1)}) once the context is long —`,
      "if that uncompressed cache fits in memory at all.",
    ],
    v3: `memory ${fmtRatio(s3.cacheRatioMhaOverMla)} less, attention ${fmtRatio(s3.mla.absorbed.attentionVsMha)}`,
    lite: `memory ${fmtRatio(sl.cacheRatioMhaOverMla)} less, attention ${fmtRatio(sl.mla.absorbed.attentionVsMha)}`,
    measured: f.bench.anyMeasured ? "see below" : NM,
    verdict: "**The trade is real; the seed's terms are not.** Neither factor depends on an r.",
  };
}

/** Claims 7-12, in the seed text's order. */
export function conclusionClaims(f: ReportFigures): Claim[] {
  return [memoryBound, wDecompSmall, millionTokens, fusedKernels, lowPrecision, conclusion].map((claim) => claim(f));
}
