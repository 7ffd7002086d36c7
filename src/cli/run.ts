// Dispatch `mlakit <command> ...`. Each command lives in its own cmd-*.ts file; add one line here.
import { MlaError } from "../errors.js";
import { analyzeCommand, analyzeHelp } from "./cmd-analyze.js";
import { cacheCommand, cacheHelp } from "./cmd-cache.js";
import { demoCommand, demoHelp } from "./cmd-demo.js";
import { reportCommand, reportHelp } from "./cmd-report.js";
import { checkCommand, checkHelp } from "./cmd-check.js";
import { vectorsCommand, vectorsHelp } from "./cmd-vectors.js";
import { verifyCommand, verifyHelp } from "./cmd-verify.js";
import { type CliIo, EXIT_OK, EXIT_USAGE, UsageError, oneLine } from "./io.js";

type Command = { run: (argv: string[], io: CliIo) => Promise<number>; help: string };

export const COMMANDS: Record<string, Command> = {
  demo: { run: demoCommand, help: demoHelp },
  verify: { run: verifyCommand, help: verifyHelp },
  vectors: { run: vectorsCommand, help: vectorsHelp },
  check: { run: checkCommand, help: checkHelp },
  analyze: { run: analyzeCommand, help: analyzeHelp },
  report: { run: reportCommand, help: reportHelp },
  cache: { run: cacheCommand, help: cacheHelp },
};

function usage(): string {
  return `usage: mlakit <command> [options]\n\n${Object.values(COMMANDS)
    .map((c) => c.help)
    .join("\n\n")}\n`;
}

/** Run the CLI in-process; returns the exit code. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    io.out(usage());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const cmd = Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name] : undefined; // not "constructor" or "__proto__" from Object.prototype
  if (!cmd) {
    io.err(`mlakit: unknown command "${name}"\n${usage()}`);
    return EXIT_USAGE;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(cmd.help + "\n");
    return EXIT_OK;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    // Bad flags, bad paths, malformed files and bad configs are the user's to fix: one clear line, exit 2.
    // A typed error is one line whatever the file it quotes held; a UsageError may add the command's help below its line.
    if (e instanceof MlaError) {
      io.err(`mlakit ${name}: ${oneLine(e.message)}\n`);
      return EXIT_USAGE;
    }
    if (e instanceof UsageError || (e as { code?: string })?.code?.startsWith?.("ERR_PARSE_ARGS")) {
      io.err(`mlakit ${name}: ${(e as Error).message}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
}
