// Progress of long work on stderr, one module for every command. On a terminal one line is
// redrawn in place (and cleared at the end); otherwise each stage is a plain `[t s] ...` line.
// Off under --json and --quiet. Plain lines are printed for a stage the caller expects to be slow,
// for any stage once the command has run over a second, and for every stage under --progress, so
// a quick command prints nothing and a log of a slow one shows where the time went.
import type { CliIo } from "./io.js";

export interface Progress {
  /** A new stage; `slow`: the caller expects it to take over a second. */
  stage(label: string, slow?: boolean): void;
  /** Steps within the stage (a terminal redraws; plain lines at most one a second). */
  step(done: number, total: number): void;
  /** Clear the redrawn line (call before printing results). */
  end(): void;
}

const QUIET: Progress = { stage() {}, step() {}, end() {} };
const AFTER_MS = 1000;

/** `mode`: the command's Common.progress (true forced, false off, undefined: automatic). */
export function progress(io: CliIo, mode: boolean | undefined, now: () => number = Date.now): Progress {
  if (mode === false) return QUIET;
  const t0 = now();
  const tty = io.errIsTty === true && mode !== true;
  let label = "", lastPlain = -Infinity, drawn = false;
  const stamp = () => `[${((now() - t0) / 1000).toFixed(1)} s] `;
  const draw = (text: string) => {
    io.err(`\r\x1b[2K${stamp()}${text}`);
    drawn = true;
  };
  const plain = (text: string) => {
    io.err(`${stamp()}${text}\n`);
    lastPlain = now();
  };
  const loud = (slow: boolean) => mode === true || slow || now() - t0 > AFTER_MS;
  return {
    stage(l, slow = false) {
      label = l;
      if (tty) draw(l);
      else if (loud(slow)) plain(l);
    },
    step(done, total) {
      const text = `${label} (${done}/${total})`;
      if (tty) draw(text);
      else if ((mode === true || now() - t0 > AFTER_MS) && now() - lastPlain >= AFTER_MS) plain(text);
    },
    end() {
      if (drawn) io.err("\r\x1b[2K");
      drawn = false;
    },
  };
}
