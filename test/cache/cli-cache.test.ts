// `mlakit cache`: prints the accuracy-vs-memory table; bad flags exit 2 with one line.
import { describe, expect, it } from "vitest";
import { run } from "../../src/cli/run.js";

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  const code = await run(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

describe("mlakit cache", () => {
  it("prints one row per case and format with bytes per token and errors", async () => {
    const r = await cli(["cache", "--format", "fp8_e4m3,int8", "--random", "1"]);
    expect(r.code).toBe(0);
    const rows = r.out.split("\n").filter((l) => /fp8_e4m3|int8/.test(l));
    expect(rows.length).toBe(2 * 7); // 6 official cases + 1 random
    expect(rows.filter((l) => l.includes("fp8_e4m3")).every((l) => /\s656\s/.test(l))).toBe(true);
    expect(rows.filter((l) => l.includes("int8")).every((l) => /\s584\s/.test(l))).toBe(true);
  });
  it("--json gives the rows as data", async () => {
    const r = await cli(["cache", "--format", "f32", "--json"]);
    const { pass, rows } = JSON.parse(r.out);
    expect(rows.length).toBe(6);
    expect(pass).toBe(true);
    for (const row of rows) expect(row.worstRatio).toBeLessThanOrEqual(1);
  });
  it("bad flags exit 2 naming the value", async () => {
    expect(await cli(["cache", "--format", "q4"])).toMatchObject({ code: 2, err: expect.stringContaining('"q4"') });
    expect(await cli(["cache", "--random", "1.5"])).toMatchObject({ code: 2, err: expect.stringContaining('--random "1.5"') });
  });
});
