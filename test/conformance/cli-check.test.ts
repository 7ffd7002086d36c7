// `mlakit check` through run(): the kit from the command line, exit 0 / 1 / 2.
import { describe, expect, test } from "vitest";
import { run } from "../../src/cli/run.js";

async function cli(...argv: string[]) {
  let out = "", err = "";
  const code = await run(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

describe("mlakit check", () => {
  test("the reference and the wasm backend pass; the report or JSON says so", async () => {
    const a = await cli("check", "--runs", "15", "--seed", "3");
    expect(a.code, a.out).toBe(0);
    expect(a.out).toMatch(/^checkBackend\("reference", float64\): 15\/15 properties hold — seed 3/);
    expect(a.out).toMatch(/ok +dsa\/oracle +8 cases/); // the V3.2 properties at half the runs
    const b = await cli("check", "--backend", "wasm", "--runs", "15", "--json", "--property", "oracle/absorbed", "--property", "rollback==fresh/naive");
    expect(b.code, b.out).toBe(0);
    const j = JSON.parse(b.out);
    expect(j).toMatchObject({ pass: true, backend: "wasm", precision: "float32", tolerance: { atol: 1e-4, rtol: 1e-4 } });
    expect(j.properties.map((p: { name: string }) => p.name)).toEqual(["oracle/absorbed", "rollback==fresh/naive"]);
  });

  test("bad flags exit 2", async () => {
    for (const [argv, re] of [
      [["check", "--runs", "0"], /--runs "0"/],
      [["check", "--seed", "x"], /--seed "x"/],
      [["check", "--property", "fast"], /--property "fast": expected one of oracle\/naive/],
      [["check", "--backend", "cuda"], /unknown backend "cuda"/],
    ] as [string[], RegExp][]) {
      const r = await cli(...argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.err).toMatch(re);
    }
  });
});
