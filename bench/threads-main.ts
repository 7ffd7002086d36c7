// The threads group alone, for work on the pool (`npm run bench` runs it inside bench/run.ts and
// only that full run's figures are committed): prints every figure, writes nothing.
//   npm run -s bench:build && flock /tmp/mlakit-heavy.lock node build/bench-js/bench/threads-main.js [--quick]
import { FULL, QUICK } from "./lib/timing.js";
import { makeL3Flusher, runProbe } from "./probe.js";
import { runThreadedStep, runThreads } from "./threads.js";

const quick = process.argv.includes("--quick");
const plan = quick ? QUICK : FULL;
const t0 = performance.now();
const log = (s: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${s}`);
const probe = await runProbe(plan);
const flush = await makeL3Flusher();
await runThreads(probe, plan, quick, log, flush);
await runThreadedStep(probe, plan, quick, log);
process.exit(0);
