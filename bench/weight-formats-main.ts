// The weight-format group alone (`npm run bench` runs it too, inside bench/run.ts):
//   npm run -s bench:build && flock /tmp/mlakit-heavy.lock node build/bench-js/bench/weight-formats-main.js [--quick]
// Prints the figures and the memory table; writes nothing (the committed figures come from a full run).
import { availableIsas } from "./lib/env.js";
import { FULL, QUICK } from "./lib/timing.js";
import { makeL3Flusher, runProbe } from "./probe.js";
import { runWeightFormats } from "./weight-formats.js";

const quick = process.argv.includes("--quick");
const plan = quick ? QUICK : FULL;
const dramPlan = { ...plan, time: 0, iterations: quick ? plan.iterations : 15 };
const probe = await runProbe(plan);
const r = await runWeightFormats(probe, plan, dramPlan, await makeL3Flusher(), availableIsas()[0], quick, (s) => console.log(s));
for (const f of r.figures) console.log(`${f.model} ${f.what} ${f.impl}: ${f.ms.toFixed(2)} ms, ${f.gbs.toFixed(1)} GB/s (${f.pctBw.toFixed(0)}% BW), ${f.gflops.toFixed(1)} GFLOP/s${f.ratio ? `, x${f.ratio.toFixed(2)} vs ${f.peer!.impl}` : ""}`);
console.table(r.memory);
console.table(r.accuracy);
