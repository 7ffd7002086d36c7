// The backends the page runs: the WASM core, from the very files `npm run build` wrote for the
// library (build/mla-*.wasm, emitted by Vite as assets and fetched as bytes), and the float64
// reference (the oracle), so the page shows both side by side.
import { type Backend, createWasmBackendFromBytes, referenceBackend } from "mlakit";
import relaxedUrl from "../../build/mla-relaxed.wasm?url";
import simd128Url from "../../build/mla-simd128.wasm?url";

export interface PageBackend {
  backend: Backend;
  /** Which WASM build was chosen (simd128 or relaxed), null for the reference. */
  build: string | null;
}

async function bytesOf(url: string): Promise<ArrayBuffer> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`fetch ${url}: HTTP ${res.status}`);
  return res.arrayBuffer();
}

export async function loadBackends(): Promise<PageBackend[]> {
  const [simd128, relaxed] = await Promise.all([bytesOf(simd128Url), bytesOf(relaxedUrl)]);
  // "auto": relaxed-simd (FMA) when this browser validates it, else simd128.
  const wasm = await createWasmBackendFromBytes({ simd128, relaxed });
  return [
    { backend: wasm, build: wasm.build },
    { backend: referenceBackend, build: null },
  ];
}
