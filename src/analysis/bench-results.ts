// Reads what the benchmarks measured (bench/results/latest.json, written by
// `npm run bench`) without depending on its exact shape: the machine probe's peak GFLOP/s and
// streaming GB/s, and decode-step timings (path, heads, context, time) wherever they appear.
// Pure: takes parsed JSON; the CLI reads the file.

import { type MlaConfig, PRESETS, type PresetName } from "../config.js";
import type { Machine } from "./roofline.js";
import type { AnyPath } from "./work.js";

export interface MeasuredDecode {
  path: AnyPath;
  /** "step": the whole layer's decode step (projections included); "attention": attention over the cache only (absorbed: plus W_UV; recompute and the seed's scheme: plus the decompression they fuse into it). */
  scope: "step" | "attention";
  /** Heads of the measured layer (128: DeepSeek-V3 shapes, 16: V2-Lite), when the entry says. */
  heads?: number;
  /** The benchmarks' model name ("V3", "V2-Lite"), when the entry has the benchmarks' schema. */
  model?: string;
  /** The measured layer's config, when the measurer knows it (the web page times the layer it charts). */
  config?: Pick<MlaConfig, "dim" | "n_heads" | "q_lora_rank" | "kv_lora_rank" | "qk_nope_head_dim" | "qk_rope_head_dim" | "v_head_dim">;
  context: number;
  /** Seconds per decode step of one layer. */
  seconds: number;
  label: string;
}

/** One weight matrix streamed once (a decode GEMV, M = 1), from the benchmarks' schema. */
export interface MeasuredWeightStream {
  /** Official weight name, e.g. "wkv_b". */
  name: string;
  heads?: number;
  seconds: number;
  bytes: number;
  label: string;
}

export interface BenchResults {
  /** Which run, when the file says: e.g. "quick run of 2026-11-28T07:55:30Z". */
  run?: string;
  machine?: Machine;
  decode: MeasuredDecode[];
  weightStreams?: MeasuredWeightStream[];
}

type Json = unknown;
const isObj = (x: Json): x is Record<string, Json> => typeof x === "object" && x !== null && !Array.isArray(x);
const num = (x: Json): number | undefined => (typeof x === "number" && Number.isFinite(x) && x > 0 ? x : undefined);

function* walk(x: Json, path: string[] = [], depth = 0): Generator<[string[], Record<string, Json>]> {
  if (depth > 8) return;
  if (Array.isArray(x)) for (let i = 0; i < x.length; i++) yield* walk(x[i], [...path, String(i)], depth + 1);
  else if (isObj(x)) {
    yield [path, x];
    for (const [k, v] of Object.entries(x)) yield* walk(v, [...path, k], depth + 1);
  }
}

/** The probe: the first object under a key containing "probe" with a GFLOP/s and a GB/s figure. */
function findMachine(json: Json): Machine | undefined {
  for (const [path, o] of walk(json)) {
    if (!path.some((p) => /probe/i.test(p))) continue;
    let gflops: number | undefined, gbps: number | undefined;
    for (const [k, v] of Object.entries(o)) {
      const n = num(v);
      if (n === undefined) continue;
      if (/gflop/i.test(k)) gflops = Math.max(gflops ?? 0, n); // the best build (relaxed FMA if present)
      else if (/(gb\/?s|gbps|bandwidth)/i.test(k) && !/l[123]|cache/i.test(k)) gbps = Math.max(gbps ?? 0, n); // DRAM streaming, not cache-resident
    }
    if (gflops !== undefined && gbps !== undefined) return { gflops, gbps, source: `measured by the benchmark probe, "${path.join(".")}" of the results file` };
  }
  return undefined;
}

const UNIT: Record<string, number> = { ns: 1e-9, us: 1e-6, ms: 1e-3, s: 1, sec: 1, seconds: 1 };
/** medianMs, mean_us, timeNs, ms, seconds, msPerStep ... -> seconds per unit. */
function timeUnit(key: string): number | undefined {
  const k = key.toLowerCase();
  const m = /^(median|mean|avg|min|p50)?_?(time)?_?(ns|us|ms|s|sec|seconds)$/.exec(k) ?? /^(ns|us|ms)_?per_?(step|token|call|iter)$/.exec(k);
  if (!m) return undefined;
  return UNIT[m[3] ?? m[1]];
}

function timeOf(o: Record<string, Json>): number | undefined {
  for (const pref of [/median|p50/i, /mean|avg/i, /./]) {
    for (const [k, v] of Object.entries(o)) {
      const n = num(v), unit = timeUnit(k);
      if (n !== undefined && unit !== undefined && pref.test(k)) return n * unit;
    }
  }
  return undefined;
}

function labelOf(path: string[], o: Record<string, Json>): string {
  const own = ["name", "label", "id", "case", "task", "kernel"].map((k) => o[k]).find((v) => typeof v === "string") as string | undefined;
  return [...path, own ?? ""].join(" ").trim();
}

/** Decode timings: entries whose label says decode and naive/absorbed, with a context and a time. */
function findDecodes(json: Json): MeasuredDecode[] {
  const out: MeasuredDecode[] = [];
  for (const [path, o] of walk(json)) {
    const label = labelOf(path, o);
    if (!/decode/i.test(label)) continue;
    const pathName = /absorb/i.test(label) ? "absorbed" : /naive/i.test(label) ? "naive" : undefined;
    if (!pathName) continue;
    const seconds = timeOf(o);
    if (seconds === undefined) continue;
    let context = num(o.context) ?? num(o.S) ?? num(o.seqlen) ?? num(o.seqLen) ?? num(o.T) ?? num(o.tokens);
    if (context === undefined) {
      const m = /\bS\s*=?\s*(\d+)\s*(k?)\b/i.exec(label) ?? /(\d+)\s*(k)\b/i.exec(label);
      if (m) context = Number(m[1]) * (m[2] ? 1024 : 1);
    }
    if (context === undefined) continue;
    let heads = num(o.H) ?? num(o.heads) ?? num(o.n_heads);
    if (heads === undefined) {
      const m = /\bH\s*=?\s*(\d+)\b/.exec(label);
      if (m) heads = Number(m[1]);
      else if (/lite/i.test(label)) heads = 16;
      else if (/v3/i.test(label)) heads = 128;
    }
    const model = /lite/i.test(label) ? "V2-Lite" : /v3/i.test(label) ? "V3" : undefined; // the benchmarks' names, when the label carries one
    out.push({ path: pathName, scope: /attn|attention/i.test(label) && !/step/i.test(label) ? "attention" : "step", heads, model, context, seconds, label });
  }
  return out;
}

const HEADS_OF_MODEL: [RegExp, number][] = [
  [/lite/i, 16],
  [/v3|v2(?!-?lite)/i, 128],
];

/** Figure groups of decode attention over S cached keys, per path (bench/figures.ts). */
const ATTENTION_GROUPS: Readonly<Record<string, AnyPath>> = {
  "attn-naive": "naive", "attn-absorbed": "absorbed", "attn-recompute": "recompute",
  "attn-mha": "mha", "attn-gqa": "gqa", "attn-mqa": "mqa", "attn-seed": "seedPerHead",
};

/**
 * The benchmarks' own schema (bench/report.ts, "mlakit-bench/1"): figures with group "attn-<path>"
 * (attention over S cached keys, ATTENTION_GROUPS) or "step" (a whole absorbed decode step of one
 * layer at startPos S, so S + 1 keys), model "V3" / "V2-Lite", what "H=128 S=4096", ms.
 */
function schemaDecodes(json: Json): MeasuredDecode[] | undefined {
  if (!isObj(json) || !Array.isArray(json.figures)) return undefined;
  const out: MeasuredDecode[] = [];
  for (const f of json.figures) {
    if (!isObj(f) || typeof f.group !== "string" || typeof f.what !== "string" || num(f.ms) === undefined) continue;
    const attention = Object.prototype.hasOwnProperty.call(ATTENTION_GROUPS, f.group) ? ATTENTION_GROUPS[f.group] : undefined;
    const scope = f.group === "step" ? "step" : attention ? "attention" : undefined;
    if (!scope) continue;
    const path: AnyPath = attention ?? (/naive/i.test(String(f.impl ?? "")) ? "naive" : "absorbed");
    const S = /\bS\s*=\s*(\d+)/.exec(f.what);
    if (!S) continue;
    const model = String(f.model ?? "");
    const h = /\bH\s*=\s*(\d+)/.exec(f.what);
    const heads = h ? Number(h[1]) : HEADS_OF_MODEL.find(([re]) => re.test(model))?.[1];
    const context = Number(S[1]) + (scope === "step" ? 1 : 0);
    out.push({ path, scope, heads, model, context, seconds: (f.ms as number) * 1e-3, label: [model, f.group, f.what, f.impl, f.isa].filter((x) => typeof x === "string").join(" ") });
  }
  return out;
}

/** The layers the benchmarks time (bench/shapes.ts): a preset's geometry, batch 1, float32 cache and weights. */
export const BENCH_MODELS: Readonly<Record<string, PresetName>> = { V3: "deepseek-v3", "V2-Lite": "deepseek-v2-lite" };
const GEOMETRY = ["dim", "n_heads", "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"] as const;

/**
 * Was this figure measured on exactly this layer? The benchmarks' model must be known and its
 * preset's geometry equal the config's, at batch 1 with float32 storage (what they run); a figure
 * from another geometry (DeepSeek-V3 points on another 128-head config) is never drawn as this one's.
 */
export function measuredOn(m: MeasuredDecode, cfg: MlaConfig, batch: number, format: string): boolean {
  const ref = m.config ?? (m.model !== undefined && BENCH_MODELS[m.model] ? PRESETS[BENCH_MODELS[m.model]] : undefined);
  if (ref === undefined || batch !== 1 || format !== "f32") return false;
  return GEOMETRY.every((k) => cfg[k] === ref[k]);
}

/** Decode GEMVs (group "gemv", what "wkv_b 32768x512, M=1"): how long streaming one weight matrix takes. */
function schemaWeightStreams(json: Json): MeasuredWeightStream[] {
  if (!isObj(json) || !Array.isArray(json.figures)) return [];
  const out: MeasuredWeightStream[] = [];
  for (const f of json.figures) {
    if (!isObj(f) || f.group !== "gemv" || typeof f.what !== "string" || num(f.ms) === undefined || num(f.bytes) === undefined) continue;
    const m = /^(\w+)\s.*\bM\s*=\s*1\b/.exec(f.what);
    if (!m) continue;
    const model = String(f.model ?? "");
    out.push({ name: m[1], heads: HEADS_OF_MODEL.find(([re]) => re.test(model))?.[1], seconds: (f.ms as number) * 1e-3, bytes: f.bytes as number, label: [model, f.what, f.impl, f.isa].filter((x) => typeof x === "string").join(" ") });
  }
  return out;
}

/** Buffers at least this large cannot sit in a last-level cache: reading one after an eviction is a DRAM read. */
export const DRAM_BUFFER_BYTES = 64 * 2 ** 20;

/**
 * The benchmarks' schema records, beside memory-bound figures, the probe's read of the figure's
 * own buffer (bwGBs, L3 evicted first). A run's DRAM ceiling is the fastest of the probe's own
 * streaming reads and those reads of buffers that cannot be cache-resident: a limit is its
 * fastest sample, and on a shared machine one sample at the start of a run can understate it.
 */
export function runDramCeilingGBs(probeGBs: readonly number[], figures: readonly unknown[]): number {
  let best = Math.max(0, ...probeGBs);
  for (const f of figures) if (isObj(f) && (num(f.bytes) ?? 0) >= DRAM_BUFFER_BYTES) best = Math.max(best, num(f.bwGBs) ?? 0);
  return best;
}

function withRunCeiling(json: Json, m: Machine | undefined): Machine | undefined {
  if (!m || !isObj(json) || !Array.isArray(json.figures)) return m;
  const best = runDramCeilingGBs([m.gbps], json.figures);
  if (best <= m.gbps) return m;
  return { ...m, gbps: best, source: `${m.source}; DRAM ${best.toFixed(1)} GB/s: the run's fastest read of a buffer of 64 MiB or more (the probe's own read gave ${m.gbps.toFixed(1)})` };
}

export function parseBenchResults(json: Json): BenchResults {
  const run = isObj(json) && typeof json.date === "string" ? `${typeof json.mode === "string" ? json.mode + " " : ""}run of ${json.date}` : undefined;
  return { run, machine: withRunCeiling(json, findMachine(json)), decode: schemaDecodes(json) ?? findDecodes(json), weightStreams: schemaWeightStreams(json) };
}

/**
 * Used when neither --machine nor a probe result is available: one core of this project's 2-core
 * Zen 3 machine as its notes record it (WASM f32x4 mul+add peak ~31 GFLOP/s, streaming read
 * 13-16 GB/s). Always printed with its source.
 */
export const DEFAULT_MACHINE: Machine = { gflops: 31, gbps: 14, source: "default: one Zen 3 core (31 GFLOP/s WASM SIMD, 14 GB/s streaming read), not this machine; measure yours with `mlakit probe`" };

/** Datasheet figures of an H100/H800 SXM (bf16 dense tensor cores, HBM3), for scale only: not measured here. */
export const DATASHEET_GPU: Machine = { gflops: 989_000, gbps: 3_350, source: "datasheet H100/H800 SXM: 989 TFLOP/s bf16 dense, 3.35 TB/s (not measured)" };
