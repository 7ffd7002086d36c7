// The one place the page takes the cost model (src/analysis) from: its entry points and charts from
// "mlakit", the number formatting it shares with the CLI's tables from "mlakit/internal".
export { CACHE_FORMATS, DEFAULT_MACHINE, KV_SCHEMES, analyze, cacheChart, svgDocument, timeChart } from "mlakit";
export type { Analysis, CacheFormat, MeasuredDecode } from "mlakit";
export { fmtBytes, fmtSeconds, fmtSi } from "mlakit/internal";
