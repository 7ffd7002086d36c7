// FLOPs of one decode step, from the cost model (src/analysis). null until the model is wired in.
import type { MlaConfig } from "mlakit";

export function decodeStepFlops(_cfg: MlaConfig, _context: number, _path: "absorbed" | "naive"): number | null {
  return null;
}
