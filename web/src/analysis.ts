// The one place the page takes the cost model (src/analysis) from.
export { CACHE_FORMATS, DEFAULT_MACHINE, KV_SCHEMES, analyze, cacheChart, fmtBytes, fmtSeconds, fmtSi, svgDocument, timeChart } from "mlakit";
export type { CacheFormat, MeasuredDecode } from "mlakit";
