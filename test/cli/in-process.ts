// Running the CLI in-process (src/cli/run.ts) with captured output, no saved probe of the user's
// in sight, and stderr as a terminal or not.
import { join } from "node:path";
import { tmpdir } from "node:os";
import { run } from "../../src/cli/run.js";

export interface Ran {
  code: number;
  out: string;
  err: string;
}

/** A path no test writes: the saved-probe lookup finds nothing unless `env` names one. */
export const NO_SAVED_PROBE = join(tmpdir(), "mlakit-test-no-saved-probe", "machine.json");

export async function cli(argv: string[], opts: { tty?: boolean; env?: Record<string, string | undefined> } = {}): Promise<Ran> {
  let out = "", err = "";
  const code = await run(argv, { out: (s) => void (out += s), err: (s) => void (err += s), errIsTty: opts.tty, env: opts.env ?? { MLAKIT_MACHINE_FILE: NO_SAVED_PROBE } });
  return { code, out, err };
}

/** The lines of stderr, empty ones dropped. */
export const errLines = (r: Ran): string[] => r.err.split("\n").filter((l) => l.trim() !== "");
