// docs/analysis.md: every claim of the seed text (the analysis that started the project, translated), its
// formula, the figure for DeepSeek-V3 and V2-Lite from the cost model, the measured figure where the
// benchmarks have one, and a verdict; with the charts. Pure: returns the text of every file.
// The figures are computed in report-figures.ts, worded in report-markdown.ts (the claims in report-claims-*.ts),
// drawn in report-charts.ts.

import { reportCharts } from "./report-charts.js";
import { type ReportInput, reportFigures } from "./report-figures.js";
import { renderAnalysis } from "./report-markdown.js";

export type { ReportInput } from "./report-figures.js";
export { predicted, predictedSequential } from "./report-measured.js";

export interface ReportFiles {
  /** file name (relative to docs/) -> contents */
  [name: string]: string;
}

export function buildReport(input: ReportInput): ReportFiles {
  const figures = reportFigures(input);
  // The charts first, then analysis.md: the order `mlakit report` lists the files in.
  const files: ReportFiles = reportCharts(figures);
  files["analysis.md"] = renderAnalysis(figures);
  return files;
}
