// The cost model's predictions for the weight formats' decode steps (src/analysis/cost.ts with a
// weight format) beside what the weights group measured in the same run: the weight bytes it
// prices against the bytes the loaded layer holds, and the roofline time on this run's limits
// against the measured step, per format and as speed-ups over float32 weights.
import { PRESETS, makeConfig } from "../src/config.js";
import { decodeShape, layerCost } from "../src/analysis/cost.js";
import type { WeightFormat } from "../src/weight-formats.js";
import type { Figure } from "./figures.js";
import type { ProbeResult } from "./probe.js";
import type { WeightMemoryRow } from "./weight-formats.js";

export interface WeightCostRow {
  model: string;
  context: number;
  format: WeightFormat;
  /** The cost model's weight bytes for the step, and the loaded layer's packed weights (WasmMla.weightBytes). */
  modelWeightBytes: number;
  layerWeightBytes: number | null;
  /** Roofline of the cost model's FLOPs and bytes on this run's peak and DRAM ceiling, and the measured step. */
  predictedMs: number;
  measuredMs: number;
  /** Over the float32-weights step at the same context: predicted and measured. */
  predictedSpeedup: number | null;
  measuredSpeedup: number | null;
}

const MODELS: Record<string, keyof typeof PRESETS> = { V3: "deepseek-v3", "V2-Lite": "deepseek-v2-lite" };

/** The weights group's step figures ("step S=N", impl "... <format> weights"), priced by the cost model. */
export function weightCostRows(figures: readonly Figure[], probe: ProbeResult, dramGBs: number, memory: readonly WeightMemoryRow[] = []): WeightCostRow[] {
  const peak = probe.peakRelaxedGflops ?? probe.peakSimd128Gflops;
  const steps = figures.flatMap((f) => {
    const S = f.group === "weights" ? /^step S=(\d+)$/.exec(f.what) : null;
    const format = /\b(f32|bf16|int8|fp8) weights$/.exec(f.impl)?.[1] as WeightFormat | undefined;
    return S && format && MODELS[f.model] ? [{ f, S: Number(S[1]), format }] : [];
  });
  const rows = steps.map(({ f, S, format }): WeightCostRow => {
    const cfg = makeConfig({ ...PRESETS[MODELS[f.model]], max_seq_len: S + 16, max_batch_size: 1 });
    // the timed step attends S cached tokens plus its own: context S + 1, a float32 latent cache
    const c = layerCost(cfg, "absorbed", decodeShape(S + 1, 1), { format: "f32", weightFormat: format });
    return {
      model: f.model, context: S, format,
      modelWeightBytes: c.weightBytes,
      layerWeightBytes: memory.find((m) => m.model === f.model && m.format === format)?.weightBytes ?? null,
      predictedMs: Math.max(c.flops / (peak * 1e6), c.bytes / (dramGBs * 1e6)),
      measuredMs: f.ms,
      predictedSpeedup: null, measuredSpeedup: null,
    };
  });
  for (const r of rows) {
    const base = rows.find((b) => b.model === r.model && b.context === r.context && b.format === "f32");
    if (base && r.format !== "f32") {
      r.predictedSpeedup = base.predictedMs / r.predictedMs;
      r.measuredSpeedup = base.measuredMs / r.measuredMs;
    }
  }
  return rows;
}
