// mlakit check: run the conformance kit (src/conformance checkBackend) against a named backend.
import { ALL_PROPERTY_NAMES, checkBackend } from "../conformance/index.js";
import { RANGES, choiceFlag, intFlag, parseFlags } from "./args.js";
import { BACKEND_FLAGS, BACKEND_HELP, backendFromFlags } from "./backends.js";
import { type CliIo, EXIT_FAIL, EXIT_OK, printJson } from "./io.js";
import { progress } from "./progress.js";

export const checkHelp = `mlakit check [--backend reference|wasm] [--build B] [--runs N] [--seed S] [--property NAME ...] [--json]
  Runs the conformance properties (${ALL_PROPERTY_NAMES.length}: oracle per path, absorbed==naive, prefill==decodes,
  batch rows, rollback, bad inputs, bad weights; DeepSeek-V3.2's dsa/oracle and dsa/failed-call where
  the backend has a V3.2 layer, at half the runs) on random small configs against the float64 oracle,
  at the backend's precision's tolerance. Prints each failure's shrunk case and a replay line.
  --runs 1 to 1,000,000 (default 50); --seed a 32-bit signed integer (default fresh, always printed).
  ${BACKEND_HELP}.
  Exit 0 when every property holds, 1 when one fails, 2 for bad flags.
  --json: {"pass", "backend", "build", "precision", "tolerance", "seed", "properties": [{"name", "pass", "numRuns", "counterexample"}]}.`;

export async function checkCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, common } = parseFlags("check", argv, { ...BACKEND_FLAGS, runs: { type: "string" }, seed: { type: "string" }, property: { type: "string", multiple: true } });
  const runs = intFlag("runs", values.runs, RANGES.runs, 50);
  const seed = intFlag("seed", values.seed, RANGES.checkSeed);
  const properties = ((values.property as string[] | undefined) ?? []).map((p) => choiceFlag("property", p, ALL_PROPERTY_NAMES));
  const backend = await backendFromFlags(values);
  const p = progress(io, common.progress);
  p.stage(`checking ${properties.length || ALL_PROPERTY_NAMES.length} properties on backend ${backend.name}, ${runs} runs each`, runs * (properties.length || ALL_PROPERTY_NAMES.length) > 200);
  const r = await checkBackend(backend, { numRuns: runs, seed, properties: properties.length ? properties : undefined });
  p.end();
  if (common.json) {
    printJson(io, { pass: r.pass, backend: r.backend, build: (backend as { build?: string }).build ?? null, precision: r.precision, tolerance: r.tolerance, seed: r.seed, properties: r.properties.map((p) => ({ name: p.name, pass: p.pass, numRuns: p.numRuns, counterexample: p.counterexample && { case: p.counterexample.case, maxAbsErr: p.counterexample.measurement.maxAbsErr, where: p.counterexample.measurement.where, problem: p.counterexample.measurement.problem, seed: p.counterexample.seed, path: p.counterexample.path } })) });
  } else io.out(r.report + "\n");
  return r.pass ? EXIT_OK : EXIT_FAIL;
}
