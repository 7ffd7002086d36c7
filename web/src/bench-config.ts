// The benchmarked layer's config (the preset at batch 1) and its float32 weight size, shared by
// the page (which presets fit) and the decode worker (which builds the layer).
import { type MlaConfig, mlaWeightShapes, preset, validateConfig } from "mlakit";

export function benchConfig(name: string): MlaConfig {
  return validateConfig({ ...preset(name), max_batch_size: 1 });
}

export function weightBytes(cfg: MlaConfig): number {
  return Object.values(mlaWeightShapes(cfg)).reduce((n, s) => n + (s as number[]).reduce((a, b) => a * b, 1), 0) * 4;
}
