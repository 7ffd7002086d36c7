// docs/analysis.md's DeepSeek-V3.2 section: what sparse attention does to MLA's memory/compute
// trade-off. Wording only: every number comes from report-dsa.ts.

import type { DsaFigures, DsaSetting } from "./report-dsa.js";
import { fmtBytes, fmtBytesDecimal, fmtInt, fmtRatio, fmtSeconds, fmtSi } from "./units.js";

/** "from 5,120 tokens" / "from 5,120 (and back from ...)" / "none up to 163,840". */
function crossText(xs: DsaSetting["decodeCrossovers"], max: number): string {
  if (xs.length === 0) return `none up to ${fmtInt(max)}`;
  return xs.map((x) => `${x.faster === "dsa" ? "dsa" : "dense"} faster from ${fmtInt(x.at)}`).join("; ");
}

function settingRow(s: DsaSetting, max: number): string {
  const cells = s.rows.map((r) => `${fmtRatio(r.speedup)} (${fmtSeconds(r.absorbed.seconds)} → ${fmtSeconds(r.dsa.seconds)}, ${r.dsa.bound})`);
  return `| ${s.label} | ${crossText(s.decodeCrossovers, max)} | ${crossText(s.prefillCrossovers, max)} | ${cells.join(" | ")} |`;
}

export function dsaSection(d: DsaFigures): string[] {
  const cfg = d.config, max = cfg.max_seq_len;
  const contexts = d.settings[0].rows.map((r) => r.context);
  const longest = (s: DsaSetting) => s.rows[s.rows.length - 1];
  const firstDsa = (s: DsaSetting) => s.decodeCrossovers.find((x) => x.faster === "dsa")?.at;
  const where = d.settings.map((s) => {
    const at = firstDsa(s);
    const r = longest(s);
    const why = r.dsa.bound === "compute" ? `the index scores are ${r.indexScoresPercent.toFixed(0)} % of its FLOPs` : `weights are ${r.weightPercent.toFixed(0)} % of its bytes`;
    return `${s.label}: ${at === undefined ? `dense absorbed decode stays faster up to ${fmtInt(max)} tokens` : `sparse decode is faster from ${fmtInt(at)} tokens`}; at ${fmtInt(r.context)} ${fmtRatio(r.speedup)} faster, ${r.dsa.bound}-bound (${why})`;
  });
  return [
    "## DeepSeek-V3.2: sparse attention (DSA) and the trade-off",
    "",
    `DeepSeek-V3.2 keeps V3's MLA and adds a lightning indexer: one index key per token (index_head_dim ${d.DI}, stored as e4m3 values plus`,
    `one float32 scale), ${d.HI} index heads that score every cached token in FP8, and attention over the top k = ${fmtInt(d.topk)} keys only`,
    "(absorbed in decode; a prefill decompresses the latents and attends in MHA form). The cost model prices it as the `dsa` path of the",
    "preset `deepseek-v3.2`: the work the oracle (`src/reference/dsa`) counts while it runs equals the closed forms for every term",
    "(`indexer`: its projections wq_b from qr, wk, weights_proj and the index key written; `indexScores`: the FP8 dot products over",
    "every cached index key, index_head_dim + 1 multiply-adds per key and index head; `topk`: each visible score ranked once), on",
    "random V3.2 configs in `test/analysis/dsa-work-counts.test.ts`. Explore: `mlakit analyze --preset deepseek-v3.2 --context 131072`.",
    "",
    `**Memory.** The index keys add ${fmtInt(d.indexKeyBytes)} B per token per layer beside the latent: ${d.extraPercent.bf16.toFixed(1)} % over the bf16 latent`,
    `(${fmtInt(d.latentBytes.bf16)} B), ${d.extraPercent.fp8.toFixed(1)} % over FlashMLA's fp8 record (${fmtInt(d.latentBytes.fp8)} B), ${d.extraPercent.f32.toFixed(1)} % over f32 (${fmtInt(d.latentBytes.f32)} B). At`,
    `${fmtInt(d.atMaxContext.context)} tokens (max_seq_len) the whole model keeps ${fmtBytesDecimal(d.atMaxContext.indexKeys)} of index keys beside ${fmtBytesDecimal(d.atMaxContext.latentBf16)} of bf16 latent.`,
    "",
    `**Compute.** Per cached key, layer and decode row, absorbed attention costs ${fmtInt(d.perKey.absorbedFlops)} FLOPs (2·h·(2·d_c + d_R)); the`,
    `indexer ${fmtInt(d.perKey.indexFlops)} (2·${d.HI}·(${d.DI} + 1)), ${fmtRatio(d.perKey.ratio)} less; it reads ${fmtRatio(d.perKeyBytesRatio)} fewer bytes per key than a bf16`,
    `latent. Beyond k the sparse step also pays, per layer, attention over the ${fmtInt(d.topk)} selected keys (${fmtSi(d.fixed.selectedAttentionFlops)}FLOP) and the`,
    `indexer's projections (${fmtSi(d.fixed.indexerProjectionFlops)}FLOP over ${fmtSi(d.fixed.indexerWeightElements)} weight elements, ${fmtBytes(d.fixed.indexerWeightBytesBf16)} at bf16: as many bytes as`,
    `${fmtInt(d.fixed.asLatentTokensBf16)} cached bf16 latent tokens). So the speedup tends to ${fmtRatio(d.perKey.ratio)} where decode is compute-bound and to the`,
    "bytes ratio where it is memory-bound, and only at contexts well beyond k; up to k the sparse step is the dense one plus the indexer.",
    "",
    "**Where dense absorbed and sparse cross over** (roofline, whole model's attention layers, batch 1, weights at the cache's width).",
    "Decode: dsa against dense absorbed. Prefill: against dense naive, which attends in the MHA form the sparse prefill uses too",
    "(against absorbed, the MHA form alone would win; naive also stores the decompressed K/V, dsa only latents and index keys).",
    "A context cell is the decode speedup (absorbed time / dsa time), then both times and dsa's bound:",
    "",
    `| machine, cache | decode | prefill | ${contexts.map(fmtInt).join(" | ")} |`,
    `|---|---|---|${contexts.map(() => "---|").join("")}`,
    ...d.settings.map((s) => settingRow(s, max)),
    "",
    ...where.map((w) => `- ${w}.`),
    "",
  ];
}
