// Dispatch `mlakit <command> ...`. Each command lives in its own cmd-*.ts file; add one line here.
// Errors the user can fix are one line on stderr and exit 2: `mlakit <command>: <message>`, or
// under --json `{"error": {"command", "message", "field"?, "value"?, "expected"?}}`.
import { MlaError } from "../errors.js";
import { closest } from "./args.js";
import { type CliIo, EXIT_OK, EXIT_USAGE, UsageError, oneLine } from "./io.js";
import { version } from "./version.js";

type Loaded = { run: (argv: string[], io: CliIo) => Promise<number>; help: string };
/** A command's module is imported only when it runs (or prints its help), so each command starts without the others' dependencies. */
type Command = { summary: string; load: () => Promise<Loaded> };

export const COMMANDS: Record<string, Command> = {
  demo: { summary: "verify the bundled official vectors, print DeepSeek-V3's KV-cache comparison", load: async () => { const m = await import("./cmd-demo.js"); return { run: m.demoCommand, help: m.demoHelp }; } },
  verify: { summary: "check a backend against golden vector cases (mla-vectors/1, /2, Hugging Face)", load: async () => { const m = await import("./cmd-verify.js"); return { run: m.verifyCommand, help: m.verifyHelp }; } },
  vectors: { summary: "vectors generate: write golden vectors from the float64 oracle", load: async () => { const m = await import("./cmd-vectors.js"); return { run: m.vectorsCommand, help: m.vectorsHelp }; } },
  check: { summary: "run the conformance properties against a backend", load: async () => { const m = await import("./cmd-check.js"); return { run: m.checkCommand, help: m.checkHelp }; } },
  analyze: { summary: "the cost model: KV-cache bytes, FLOPs, roofline time, crossovers", load: async () => { const m = await import("./cmd-analyze.js"); return { run: m.analyzeCommand, help: m.analyzeHelp }; } },
  report: { summary: "write analysis.md and its charts into a directory", load: async () => { const m = await import("./cmd-report.js"); return { run: m.reportCommand, help: m.reportHelp }; } },
  cache: { summary: "accuracy against memory of the cache storage formats", load: async () => { const m = await import("./cmd-cache.js"); return { run: m.cacheCommand, help: m.cacheHelp }; } },
  probe: { summary: "measure this machine's SIMD peak and read bandwidth (--save to keep it)", load: async () => { const m = await import("./cmd-probe.js"); return { run: m.probeCommand, help: m.probeHelp }; } },
};

const has = (name: string) => Object.prototype.hasOwnProperty.call(COMMANDS, name); // not "constructor" or "__proto__" from Object.prototype

function usage(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  return `usage: mlakit <command> [options]\n\n${Object.entries(COMMANDS)
    .map(([n, c]) => `  ${n.padEnd(w)}  ${c.summary}`)
    .join("\n")}\n\nmlakit help <command> (or mlakit <command> --help) prints a command's options; mlakit --version its version.\nEvery command takes --json (one JSON document on stdout; an error as one JSON line on stderr), --quiet\n(no progress or notes on stderr) and --progress (every stage on stderr).\nExit codes: 0 done (everything passed), 1 a check ran and failed, 2 bad input (one line on stderr).\n`;
}

/** argv before a `--` terminator holds the flag. */
const given = (argv: string[], flag: string) => {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).includes(flag);
};

function fail(io: CliIo, json: boolean, command: string | undefined, message: string, e?: MlaError): number {
  if (json) io.err(JSON.stringify({ error: { command: command ?? null, message, ...(e ? { field: e.field, value: typeof e.value === "string" || typeof e.value === "number" ? e.value : String(e.value), expected: e.expected } : {}) } }) + "\n");
  else io.err(`mlakit${command ? ` ${command}` : ""}: ${message}\n`);
  return EXIT_USAGE;
}

/** Run the CLI in-process; returns the exit code. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  const json = given(argv, "--json");
  if (name === "--version" || name === "-V") {
    io.out(json ? JSON.stringify({ name: "mlakit", version: version() }) + "\n" : `mlakit ${version()}\n`);
    return EXIT_OK;
  }
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    const topic = name === "help" ? rest.find((a) => !a.startsWith("-")) : undefined;
    if (topic !== undefined) {
      if (!has(topic)) return unknown(io, json, topic, "help");
      io.out((await COMMANDS[topic].load()).help + "\n");
      return EXIT_OK;
    }
    if (name === undefined) {
      io.err(usage());
      return EXIT_USAGE;
    }
    io.out(usage());
    return EXIT_OK;
  }
  if (!has(name)) return unknown(io, json, name);
  const cmd = await COMMANDS[name].load();
  const flags = rest.indexOf("--") < 0 ? rest : rest.slice(0, rest.indexOf("--"));
  if (flags.includes("--help") || flags.includes("-h")) {
    io.out(cmd.help + "\n");
    return EXIT_OK;
  }
  try {
    return await cmd.run(rest, json || given(rest, "--quiet") ? { ...io, err: () => {} } : io); // under --json or --quiet stderr carries only the error line
  } catch (e) {
    // Bad flags, bad paths, malformed files and bad configs are the user's to fix: one clear line, exit 2.
    // A typed error is one line whatever the file it quotes held; a UsageError's first line is its message.
    if (e instanceof MlaError) return fail(io, json, name, oneLine(e.message), e);
    if (e instanceof UsageError || (e as { code?: string })?.code?.startsWith?.("ERR_PARSE_ARGS")) return fail(io, json, name, oneLine((e as Error).message.split("\n")[0]));
    throw e;
  }
}

function unknown(io: CliIo, json: boolean, name: string, where?: string): number {
  const near = closest(name, Object.keys(COMMANDS));
  return fail(io, json, where, `unknown command ${JSON.stringify(name)}${near ? ` (did you mean ${near}?)` : ""}; commands: ${Object.keys(COMMANDS).join(", ")}`);
}
