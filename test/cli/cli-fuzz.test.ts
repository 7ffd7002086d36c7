// The CLI fuzz over file contents: random bytes, and mutations (byte changes,
// insertions, deletions, truncations) of a valid case JSON, a valid config, a valid safetensors
// file and of a case whose weights_file names a mutated safetensors, given to every command that
// reads a path (special-files.ts READERS). Every case ends within 10 s with exit 0, 1 or 2 and,
// when it fails, one line (run-cli.ts problem). npm test runs 60 cases from seed 13; `npm run fuzz`
// runs MLAKIT_FUZZ_RUNS (default 3000) from a fresh seed, printed with any failure so that
// MLAKIT_FUZZ_SEED=S MLAKIT_FUZZ_RUNS=N replays it.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseVectorCaseText } from "../../src/io/mla-vectors.js";
import { mlaWeightTensors } from "../../src/io/mla-safetensors.js";
import { writeSafetensors } from "../../src/io/safetensors.js";
import { type DriverCase, problem, runDriver } from "./run-cli.js";
import { OFFICIAL_CASE, READERS, randomBytes, useSpecialFiles } from "./special-files.js";

const RUNS = Number(process.env.MLAKIT_FUZZ_RUNS ?? 60);
/** Fixed in npm test; a long run (MLAKIT_FUZZ_RUNS set) draws a fresh one unless MLAKIT_FUZZ_SEED is given. */
const SEED = Number(process.env.MLAKIT_FUZZ_SEED ?? (process.env.MLAKIT_FUZZ_RUNS === undefined ? 13 : Date.now() % 2 ** 31));

const files = useSpecialFiles("mlakit-fuzz-");

/** mulberry32: the fuzz's choices, from the seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 1 to 4 edits of a copy: a byte changed (often to a JSON-significant one), inserted or deleted, or the tail cut off. */
function mutate(bytes: Uint8Array, r: () => number): Uint8Array {
  let b = Array.from(bytes);
  const special = [...'{}[]":,0-9eE.-\\ntrue'].map((c) => c.charCodeAt(0));
  for (let k = 1 + Math.floor(r() * 4); k > 0 && b.length > 0; k--) {
    const at = Math.floor(r() * b.length), v = r() < 0.5 ? special[Math.floor(r() * special.length)] : Math.floor(r() * 256);
    const op = r();
    if (op < 0.4) b[at] = v;
    else if (op < 0.6) b.splice(at, 0, v);
    else if (op < 0.8) b.splice(at, 1 + Math.floor(r() * 16));
    else b = b.slice(0, at);
  }
  return Uint8Array.from(b);
}

describe("CLI fuzz: random and mutated files for every command that reads a path", () => {
  it(`${RUNS} cases from seed ${SEED}: each ends within 10 s with exit 0, 1 or 2 and one error line`, async () => {
    const fx = files.fx(), work = files.scratch();
    const caseText = readFileSync(OFFICIAL_CASE);
    const c = parseVectorCaseText(caseText.toString("utf8"));
    const safetensors = writeSafetensors(mlaWeightTensors(c.config, c.weights));
    const official = JSON.parse(caseText.toString("utf8")) as { weights: string[]; tensors: Record<string, unknown>; weights_file?: string };
    for (const w of official.weights) delete official.tensors[w];
    const external = new TextEncoder().encode(JSON.stringify({ ...official, weights_file: "w.safetensors" }));
    const config = readFileSync(fx.goodConfig);
    const r = rng(SEED);
    const slots = Object.entries(READERS);
    const cases: DriverCase[] = [];
    for (let i = 0; i < RUNS; i++) {
      const [slot, argv] = slots[Math.floor(r() * slots.length)];
      const sub = join(work, `c${i}`);
      mkdirSync(sub);
      const kind = Math.floor(r() * 5);
      let path: string;
      if (kind === 0) writeFileSync((path = join(sub, r() < 0.5 ? "x.json" : "x.safetensors")), randomBytes(SEED * 1000 + i, Math.floor(r() * 8192)));
      else if (kind === 1) writeFileSync((path = join(sub, "case.json")), mutate(caseText, r));
      else if (kind === 2) writeFileSync((path = join(sub, "config.json")), mutate(config, r));
      else if (kind === 3) writeFileSync((path = join(sub, "w.safetensors")), mutate(safetensors, r));
      else {
        // a case naming a weights file, one of the two mutated
        const mutateCase = r() < 0.5;
        writeFileSync((path = join(sub, "case.json")), mutateCase ? mutate(external, r) : external);
        writeFileSync(join(sub, "w.safetensors"), mutateCase ? safetensors : mutate(safetensors, r));
      }
      cases.push({ id: `#${i} ${slot} with ${["random bytes", "a mutated case", "a mutated config", "a mutated safetensors", "a case naming a weights file, mutated"][kind]} (${path})`, argv: argv(path, sub, fx) });
    }
    const results = await runDriver(cases, { cwd: work, perCaseMs: 10_000 });
    const bad = results.map((x) => ({ x, p: problem(x) })).filter((y) => y.p !== undefined);
    expect(bad.map(({ x, p }) => `${x.id}: ${p}\n  ${x.err.trim().split("\n").slice(0, 4).join("\n  ")}`).join("\n"), `seed ${SEED} (replay: MLAKIT_FUZZ_SEED=${SEED} MLAKIT_FUZZ_RUNS=${RUNS})`).toBe("");
    expect(results.length).toBe(RUNS);
  });
});
