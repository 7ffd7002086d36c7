// One claim of the seed text as docs/analysis.md states it: the quote, its translation, the
// formula, the figures for DeepSeek-V3 and V2-Lite, the measured figure and the verdict. The claims
// themselves are in report-claims-formulas.ts (1-6) and report-claims-conclusions.ts (7-12).

export interface Claim {
  title: string;
  /** The seed text's words (Chinese) and their translation. */
  quote: string;
  translation: string;
  formula: string;
  /** The section's paragraphs and tables, one markdown line each. */
  body: string[];
  v3: string;
  lite: string;
  measured: string;
  verdict: string;
}

/** What every "measured" cell says when the benchmarks have no figure for it. */
export const NOT_MEASURED = "not measured yet";
