// The SVG charts docs/analysis.md embeds: per model, the KV cache against context (to one million
// tokens, claim 9) and the decode time per layer on this machine (f32, with the measured points)
// above the datasheet GPU (bf16).

import { cacheChart, timeChart } from "./charts.js";
import type { ReportFigures, ReportModel } from "./report-figures.js";
import { svgDocument } from "./svg.js";

/** The file name of a chart, relative to docs/. */
export function chartFile(kind: "cache" | "time", model: ReportModel): string {
  return `analysis-${kind}-${model}.svg`;
}

/** file name -> SVG text, in the order the report has always written them. */
export function reportCharts(f: ReportFigures): Record<string, string> {
  const files: Record<string, string> = {};
  for (const m of [f.v3, f.lite]) {
    const common = { format: "bf16" as const, groups: 8, seedRank: 8, batch: 1, maxContext: m.config.max_seq_len };
    files[chartFile("cache", m.name)] = svgDocument([cacheChart(m.config, m.title, { ...common, maxContext: 1_000_000, memoryBytes: f.memoryBytes })]);
    files[chartFile("time", m.name)] = svgDocument([
      timeChart(m.config, m.title, { ...common, format: "f32", machine: f.machine, measured: m.measured.points }),
      timeChart(m.config, m.title, { ...common, machine: f.gpu }),
    ]);
  }
  return files;
}
