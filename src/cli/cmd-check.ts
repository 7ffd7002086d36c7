// mlakit check: run the conformance kit (src/conformance checkBackend) against a named backend.
import { parseArgs } from "node:util";
import { PROPERTY_NAMES, checkBackend } from "../conformance/index.js";
import { getBackend } from "./backends.js";
import { type CliIo, EXIT_FAIL, EXIT_OK, UsageError } from "./io.js";

export const checkHelp = `mlakit check [--backend reference] [--runs N] [--seed S] [--property NAME ...] [--json]
  Runs the conformance properties (${PROPERTY_NAMES.length}: oracle per path, absorbed==naive, prefill==decodes,
  batch rows, rollback, bad inputs, bad weights) on random small configs against the float64 oracle,
  at the backend's precision's tolerance. Prints each failure's shrunk case and a replay line.
  Exit 0 when every property holds, 1 when one fails, 2 for bad flags.`;

export async function checkCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { backend: { type: "string", default: "reference" }, runs: { type: "string", default: "50" }, seed: { type: "string" }, property: { type: "string", multiple: true }, json: { type: "boolean", default: false } },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new UsageError(`--runs ${JSON.stringify(values.runs)}: expected a positive integer`);
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && !Number.isInteger(seed)) throw new UsageError(`--seed ${JSON.stringify(values.seed)}: expected an integer`);
  for (const p of values.property ?? []) if (!PROPERTY_NAMES.includes(p)) throw new UsageError(`--property ${JSON.stringify(p)}: expected one of ${PROPERTY_NAMES.join(", ")}`);
  const backend = await getBackend(values.backend as string);
  const r = await checkBackend(backend, { numRuns: runs, seed, properties: values.property });
  if (values.json) {
    io.out(JSON.stringify({ pass: r.pass, backend: r.backend, precision: r.precision, tolerance: r.tolerance, seed: r.seed, properties: r.properties.map((p) => ({ name: p.name, pass: p.pass, numRuns: p.numRuns, counterexample: p.counterexample && { case: p.counterexample.case, maxAbsErr: p.counterexample.measurement.maxAbsErr, where: p.counterexample.measurement.where, problem: p.counterexample.measurement.problem, seed: p.counterexample.seed, path: p.counterexample.path } })) }, null, 1) + "\n");
  } else io.out(r.report + "\n");
  return r.pass ? EXIT_OK : EXIT_FAIL;
}
