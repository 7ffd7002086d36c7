// The backends the page runs: the WASM core, from the very files `npm run build` wrote for the
// library (build/mla-*.wasm, emitted by Vite as assets and fetched as bytes), and the float64
// reference (the oracle), so the page shows both side by side.
import { type Backend, createWasmBackendFromBytes, referenceBackend } from "mlakit";
import relaxedUrl from "../../build/mla-relaxed.wasm?url";
import simd128Url from "../../build/mla-simd128.wasm?url";

export interface PageBackend {
  backend: Backend;
  /** The WASM build (simd128 or relaxed), null for the reference. */
  build: string | null;
  /** How the page names it: "wasm (relaxed)", "wasm (simd128)", "reference". */
  label: string;
  /** True for the build the loader chose on its own ("auto"). */
  chosen: boolean;
}

async function bytesOf(url: string): Promise<ArrayBuffer> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`fetch ${url}: HTTP ${res.status}`);
  return res.arrayBuffer();
}

export async function loadBackends(): Promise<{ backends: PageBackend[]; relaxedValidates: boolean }> {
  const [simd128, relaxed] = await Promise.all([bytesOf(simd128Url), bytesOf(relaxedUrl)]);
  const bins = { simd128, relaxed };
  // "auto": relaxed-simd (FMA) when this browser validates it, else simd128. The other build is
  // loaded too when this browser runs it, so the page can compare the two.
  const chosen = await createWasmBackendFromBytes(bins, "auto");
  const relaxedValidates = WebAssembly.validate(relaxed);
  const backends: PageBackend[] = [{ backend: chosen, build: chosen.build, label: `wasm (${chosen.build})`, chosen: true }];
  if (chosen.build === "relaxed") {
    const other = await createWasmBackendFromBytes(bins, "simd128");
    backends.push({ backend: other, build: other.build, label: `wasm (${other.build})`, chosen: false });
  }
  backends.push({ backend: referenceBackend, build: null, label: "reference", chosen: false });
  return { backends, relaxedValidates };
}
