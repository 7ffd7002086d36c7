// mlakit probe: this machine's limits (src/probe) from the package's own WASM builds: SIMD peak
// FLOP/s and streaming read GB/s, the roofline figures mlakit analyze and report use. --save
// stores them where analyze and report look when --machine is not given.
import { dirname } from "node:path";
import { fmtNum } from "../analysis/units.js";
import { ensureDirectory, checkWritable, writeRegularFileSync } from "../io/regular-file.js";
import { runProbeNode } from "../probe/node.js";
import { BUILD_CHOICES, RANGES, choiceFlag, intFlag, parseFlags } from "./args.js";
import { type CliIo, EXIT_OK, printJson } from "./io.js";
import { MACHINE_FORMAT, type MachineDoc, savedMachinePath } from "./machine.js";
import { progress } from "./progress.js";

export const probeHelp = `mlakit probe [--samples N] [--build auto|simd128|relaxed] [--save] [--json]
  Measures this machine with the package's WASM core, in about 2 s: the SIMD peak (12 independent
  f32x4 multiply-add chains; simd128, and relaxed-simd FMA where the runtime takes it) and the read
  bandwidth (256 MiB streamed from memory, one, four and eight streams; and a 256 KiB L2-resident buffer).
  Each figure is its fastest of at least --samples calls (default 9, 1 to 1,000).
  --save stores the result in $MLAKIT_MACHINE_FILE, else $XDG_CONFIG_HOME/mlakit/machine.json, else
  ~/.config/mlakit/machine.json; mlakit analyze and report use it when --machine is not given.
  --json prints the same document (${MACHINE_FORMAT}), which --machine FILE also takes:
  {"format", "peakGflops", "streamGBs", "peakSimd128Gflops", "peakRelaxedGflops", "stream1GBs",
  "stream4GBs", "stream8GBs", "l2GBs", "samples", "seconds", "builds", "runtime", "measuredAt", "savedTo"}.`;

export async function probeCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, common } = parseFlags("probe", argv, { samples: { type: "string" }, build: { type: "string" }, save: { type: "boolean" } });
  const samples = intFlag("samples", values.samples, RANGES.samples, 9);
  const build = choiceFlag("build", values.build ?? "auto", BUILD_CHOICES);
  const target = values.save === true ? savedMachinePath(io.env ?? process.env) : undefined;
  if (target !== undefined) checkWritable(target, "saved probe"); // before the work
  const p = progress(io, common.progress);
  p.stage("loading the WASM core");
  const r = await runProbeNode({ samples, build, onProgress: (s) => p.stage(`measuring ${s.stage} (${s.index + 1}/${s.total})`, true) });
  p.end();
  const doc: MachineDoc = { format: MACHINE_FORMAT, ...r, runtime: `node ${process.version}`, measuredAt: new Date().toISOString() };
  if (target !== undefined) {
    ensureDirectory(dirname(target), "saved probe");
    writeRegularFileSync(target, JSON.stringify(doc, null, 1) + "\n", "saved probe");
  }
  if (common.json) {
    printJson(io, { ...doc, savedTo: target ?? null });
    return EXIT_OK;
  }
  io.out(
    [
      `peak: ${fmtNum(r.peakGflops)} GFLOP/s (simd128 ${fmtNum(r.peakSimd128Gflops)}${r.peakRelaxedGflops === null ? ", relaxed not measured" : `, relaxed FMA ${fmtNum(r.peakRelaxedGflops)}`})`,
      `streaming read: ${fmtNum(r.streamGBs)} GB/s (one stream ${fmtNum(r.stream1GBs)}, four ${fmtNum(r.stream4GBs)}, eight ${fmtNum(r.stream8GBs)}); L2-resident ${fmtNum(r.l2GBs)} GB/s`,
      `ridge: ${(r.peakGflops / r.streamGBs).toFixed(1)} FLOP/B; ${r.samples} samples per figure, ${r.seconds.toFixed(1)} s`,
      target !== undefined ? `saved to ${target}: mlakit analyze and report use it when --machine is not given` : `use it: mlakit analyze --machine ${fmtNum(r.peakGflops)},${fmtNum(r.streamGBs)}, or mlakit probe --save`,
      "",
    ].join("\n"),
  );
  return EXIT_OK;
}
