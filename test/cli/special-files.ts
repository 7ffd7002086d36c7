// The hostile paths of the CLI fuzz, made once in a temporary directory: FIFOs, devices, a socket,
// directories named like files, symbolic link loops, dangling links, empty files, sparse files far
// over every size cap, random bytes, directories holding such entries, cases whose weights_file
// names them and checkpoint indexes whose shards are them. Each is named; `input` paths are for
// arguments the CLI reads, `output` ones for arguments it writes (never a regular file or a
// directory, so no case changes what another reads).
import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { type Server, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { ROOT, requireBuild } from "./run-cli.js";

export interface SpecialFiles {
  dir: string;
  /** name -> path, for arguments the CLI reads: none is a file any command takes. */
  input: Record<string, string>;
  /** name -> JSON that is no object (for every reader but --bench, whose reader takes any JSON). */
  nonObjects: Record<string, string>;
  /** name -> a case JSON whose weights_file is a special file (for verify and cache). */
  cases: Record<string, string>;
  /** name -> a checkpoint index whose shard is a special file (for --weights-from). */
  indexes: Record<string, string>;
  /** name -> path, for arguments the CLI writes (nothing there it may replace). */
  output: Record<string, string>;
  /** A valid official case (inline weights). */
  goodCase: string;
  /** A valid ModelArgs config. */
  goodConfig: string;
  close(): Promise<void>;
}

/** Deterministic bytes (xorshift32). */
export function randomBytes(seed: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

const sparse = (path: string, bytes: number) => {
  closeSync(openSync(path, "w"));
  truncateSync(path, bytes);
};

/** Every way the CLI takes a path it reads: the argv with the path in it. */
export const READERS: Record<string, (path: string, scratch: string, f: SpecialFiles) => string[]> = {
  "verify PATH": (p) => ["verify", p],
  "cache PATH": (p) => ["cache", p, "--format", "f32"],
  "analyze --config PATH": (p) => ["analyze", "--machine", "31,14", "--config", p],
  "analyze --bench PATH": (p) => ["analyze", "--preset", "deepseek-v2-lite", "--bench", p],
  "vectors generate --config PATH": (p, s) => ["vectors", "generate", "--config", p, "--out", join(s, "gen")],
  "vectors generate --weights-from PATH": (p, s, f) => ["vectors", "generate", "--config", f.goodConfig, "--weights-from", p, "--out", join(s, "gen")],
  "report --bench PATH": (p, s) => ["report", "--machine", "31,14", "--bench", p, "--out", join(s, "report")],
};

/** Every way the CLI takes a path it writes. */
export const WRITERS: Record<string, (path: string) => string[]> = {
  "analyze --svg PATH": (p) => ["analyze", "--machine", "31,14", "--preset", "deepseek-v2-lite", "--svg", p],
  "vectors generate --out PATH": (p) => ["vectors", "generate", "--preset", "deepseek-v3", "--scale-down", "64", "--tokens", "2+1", "--out", p],
  "report --out PATH": (p) => ["report", "--machine", "31,14", "--out", p],
};

export const OFFICIAL_CASE = join(ROOT, "vectors", "deepseek-v3-mla", "tiny-qlora-noyarn-b2.json");

export async function makeSpecialFiles(dir: string): Promise<SpecialFiles> {
  const p = (...parts: string[]) => join(dir, ...parts);
  const fifo = (path: string) => execFileSync("mkfifo", [path]);
  const input: Record<string, string> = {};
  const add = (name: string, path: string) => (input[name] = path);

  // the special files themselves
  add("missing", p("missing.json"));
  fifo(add("fifo.json", p("fifo.json")));
  fifo(add("fifo.safetensors", p("fifo.safetensors")));
  add("/dev/zero", "/dev/zero");
  add("/dev/null", "/dev/null");
  add("/dev/urandom", "/dev/urandom");
  mkdirSync(add("dir sub.json", p("sub.json")));
  mkdirSync(add("dir sub.safetensors", p("sub.safetensors")));
  symlinkSync("loop-b.json", add("symlink loop", p("loop-a.json")));
  symlinkSync("loop-a.json", p("loop-b.json"));
  symlinkSync("nowhere.json", add("dangling symlink", p("dangling.json")));
  symlinkSync("fifo.json", add("symlink to FIFO", p("to-fifo.json")));
  symlinkSync("/dev/zero", add("symlink to /dev/zero", p("to-zero.json")));
  writeFileSync(add("empty.json", p("empty.json")), "");
  writeFileSync(add("empty.safetensors", p("empty.safetensors")), "");
  sparse(add("sparse 64 GiB .json", p("huge.json")), 64 * 2 ** 30);
  sparse(add("sparse 64 GiB .safetensors", p("huge.safetensors")), 64 * 2 ** 30);
  sparse(add("sparse 300 MiB .json (over the case cap)", p("over.json")), 300 * 2 ** 20);
  sparse(add("sparse 17 MiB .json (over the config cap, under the case cap)", p("zeros.json")), 17 * 2 ** 20);
  writeFileSync(add("random.json", p("random.json")), randomBytes(1, 4096));
  writeFileSync(add("random.safetensors", p("random.safetensors")), randomBytes(2, 4096));
  const nonObjects: Record<string, string> = { "JSON null": p("null.json"), "deep JSON": p("deep.json") };
  writeFileSync(nonObjects["JSON null"], "null");
  writeFileSync(nonObjects["deep JSON"], "[".repeat(200_000) + "]".repeat(200_000));
  const sock = add("socket", p("sock.json"));
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(sock, resolve));

  // directories holding them
  for (const [name, make] of [
    ["dir holding a FIFO x.json", (d: string) => fifo(join(d, "x.json"))],
    ["dir holding a dir sub.json", (d: string) => mkdirSync(join(d, "sub.json"))],
    ["dir holding a sparse 64 GiB .json", (d: string) => sparse(join(d, "huge.json"), 64 * 2 ** 30)],
    ["dir holding a symlink loop .json", (d: string) => (symlinkSync("b.json", join(d, "a.json")), symlinkSync("a.json", join(d, "b.json")))],
    ["dir holding an HF case whose config.json is a FIFO", (d: string) => hfCaseWithFifoConfig(d)],
  ] as const) {
    const d = p(`d-${Object.keys(input).length}`);
    mkdirSync(d);
    make(d);
    add(name, d);
  }

  // cases whose weights_file is one of them
  const cases: Record<string, string> = {};
  const official = JSON.parse(readFileSync(OFFICIAL_CASE, "utf8")) as { weights: string[]; tensors: Record<string, unknown>; weights_file?: string };
  for (const [name, target] of [
    ["FIFO", "fifo.safetensors"],
    ["/dev/zero", "/dev/zero"],
    ["a directory", "sub.safetensors"],
    ["a symlink loop", "loop-a.json"],
    ["a missing file", "missing.safetensors"],
    ["a sparse 64 GiB file", "huge.safetensors"],
    ["an empty file", "empty.safetensors"],
    ["random bytes", "random.safetensors"],
  ]) {
    const c = structuredClone(official);
    for (const w of c.weights) delete c.tensors[w];
    c.weights_file = target;
    const file = p(`weights-${Object.keys(cases).length}.json`);
    writeFileSync(file, JSON.stringify(c));
    cases[`case whose weights_file is ${name}`] = file;
  }

  // checkpoint indexes whose shards are them
  const indexes: Record<string, string> = {};
  for (const [name, shard] of [
    ["a missing shard", "missing.safetensors"],
    ["a FIFO shard", "fifo.safetensors"],
    ["a directory shard", "sub.safetensors"],
    ["a sparse 64 GiB shard", "huge.safetensors"],
    ["a random-bytes shard", "random.safetensors"],
  ]) {
    const file = p(`index-${Object.keys(indexes).length}.safetensors.index.json`);
    writeFileSync(file, JSON.stringify({ weight_map: { "wq_a.weight": shard, "layers.0.attn.wq_a.weight": shard } }));
    indexes[`index naming ${name}`] = file;
  }
  const fifoIndexDir = p("ck-fifo-index");
  mkdirSync(fifoIndexDir);
  fifo(join(fifoIndexDir, "model.safetensors.index.json"));
  indexes["checkpoint dir whose index is a FIFO"] = fifoIndexDir;

  const goodConfig = p("good-config.json");
  writeFileSync(goodConfig, JSON.stringify({ dim: 24, n_heads: 3, q_lora_rank: 12, kv_lora_rank: 10, qk_nope_head_dim: 8, qk_rope_head_dim: 4, v_head_dim: 6, max_seq_len: 64 }));
  const output: Record<string, string> = {};
  for (const name of ["fifo.json", "/dev/zero", "/dev/null", "symlink to FIFO", "symlink to /dev/zero", "socket"]) output[name] = input[name];
  output["dir holding a FIFO x.json, as a file"] = join(input["dir holding a FIFO x.json"], "x.json");
  output["under a regular file"] = join(input["empty.json"], "x");
  return { dir, input, nonObjects, cases, indexes, output, goodCase: OFFICIAL_CASE, goodConfig, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** An HF case directory (hf-deepseek-vectors/1 case.json) whose config.json is a FIFO. */
function hfCaseWithFifoConfig(dir: string): void {
  const c = join(dir, "c1");
  mkdirSync(c);
  writeFileSync(join(c, "case.json"), JSON.stringify({ format: "hf-deepseek-vectors/1", name: "c1", config_file: "config.json", weights_file: "model.safetensors", batch_size: 1, calls: [] }));
  execFileSync("mkfifo", [join(c, "config.json")]);
}

/**
 * The special files of a test file: made in a new temporary directory before its tests (with an
 * empty `scratch` directory beside them for what commands write), removed after. Call at top level.
 */
export function useSpecialFiles(prefix: string): { fx: () => SpecialFiles; scratch: () => string } {
  let fx: SpecialFiles | undefined, scratch = "";
  beforeAll(async () => {
    requireBuild();
    const dir = mkdtempSync(join(tmpdir(), prefix));
    fx = await makeSpecialFiles(dir);
    mkdirSync((scratch = join(dir, "scratch")));
  });
  afterAll(async () => {
    await fx?.close();
    if (fx) rmSync(fx.dir, { recursive: true, force: true });
  });
  return { fx: () => fx!, scratch: () => scratch };
}
