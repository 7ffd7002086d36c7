// `npm run bench:native` (full) / `npm run bench:native -- --quick` (S 1024 only, every figure once).
// The native peer end to end, in one process: installs node-llama-cpp on demand (install.mjs, run
// by the npm script first), probes the machine, checks llama.cpp's logits against the oracle
// (check.ts), then times llama.cpp, mlakit and the exported graph on the same weights (timing.ts).
// Writes bench/results/native.json and native.md (quick: native-quick.*). The GGUF files and
// cache states go to a temporary directory, removed at the end. Run it under
// `flock /tmp/mlakit-heavy.lock` on the shared 2-core machine.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { rootPath, sourceState } from "../lib/env.js";
import { FULL, QUICK } from "../lib/timing.js";
import { runProbe } from "../probe.js";
import { loadNativePeer } from "./llama.js";
import { runNativeCheck } from "./check.js";
import { runNativeTiming } from "./timing.js";

const quick = process.argv.includes("--quick");
const plan = quick ? QUICK : FULL;
const t0 = performance.now(), loadAtStart = loadavg();
const log = (s: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${s}`);

const dir = mkdtempSync(join(tmpdir(), "mlakit-native-"));
const peer = await loadNativePeer();
try {
  log(`node-llama-cpp ${peer.nodeLlamaCpp}, llama.cpp ${peer.llamaCpp}: ${peer.systemInfo}`);
  const probe = await runProbe(plan);
  log(`probe: peak ${probe.peakRelaxedGflops?.toFixed(1)} GFLOP/s (relaxed), DRAM ${probe.streamGBs.toFixed(1)} GB/s`);
  const check = await runNativeCheck(peer, dir, quick, log);
  const timing = await runNativeTiming(peer, dir, plan, quick, log);
  const results = {
    date: new Date().toISOString(),
    mode: quick ? "quick" : "full",
    seconds: (performance.now() - t0) / 1000,
    source: sourceState(),
    machine: { node: process.version, cpu: cpus()[0]?.model ?? "?", cores: cpus().length, loadavg: { start: loadAtStart, end: loadavg() } },
    peer: { nodeLlamaCpp: peer.nodeLlamaCpp, llamaCpp: peer.llamaCpp, cpuBackend: peer.cpuBackend, systemInfo: peer.systemInfo },
    probe,
    check,
    timing,
  };
  const out = rootPath("bench", "results");
  mkdirSync(out, { recursive: true });
  const base = quick ? "native-quick" : "native";
  // Rendered before either file is written: a renderer error leaves the previous pair intact.
  const { nativeMarkdown } = (await import(pathToFileURL(rootPath("tools", "docs", "fragments-native.mjs")).href)) as { nativeMarkdown(r: unknown): string };
  const md = nativeMarkdown(results);
  writeFileSync(join(out, `${base}.json`), JSON.stringify(results, null, 1) + "\n");
  writeFileSync(join(out, `${base}.md`), md);
  log(`wrote bench/results/${base}.json and ${base}.md (${results.seconds.toFixed(0)} s)`);
  const disagree = check.rows.filter((r) => !r.agrees);
  for (const r of disagree) log(`FINDING: llama.cpp ${r.model} ${r.weights} kv ${r.kv} fa ${r.flashAttention ? "on" : "off"} is ${(100 * r.worstRatio).toFixed(0)}% of the bound`);
} finally {
  await peer.dispose();
  rmSync(dir, { recursive: true, force: true });
}
