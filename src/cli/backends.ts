// Backends by name for --backend, and --build for the WASM one. Loaded lazily so `--backend
// reference` needs no WASM.
import type { Backend } from "../backend.js";
import { referenceBackend } from "../reference/index.js";
import { BUILD_CHOICES, type BuildChoice, choiceFlag, closest } from "./args.js";
import { UsageError } from "./io.js";

export const BACKEND_NAMES = ["reference", "wasm"] as const;

/** The flags of a command that runs a backend. */
export const BACKEND_FLAGS = { backend: { type: "string" }, build: { type: "string" } } as const;

export const BACKEND_HELP = `--backend reference|wasm (default reference); --build auto|simd128|relaxed picks the WASM build
  (auto: relaxed-simd FMA when the runtime takes it, else simd128)`;

/** --backend and --build as given (--build only with the wasm backend). */
export async function backendFromFlags(values: Record<string, unknown>, dflt = "reference"): Promise<Backend> {
  const name = String(values.backend ?? dflt);
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    const near = closest(name, BACKEND_NAMES);
    throw new UsageError(`unknown backend ${JSON.stringify(name)}: expected one of ${BACKEND_NAMES.join(", ")}${near ? ` (did you mean ${near}?)` : ""}`);
  }
  const build = values.build === undefined ? undefined : choiceFlag("build", values.build, BUILD_CHOICES);
  if (build !== undefined && name !== "wasm") throw new UsageError(`--build ${build} picks a build of the wasm backend; add --backend wasm`);
  return getBackend(name, build);
}

export async function getBackend(name: string, build: BuildChoice = "auto"): Promise<Backend> {
  switch (name) {
    case "reference":
      return referenceBackend;
    case "wasm": {
      // float32 WASM core; relaxed-simd (FMA) when the runtime validates it, else simd128
      const { createWasmBackend } = await import("../wasm/node.js");
      return createWasmBackend({ build });
    }
    default:
      throw new UsageError(`unknown backend "${name}": expected one of ${BACKEND_NAMES.join(", ")}`);
  }
}
