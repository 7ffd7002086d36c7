// Child process of run-cli.ts runDriver: receives a list of argv over IPC, runs each through the
// built CLI's run() in turn (dist/cli/run.js, the function main.js calls) and sends back each
// result as it ends: the exit code, what the command printed, and, as main.js would print it, an
// exception that escaped run() (exit 70 with its stack). The parent bounds each case's time.
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const { run } = await import(pathToFileURL(join(process.env.MLAKIT_DIST, "cli", "run.js")).href);

process.on("message", async (cases) => {
  for (const argv of cases) {
    let out = "", err = "", code;
    const t0 = Date.now();
    try {
      code = await run(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
    } catch (e) {
      err += `mlakit: internal error: ${e?.stack ?? String(e)}\n`;
      code = 70;
    }
    process.send({ code, out: out.slice(0, 4000), err: err.slice(0, 4000), ms: Date.now() - t0 });
  }
});
