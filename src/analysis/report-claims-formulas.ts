// Claims 1-6 of the seed text: its mechanism and its formulas for the cache size, the FLOPs of
// decompression and attention, and the bytes read, beside MLA's real figures. Wording only: every
// number comes from report-figures.ts.

import { type Claim, NOT_MEASURED as NM } from "./report-claims.js";
import { chartFile } from "./report-charts.js";
import type { ModelFigures, ReportFigures } from "./report-figures.js";
import { type AttentionAt, longestWith } from "./report-measured.js";
import type { AnyPath } from "./work.js";
import { fmtBytes, fmtInt, fmtRatio, fmtSeconds, fmtSi, fmtTokens } from "./units.js";

const COUNTED = "FLOPs counted by the oracle (= the model, property-tested)";
const LABEL: Record<AnyPath, string> = { naive: "naive", absorbed: "absorbed", recompute: "recompute", mha: "MHA", gqa: "GQA", mqa: "MQA", seedPerHead: "seed scheme" };

/**
 * "<model> attention at <context>: a X, b Y (b/a Zx)" at the longest context where every path was
 * measured; `base` first. NM when a model has no such context.
 */
function timed(f: ReportFigures, paths: readonly AnyPath[], base: AnyPath): string {
  const parts: string[] = [];
  for (const m of [f.v3, f.lite]) {
    const at: AttentionAt | undefined = longestWith(m.measured.attentionByPath, [base, ...paths]);
    if (!at) continue;
    const b = at.seconds[base]!;
    const rest = paths.map((p) => `${LABEL[p]} ${fmtSeconds(at.seconds[p]!)} (${fmtRatio(at.seconds[p]! / b)})`);
    parts.push(`${m.title} decode attention at ${fmtTokens(at.context)}: ${LABEL[base]} ${fmtSeconds(b)}, ${rest.join(", ")}`);
  }
  return parts.length ? `measured time (x = / ${LABEL[base]}): ${parts.join("; ")}` : `time: ${NM}`;
}

function mechanism({ v3, lite }: ReportFigures): Claim {
  const s3 = v3.seed, sl = lite.seed;
  const cell = (m: ModelFigures) => `MLA ${fmtInt(m.kvCache.mla.elementsPerTokenPerLayer)} vs seed (r 8) ${fmtInt(m.kvCache.seedPerHead.elementsPerTokenPerLayer)}`;
  return {
    title: "Per-head compression with W_comp [d_head, r]",
    quote: "使用一个压缩投影矩阵 W_comp（形状 [d_head, r]）。对序列中每个位置的每个头的 K 和 V 分别进行线性投影",
    translation: "A compression matrix W_comp of shape [d_head, r] projects the K and the V of every head at every position; the cache stores these r-dimensional latents.",
    formula: "seed: 2·h·r elements per token per layer; MLA: d_c + d_R, shared by all heads",
    body: [
      "MLA computes ONE latent per token from the hidden state, `c_KV = kv_norm(x W_DKV)` with d_c = 512, and ONE",
      "RoPE key k_pe (d_R = 64) shared by every head; it caches those 576 values. Per-head keys and values exist only",
      "as `W_UK c` and `W_UV c`, which the absorbed path never materialises. The seed scheme's cache would equal",
      `MLA's at r = (d_c + d_R) / (2h): ${s3.equivalentSeedRank} for V3, ${sl.equivalentSeedRank} for V2-Lite.`,
    ],
    v3: cell(v3),
    lite: cell(lite),
    measured: "n/a (structure)",
    verdict: `**Wrong mechanism.** One shared latent, not per-head latents; MLA's size does not depend on h, so it is a per-head "r" of ${s3.equivalentSeedRank} for V3 and ${sl.equivalentSeedRank} for V2-Lite.`,
  };
}

function cacheRatio({ v3, lite, seedRankRatios }: ReportFigures): Claim {
  const s3 = v3.seed, sl = lite.seed, b = v3.mlaBytesPerTokenPerLayer;
  return {
    title: "Cache shrinks d_head / r = 8x-32x",
    quote: "KV Cache 的内存占用从 O(b * s * h * d_head) 降低到 O(b * s * h * r) … r 通常是 4-16，而 d_head 通常是 128，压缩比可达 8x-32x",
    translation: "The KV cache goes from O(b·s·h·d_head) to O(b·s·h·r); r is usually 4-16 and d_head 128, so the compression is 8x-32x.",
    formula: "seed: d_head / r; MLA vs MHA: 2·h·d_h / (d_c + d_R)",
    body: [
      "Table 1 of the DeepSeek-V2 paper, reproduced in `test/analysis/kv-cache.test.ts`: elements per token per layer",
      "MHA 2·n_h·d_h, GQA 2·n_g·d_h, MQA 2·d_h, MLA d_c + d_R = 576 (4.5·d_h, i.e. GQA with 2.25 groups).",
      "The saving grows with the head count, not with a rank:",
      "",
      "| scheme | V3 elements | V3 bf16 bytes/token (61 layers) | V2-Lite elements | V2-Lite bf16 bytes/token (27 layers) |",
      "|---|---|---|---|---|",
      ...(["mha", "gqa", "mqa", "mla", "mlaNaiveCache", "seedPerHead"] as const).map(
        (s) => `| ${s} | ${fmtInt(v3.kvCache[s].elementsPerTokenPerLayer)} | ${fmtInt(v3.kvCache[s].bytesPerToken)} | ${fmtInt(lite.kvCache[s].elementsPerTokenPerLayer)} | ${fmtInt(lite.kvCache[s].bytesPerToken)} |`,
      ),
      "",
      `Storage formats of MLA's cache per token per layer: f32 ${b.f32} B, bf16 ${b.bf16} B, int8 ${b.int8} B`,
      `(576 values + a float32 scale for the latent and one for the rope part, as src/cache stores them), FlashMLA's fp8 ${b.fp8} B (512 e4m3 + 4 float32 scales + 64 bf16 rope values).`,
      "The seed's ranks for comparison: " + seedRankRatios.map(({ r, ratio }) => `r ${r}: ${fmtRatio(ratio)}`).join(", ") + ".",
      "",
      `![KV cache of DeepSeek-V3](${chartFile("cache", "deepseek-v3")})`,
      "",
      `![KV cache of DeepSeek-V2-Lite](${chartFile("cache", "deepseek-v2-lite")})`,
    ],
    v3: `MHA / MLA = ${fmtRatio(s3.cacheRatioMhaOverMla)}`,
    lite: `MHA / MLA = ${fmtRatio(sl.cacheRatioMhaOverMla)}`,
    measured: "bytes per token == src/cache's own accounting (test/analysis/cache-crosscheck.test.ts)",
    verdict: `**Right order of magnitude, wrong reason.** ${fmtRatio(s3.cacheRatioMhaOverMla)} for V3 (more than 32x), ${fmtRatio(sl.cacheRatioMhaOverMla)} for V2-Lite (less than 8x): it scales with h, because one latent serves all heads.`,
  };
}

function decompressionFlops(f: ReportFigures): Claim {
  const { v3, lite, context } = f;
  const s3 = v3.seed, sl = lite.seed;
  const row = (m: ModelFigures) =>
    `| ${m.title} | ${fmtSi(m.seed.stated.decompressionFlops)} | ${fmtSi(m.seed.mla.naive.decompressionFlops)} | ${fmtSi(m.seed.mla.recompute.decompressionFlops)} | 0 (${fmtSi(m.seed.mla.absorbed.absorptionFlops)}) |`;
  return {
    title: "Decompression costs 4·h·s·d_head·r FLOPs",
    quote: "解压缩所有头 (h) 的整个序列的 K 和 V：2 * h * s * 2 * d_head * r FLOPs = 4 * h * s * d_head * r FLOPs",
    translation: "Decompressing K and V of the whole sequence for all h heads: 2·h·s·2·d_head·r = 4·h·s·d_head·r FLOPs (per step).",
    formula: "4·h·s·d_head·r",
    body: [
      "As stated, the formula is exact for the seed's own scheme (the oracle's count equals it on random configs).",
      "Real MLA never decompresses the cache at decode: the naive path decompresses each token once, when it is",
      "written (2·h·(d_nope + d_v)·d_c FLOPs per new token, independent of s); the absorbed path decompresses nothing",
      "and instead multiplies each new query by W_UK and each output by W_UV (the same FLOP count, also per new",
      "token). Only the recompute path matches the formula, and then with r = d_c = 512, not 4..16:",
      "",
      `| one layer, one row, s = ${fmtInt(context)} | seed formula (r 8) | MLA naive | MLA recompute | MLA absorbed (absorption) |`,
      "|---|---|---|---|---|",
      row(v3),
      row(lite),
    ],
    v3: `formula ${fmtSi(s3.stated.decompressionFlops)}; real: naive ${fmtSi(s3.mla.naive.decompressionFlops)}, absorbed 0`,
    lite: `formula ${fmtSi(sl.stated.decompressionFlops)}; real: naive ${fmtSi(sl.mla.naive.decompressionFlops)}, absorbed 0`,
    measured: `${COUNTED}; ${timed(f, ["recompute", "seedPerHead"], "absorbed")}`,
    verdict: "**Does not apply to MLA.** Holds only for a recompute engine, with r = d_c = 512 (64x the seed's r = 8); real engines decompress once per token or not at all.",
  };
}

function attentionFlops(f: ReportFigures): Claim {
  const { v3, lite } = f;
  const row = (m: ModelFigures) => `| ${m.title} | ${fmtSi(m.seed.stated.attentionFlops)} | ${fmtSi(m.seed.mla.naive.attentionFlops)} | ${fmtSi(m.seed.mla.absorbed.attentionFlops)} |`;
  const cell = (m: ModelFigures) => `${fmtSi(m.seed.stated.attentionFlops)} (= counted MHA ${fmtSi(m.seed.mhaAttentionFlops)})`;
  return {
    title: "Standard attention costs 4·h·s·d_head FLOPs",
    quote: "Q * K^T：2 * h * s * d_head FLOPs … AttnScore * V：2 * h * s * d_head FLOPs … 总计：4 * h * s * d_head FLOPs",
    translation: "Q·K^T costs 2·h·s·d_head FLOPs and scores·V another 2·h·s·d_head: 4·h·s·d_head in total (softmax ignored).",
    formula: "4·h·s·d_head",
    body: [
      "Exact for MHA with one head width (the oracle's count equals it). MLA's attention FLOPs per cached token and",
      "head are 2·(d_nope + d_R + d_v) on the naive path (the RoPE part adds 25 %) and 2·(2·d_c + d_R) on the",
      "absorbed path, where every head attends over the 576-wide latent key and the 512-wide latent value:",
      "",
      "| one layer, one row | seed formula = MHA | MLA naive | MLA absorbed |",
      "|---|---|---|---|",
      row(v3),
      row(lite),
    ],
    v3: cell(v3),
    lite: cell(lite),
    measured: `${COUNTED}; ${timed(f, ["naive", "absorbed"], "mha")}`,
    verdict: "**Holds** for MHA. MLA's absorbed attention is larger per key: " + `${fmtRatio(v3.seed.mla.absorbed.attentionVsMha)} MHA's (both models).`,
  };
}

function computeRatio(f: ReportFigures): Claim {
  const { v3, lite, context } = f;
  const s3 = v3.seed;
  const row = (m: ModelFigures) =>
    `| ${m.title} | ${fmtRatio(m.seed.stated.computeRatio)} | ${fmtRatio(m.seed.seedScheme.computeRatio)} | ${fmtRatio(m.seed.mla.naive.totalVsMha)} | ${fmtRatio(m.seed.mla.recompute.totalVsMha)} | ${fmtRatio(m.seed.mla.absorbed.totalVsMha)} |`;
  const cell = (m: ModelFigures) => `naive ${fmtRatio(m.seed.mla.naive.totalVsMha)}, absorbed ${fmtRatio(m.seed.mla.absorbed.totalVsMha)}, recompute ${fmtRatio(m.seed.mla.recompute.totalVsMha)}`;
  return {
    title: "MLA's total compute is (r+1)x standard attention",
    quote: "DeepSeek MLA 的总计算开销是标准注意力计算开销的 (r + 1) 倍 … 当 r=8 时，计算开销大约是标准注意力的 9 倍",
    translation: "MLA's total compute is (r+1) times that of standard attention; with r = 8 about 9x.",
    formula: "(r + 1)",
    body: [
      "Attention FLOPs of one decode step (decompression/absorption + scores + weighted sum) over MHA's scores +",
      "weighted sum, one layer, one row:",
      "",
      `| s = ${fmtInt(context)} | seed formula | seed scheme (counted) | MLA naive | MLA recompute | MLA absorbed |`,
      "|---|---|---|---|---|---|",
      row(v3),
      row(lite),
      "",
      "Whole decode step of the model (projections included, attention layers only), FLOPs relative to MHA:",
      "",
      "| | MLA naive | MLA recompute | MLA absorbed |",
      "|---|---|---|---|",
      ...[v3, lite].map((m) => `| ${m.title} | ${fmtRatio(m.decodeFlopsVsMha.naive)} | ${fmtRatio(m.decodeFlopsVsMha.recompute)} | ${fmtRatio(m.decodeFlopsVsMha.absorbed)} |`),
    ],
    v3: cell(v3),
    lite: cell(lite),
    measured: `${COUNTED}; ${timed(f, ["naive", "absorbed", "recompute", "seedPerHead"], "mha")}`,
    verdict: `**Wrong for every real path.** Naive costs ${fmtRatio(s3.mla.naive.totalVsMha)}, absorbed ${fmtRatio(s3.mla.absorbed.totalVsMha)} (from attending in the latent space, not from decompression); only a recompute engine pays more, ${fmtRatio(s3.mla.recompute.totalVsMha)}.`,
  };
}

function bytesRead(f: ReportFigures): Claim {
  const { v3, lite } = f;
  return {
    title: "MLA reads d_head / r less cache per step",
    quote: "MLA 需要从显存中读取的 KV Cache 数据量减少了 d_head / r 倍。例如，d_head=128, r=8，读取数据量减少到 1/16",
    translation: "MLA reads d_head/r times less KV-cache data from memory; with d_head = 128, r = 8, one sixteenth.",
    formula: "d_head / r",
    body: [
      "Cache bytes read by one decode step (whole model, bf16, s = 32,768). The absorbed path reads each latent once",
      "for all heads; the naive path reads per-head decompressed K/V, 1.25x MHA's bytes because k_pe is copied to",
      "every head:",
      "",
      "| | MHA | MLA naive | MLA absorbed | MHA / absorbed |",
      "|---|---|---|---|---|",
      ...[v3, lite].map((m) => `| ${m.title} | ${fmtBytes(m.cacheBytesRead.mha)} | ${fmtBytes(m.cacheBytesRead.naive)} | ${fmtBytes(m.cacheBytesRead.absorbed)} | ${fmtRatio(m.mhaOverAbsorbedCacheRead)} |`),
    ],
    v3: `${fmtRatio(v3.mhaOverAbsorbedCacheRead)} less (absorbed)`,
    lite: `${fmtRatio(lite.mhaOverAbsorbedCacheRead)} less (absorbed)`,
    measured: timed(f, ["gqa", "mqa", "absorbed"], "mha"),
    verdict: "**Holds in direction, not in size**: the reduction is MHA/MLA cache size (h-dependent), and only on the absorbed path; a naive engine reads more than MHA." + bytesVersusTime(f),
  };
}

/** What the bytes saved bought in measured time: absorbed vs MHA attention at V3's longest common context. */
function bytesVersusTime({ v3 }: ReportFigures): string {
  const at = longestWith(v3.measured.attentionByPath, ["mha", "absorbed"]);
  if (!at) return "";
  const ratio = at.seconds.absorbed! / at.seconds.mha!;
  return ` Measured on this CPU (V3, ${fmtTokens(at.context)} keys): absorbed attention takes ${fmtRatio(ratio)} MHA's time for ${fmtRatio(v3.mhaOverAbsorbedCacheRead)} fewer cache bytes, because it is compute-bound here: fewer bytes ${ratio < 0.5 ? "bought time" : "did not buy proportional time"}.`;
}

/** Claims 1-6, in the seed text's order. */
export function formulaClaims(f: ReportFigures): Claim[] {
  return [mechanism, cacheRatio, decompressionFlops, attentionFlops, computeRatio, bytesRead].map((claim) => claim(f));
}
