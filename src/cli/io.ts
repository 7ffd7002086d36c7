// What a command may print to, so commands run in-process in tests.
export interface CliIo {
  out(s: string): void;
  err(s: string): void;
  /** stderr is a terminal: progress redraws one line there (main.ts sets it). */
  errIsTty?: boolean;
  /** The environment (default process.env): where the saved machine probe is looked up. */
  env?: Record<string, string | undefined>;
}

/** A usage problem (bad flag, missing path): printed as one line, exit code 2. */
export class UsageError extends Error {}

export const EXIT_OK = 0;
export const EXIT_FAIL = 1;
export const EXIT_USAGE = 2;

/** Text from outside (a path, a parser's message quoting a file) made one line: line breaks and control characters escaped (\n, \u001b, ...). */
export function oneLine(s: string): string {
  const named: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
  return s.replace(/[\u0000-\u001f\u007f\u0085\u2028\u2029]/g, (c) => named[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** One JSON document on stdout (the --json form of every command). */
export function printJson(io: CliIo, value: unknown): void {
  io.out(JSON.stringify(value, null, 1) + "\n");
}
