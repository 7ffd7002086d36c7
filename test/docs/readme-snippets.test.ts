// Every code block a reader can copy from the README and the docs runs as written: each ```ts
// block type-checks against the built package's declarations (dist/*.d.ts, through
// node_modules/mlakit) and runs to completion in Node; each `npm run mlakit -- ARGS` line of an
// sh block runs as `node dist/cli/main.js ARGS` and exits 0. Everything runs in a fresh directory
// laid out as a reader has it (fixture.ts), so what the commands write stays there.
// Needs `npm run build` (dist/ and build/*.wasm).
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type CodeBlock, cliLines, codeBlocks } from "./markdown-blocks.js";
import { PACKAGE, ROOT, makeReaderDir } from "./fixture.js";

const DOCS = ["README.md", "docs/cache.md", "docs/performance.md", "docs/DESIGN.md", "docs/guarantees.md"];
const blocks = DOCS.flatMap((f) => codeBlocks(join(ROOT, f), f));
const snippets = blocks.filter((b) => b.lang === "ts" || b.lang === "js");
const commands = blocks.filter((b) => b.lang === "sh").flatMap((b) => cliLines(b).map((l) => ({ ...l, file: b.file })));

/** Commands too heavy for the test suite, with the reason (the README states their cost). */
const SKIP: Record<string, string> = {
  "vectors generate --preset deepseek-v3 --weights safetensors --tokens 4+2": "the full 7168-wide layer: ~33 s and 2.3 GB of memory",
};
const CLI = join(PACKAGE, "dist", "cli", "main.js");
/** The compiler the snippets are checked with: this repository's, or (MLAKIT_READER_TSC) the documented minimum an install test set up. */
const TSC = process.env.MLAKIT_READER_TSC ?? join(ROOT, "node_modules", "typescript", "bin", "tsc");
const RUN_TIMEOUT_MS = 60_000;

const slug = (b: CodeBlock) => `${b.file.replace(/[^A-Za-z0-9]+/g, "_")}_L${b.line}`;
const where = (b: { file: string; line: number }) => `${b.file}:${b.line}`;

/** `report` writes the analysis page: name the reader's directory, so it can never reach the package's own docs/. */
function argsFor(args: string[]): string[] {
  return args[0] === "report" && !args.includes("--out") ? [...args, "--out", "docs"] : args;
}

let dir = "";
let tscOutput = "";
let tscStatus: number | null = null;

beforeAll(() => {
  dir = makeReaderDir();
  mkdirSync(join(dir, "snippets"));
  for (const b of snippets) writeFileSync(join(dir, "snippets", `${slug(b)}.${b.lang === "ts" ? "ts" : "mjs"}`), b.code);
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { strict: true, target: "es2022", module: "nodenext", moduleResolution: "nodenext", types: ["node"], rootDir: "snippets", outDir: "out", skipLibCheck: false },
      include: ["snippets/*.ts"],
    }),
  );
  const tsc = spawnSync(process.execPath, [TSC, "-p", join(dir, "tsconfig.json")], { cwd: dir, encoding: "utf8", timeout: RUN_TIMEOUT_MS });
  tscOutput = `${tsc.stdout}${tsc.stderr}`;
  tscStatus = tsc.status;
}, 2 * RUN_TIMEOUT_MS);

describe("README and docs code blocks", () => {
  it("finds the blocks (a change to the markdown that hides them fails here)", () => {
    expect(snippets.filter((b) => b.file === "README.md").length).toBeGreaterThanOrEqual(5);
    expect(commands.filter((c) => c.file === "README.md").length).toBeGreaterThanOrEqual(10);
  });

  it("every ts block type-checks against dist/*.d.ts", () => {
    const byFile = new Map(snippets.map((b) => [`snippets/${slug(b)}.ts`, b]));
    const readable = tscOutput.replace(/snippets\/(\S+?)\.ts\((\d+),(\d+)\)/g, (m, name: string, line: string) => {
      const b = byFile.get(`snippets/${name}.ts`);
      return b ? `${b.file}:${b.line + Number(line)} (${b.heading})` : m;
    });
    expect(readable.trim()).toBe("");
    expect(tscStatus).toBe(0);
  });

  for (const b of snippets) {
    it(`${where(b)} (${b.heading}) runs`, () => {
      const file = b.lang === "ts" ? join(dir, "out", `${slug(b)}.js`) : join(dir, "snippets", `${slug(b)}.mjs`);
      const r = spawnSync(process.execPath, [file], { cwd: dir, encoding: "utf8", timeout: RUN_TIMEOUT_MS });
      expect(r.stderr, `${where(b)} wrote to stderr`).toBe("");
      expect(r.status, `${where(b)} exited ${r.status}${r.signal ? ` (${r.signal})` : ""}`).toBe(0);
    }, RUN_TIMEOUT_MS + 5_000);
  }
});

describe("the conformance worked example", () => {
  it("prints exactly the output the README shows", () => {
    const shown = blocks.find((b) => b.file === "README.md" && b.lang === "" && b.code.startsWith('checkBackend("toy"'));
    expect(shown, "README.md: the worked example's output block").toBeDefined();
    const out = join(dir, "examples-out");
    const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", join(ROOT, "examples", "tsconfig.json"), "--outDir", out], { cwd: dir, encoding: "utf8", timeout: RUN_TIMEOUT_MS });
    expect(`${tsc.stdout}${tsc.stderr}`.trim()).toBe("");
    const r = spawnSync(process.execPath, [join(out, "conformance", "toy-backend.js")], { cwd: dir, encoding: "utf8", timeout: RUN_TIMEOUT_MS });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(shown?.code);
  }, 2 * RUN_TIMEOUT_MS + 5_000);
});

describe("every `npm run mlakit -- ...` line of an sh block, in order, in one directory", () => {
  for (const c of commands) {
    const line = c.args.join(" ");
    if (SKIP[line]) {
      it.skip(`${where(c)} mlakit ${line} (skipped: ${SKIP[line]})`, () => {});
      continue;
    }
    it(`${where(c)} mlakit ${line}`, () => {
      const r = spawnSync(process.execPath, [CLI, ...argsFor(c.args)], { cwd: dir, encoding: "utf8", timeout: RUN_TIMEOUT_MS });
      expect(r.status, `${where(c)}: mlakit ${line} exited ${r.status}\n${r.stderr}`).toBe(0);
      if (c.args.includes("--json")) expect(() => JSON.parse(r.stdout), `${where(c)}: --json output is not one JSON document`).not.toThrow();
    }, RUN_TIMEOUT_MS + 5_000);
  }

  it("the skip list names only commands the docs still contain", () => {
    const lines = new Set(commands.map((c) => c.args.join(" ")));
    for (const s of Object.keys(SKIP)) expect(lines.has(s), `SKIP entry no longer in the docs: ${s}`).toBe(true);
  });
});
