// What a command may print to, so commands run in-process in tests.
export interface CliIo {
  out(s: string): void;
  err(s: string): void;
}

/** A usage problem (bad flag, missing path): printed as one line, exit code 2. */
export class UsageError extends Error {}

export const EXIT_OK = 0;
export const EXIT_FAIL = 1;
export const EXIT_USAGE = 2;
