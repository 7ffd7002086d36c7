// Backends by name for --backend. Loaded lazily so `--backend reference` needs no WASM.
import type { Backend } from "../backend.js";
import { referenceBackend } from "../reference/index.js";
import { UsageError } from "./io.js";

export const BACKEND_NAMES = ["reference", "wasm"] as const;

export async function getBackend(name: string): Promise<Backend> {
  switch (name) {
    case "reference":
      return referenceBackend;
    case "wasm": {
      // float32 WASM core; relaxed-simd (FMA) when the runtime validates it, else simd128
      const { createWasmBackend } = await import("../wasm/node.js");
      return createWasmBackend();
    }
    default:
      throw new UsageError(`unknown backend "${name}": expected one of ${BACKEND_NAMES.join(", ")}`);
  }
}
