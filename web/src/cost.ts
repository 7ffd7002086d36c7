// FLOPs of one decode step of one layer, from the cost model (src/analysis): the same closed
// forms that property tests check against the oracle's own counts.
import { type MlaConfig, decodeShape, layerCost } from "mlakit";

export function decodeStepFlops(cfg: MlaConfig, context: number, path: "absorbed" | "naive"): number {
  return layerCost(cfg, path, decodeShape(context, 1), { format: "f32" }).flops;
}
