// Issue 13 item 4: no file makes the CLI hang or print a stack trace. First the cases
// end to end (`node dist/cli/main.js`, killed after 15 s): they hung (a FIFO as weights_file or
// as x.json in a directory) or exited 70 with a stack trace (/dev/zero, /dev/null, a directory
// named sub.json, an index naming a missing shard). Then every command that takes a path, on
// every special file of special-files.ts, in one child process with 10 s per case: each exits 2
// with one line naming the path and what it is. The random files are cli-fuzz.test.ts.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type DriverCase, pool, problem, runDriver, runMain } from "./run-cli.js";
import { READERS, WRITERS, useSpecialFiles } from "./special-files.js";

const files = useSpecialFiles("mlakit-special-");
describe("item 4: the issue's cases, end to end", () => {
  it("each exits 2 within 15 s with one line naming the path and what it is (they hung or exited 70 with a stack trace)", async () => {
    const fx = files.fx(), scratch = files.scratch(), i = fx.input;
    const cases: [string[], RegExp][] = [
      [["verify", fx.cases["case whose weights_file is FIFO"]], /weights_file = ".*fifo\.safetensors": expected a regular file \(found a FIFO/],
      [["verify", i["dir holding a FIFO x.json"]], /case file = ".*x\.json": expected a regular file \(found a FIFO/],
      [["verify", "/dev/zero"], /case path = "\/dev\/zero": .*\(found a character device\)/],
      [["cache", "/dev/null"], /case path = "\/dev\/null": .*\(found a character device\)/],
      [["verify", i["dir holding a dir sub.json"]], /case file = ".*sub\.json": expected a regular file \(found a directory\)/],
      [["vectors", "generate", "--config", fx.goodConfig, "--weights-from", fx.indexes["index naming a missing shard"], "--out", join(scratch, "gen")], /checkpoint shard \(named by .*index.*\) = ".*missing\.safetensors": expected a regular file \(no such file or directory\)/],
      [["verify", i["symlink loop"]], /loop-a\.json": .*\(a symbolic link loop\)/],
    ];
    const runs = await pool(cases, 2, ([argv]) => runMain(argv));
    runs.forEach((r, k) => {
      expect(problem(r), `${r.argv.join(" ")}\n${r.err}`).toBeUndefined();
      expect(r.code, r.argv.join(" ")).toBe(2);
      expect(r.err, r.argv.join(" ")).toMatch(cases[k][1]);
    });
  });
});

describe("every command that takes a path, on every special file", () => {
  it("exits 2 with one line, within 10 s per case, and leaves nothing behind", async () => {
    const fx = files.fx(), scratch = files.scratch();
    const cases: DriverCase[] = [];
    const add = (slot: string, group: Record<string, string>) => {
      for (const [name, path] of Object.entries(group)) cases.push({ id: `${slot} with ${name}`, argv: READERS[slot](path, scratch, fx) });
    };
    for (const slot of Object.keys(READERS)) add(slot, fx.input);
    for (const slot of Object.keys(READERS).filter((s) => !s.includes("--bench"))) add(slot, fx.nonObjects);
    for (const slot of ["verify PATH", "cache PATH"]) add(slot, fx.cases);
    add("vectors generate --weights-from PATH", fx.indexes);
    for (const [slot, argv] of Object.entries(WRITERS)) for (const [name, path] of Object.entries(fx.output)) cases.push({ id: `${slot} with ${name}`, argv: argv(path) });
    const before = readdirSync(fx.dir).sort();
    const results = await runDriver(cases, { cwd: fx.dir, perCaseMs: 10_000 });
    expect(results.length).toBe(cases.length);
    const bad = results.map((r) => ({ r, p: problem(r) ?? (r.code !== 2 ? `exit ${r.code}, expected 2` : undefined) })).filter((x) => x.p !== undefined);
    expect(bad.map(({ r, p }) => `${r.id}: ${p}\n  ${r.err.trim().split("\n").slice(0, 3).join("\n  ")}`).join("\n")).toBe("");
    // a refused command wrote nothing: no output directory, no temporary file
    expect(readdirSync(fx.dir).sort()).toEqual(before);
    expect(readdirSync(scratch)).toEqual([]);
  });
});
