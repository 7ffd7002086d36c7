// The one place the page takes the cost model (src/analysis) from.
export { KV_SCHEMES, kvElementsPerTokenPerLayer } from "../../dist/analysis/kv-cache.js";
