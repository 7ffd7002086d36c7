// checkBackend on a toy backend with a deliberate bug.
//
//   npm run example:conformance
//
// The toy computes in float32 and gets one thing wrong that real engines get wrong: with YaRN on,
// DeepSeek scales the softmax by m^2 (m = 0.1*mscale*ln(rope_factor) + 1); the toy applies m once.
// The conformance kit finds it, shrinks it to a minimal case, and prints a replayable report.
import { type AttentionLayer, type Backend, type MlaConfig, type MlaWeights, ReferenceMla, yarnEnabled } from "mlakit";
import { checkBackend } from "mlakit/conformance";

/** The bug: pick an mscale whose m^2 equals the correct m, so the softmax sees m instead of m^2. */
function mscaleAppliedOnce(cfg: MlaConfig): MlaConfig {
  if (!yarnEnabled(cfg) || cfg.rope_factor === 1) return cfg;
  const m = 0.1 * cfg.mscale * Math.log(cfg.rope_factor) + 1;
  return { ...cfg, mscale: (Math.sqrt(m) - 1) / (0.1 * Math.log(cfg.rope_factor)) };
}

/** A toy float32 MLA layer: the float64 oracle on the buggy config, outputs rounded to float32. */
class ToyLayer implements AttentionLayer {
  readonly backend = "toy";
  readonly kind: string;
  readonly dim: number;
  private readonly inner: ReferenceMla;
  constructor(cfg: MlaConfig, weights: MlaWeights, path: "naive" | "absorbed") {
    this.inner = new ReferenceMla(mscaleAppliedOnce(cfg), weights, { path });
    this.kind = this.inner.kind;
    this.dim = cfg.dim;
  }
  get cache() {
    return this.inner.cache;
  }
  forward(x: ArrayLike<number>, opts: { batch: number; seqlen: number; startPos: number }): Float32Array {
    return Float32Array.from(this.inner.forward(x, opts));
  }
  dispose(): void {
    this.inner.dispose();
  }
}

const toyBackend: Backend = {
  name: "toy",
  precision: "float32", // checkBackend holds it to toleranceFor("float32")
  createMla: (config, weights, { path }) => new ToyLayer(config, weights, path),
};

const result = await checkBackend(toyBackend, { seed: 42, numRuns: 100 });
console.log(result.report);
// The example succeeds when the kit catches the bug.
const caught = !result.pass && result.properties.find((p) => p.name === "oracle/absorbed")?.pass === false;
console.log(caught ? "\nThe deliberate bug (mscale applied once instead of squared) was caught." : "\nThe bug was NOT caught.");
process.exitCode = caught ? 0 : 1;
