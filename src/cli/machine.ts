// Where the roofline's machine figures come from, in order: --machine (GFLOPS,GBPS or a file
// `mlakit probe --json` wrote), the probe of a --bench results file, the probe `mlakit probe
// --save` stored for this user, else a default that says it is one. Never a file of the package
// or the repository, so an installed mlakit and a clone answer the same.
import { homedir } from "node:os";
import { join } from "node:path";
import { DEFAULT_MACHINE, type BenchResults } from "../analysis/bench-results.js";
import type { Machine } from "../analysis/roofline.js";
import { FormatError } from "../errors.js";
import { probeKind, readRegularFileSync } from "../io/regular-file.js";
import type { ProbeResult } from "../probe/probe.js";
import { positiveNumber } from "./args.js";
import { type CliIo, UsageError, oneLine } from "./io.js";

export const MACHINE_FORMAT = "mlakit-machine/1";

/** What `mlakit probe --json` prints and `--save` stores. */
export interface MachineDoc extends ProbeResult {
  format: typeof MACHINE_FORMAT;
  builds: string[];
  runtime: string;
  measuredAt: string;
}

/** $MLAKIT_MACHINE_FILE, else $XDG_CONFIG_HOME/mlakit/machine.json, else ~/.config/mlakit/machine.json. */
export function savedMachinePath(env: Record<string, string | undefined> = process.env): string {
  if (env.MLAKIT_MACHINE_FILE) return env.MLAKIT_MACHINE_FILE;
  return join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "mlakit", "machine.json");
}

export const DEFAULT_MACHINE_NOTE = "measure this machine with `mlakit probe --save`, or pass --machine GFLOPS,GBPS";

/** The default, saying it is one and how to replace it. */
export function defaultMachine(): Machine {
  return { gflops: DEFAULT_MACHINE.gflops, gbps: DEFAULT_MACHINE.gbps, source: `default: one Zen 3 core (${DEFAULT_MACHINE.gflops} GFLOP/s WASM SIMD, ${DEFAULT_MACHINE.gbps} GB/s streaming read); ${DEFAULT_MACHINE_NOTE}` };
}

const MAX_MACHINE_JSON_BYTES = 2 ** 20;
const MAX_FIGURE = 1e9; // GFLOP/s or GB/s: far above any machine, below where the roofline's arithmetic loses meaning

/** A machine document (probe --json / --save) read from `file`; `label` names it in errors. */
export function readMachineFile(file: string, label: string): Machine {
  const text = readRegularFileSync(file, label, MAX_MACHINE_JSON_BYTES).toString("utf8");
  let doc: Partial<MachineDoc>;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new FormatError(label, file, `a JSON file written by mlakit probe (${MACHINE_FORMAT})`, oneLine((e as Error).message));
  }
  if (typeof doc !== "object" || doc === null || doc.format !== MACHINE_FORMAT) throw new FormatError(`${label} ${file}: format`, (doc as { format?: unknown } | null)?.format, `"${MACHINE_FORMAT}" (a file written by mlakit probe --json or --save)`);
  for (const k of ["peakGflops", "streamGBs"] as const) {
    const v = doc[k];
    if (!(typeof v === "number" && Number.isFinite(v) && v > 0 && v <= MAX_FIGURE)) throw new FormatError(`${label} ${file}: ${k}`, v, `a positive number up to ${MAX_FIGURE}`);
  }
  return { gflops: doc.peakGflops!, gbps: doc.streamGBs!, source: `measured by mlakit probe${typeof doc.measuredAt === "string" ? ` at ${oneLine(doc.measuredAt.slice(0, 40))}` : ""} (${oneLine(file)})` };
}

/** --machine: "GFLOPS,GBPS" or the path of a probe's JSON. */
export function parseMachine(s: string): Machine {
  if (/^[^,]*,[^,]*$/.test(s) && !s.endsWith(".json")) {
    const [g, b] = s.split(",");
    const bad = () => new UsageError(`--machine ${JSON.stringify(s)}: expected GFLOPS,GBPS (two positive numbers, e.g. 31,14) or a file written by mlakit probe --json`);
    try {
      return { gflops: positiveNumber("machine", g, MAX_FIGURE), gbps: positiveNumber("machine", b, MAX_FIGURE), source: "given with --machine" };
    } catch {
      throw bad();
    }
  }
  if (probeKind(s) === undefined) throw new UsageError(`--machine ${JSON.stringify(s)}: expected GFLOPS,GBPS (two positive numbers, e.g. 31,14) or an existing file written by mlakit probe --json`);
  return readMachineFile(s, "--machine");
}

/** The machine by the rules at the top; `bench` is a --bench file's results when one was given. */
export function resolveMachine(flag: string | undefined, bench: BenchResults | undefined, io: CliIo): Machine {
  if (flag !== undefined) return parseMachine(flag);
  if (bench?.machine) return bench.machine;
  const saved = savedMachinePath(io.env ?? process.env);
  if (probeKind(saved) !== undefined) return readMachineFile(saved, "saved probe");
  return defaultMachine();
}
