// fast-check arbitraries for MLA: configs, weights, inputs, call schedules (positions), rollbacks,
// bad calls and cache-format names. Small sizes on purpose: the oracle is float64 JS, and the
// bugs worth finding (layouts, masks, YaRN, positions, batching) show up at dim 3 as well as 7168.
// Everything is seed-driven so a shrunk counterexample is a few integers a person can read.

import fc from "fast-check";
import { STORAGE_FORMATS, type StorageFormat } from "../cache/layout.js";
import { type MlaConfig, type RopeConvention, type RopeLayout, validateConfig } from "../config.js";
import { type MlaWeights, Rng, randomMlaWeights } from "../weights.js";

export interface ConfigArbOptions {
  /** Largest model dimension D (default 24). */
  maxDim?: number;
  /** Largest head count H (default 4). */
  maxHeads?: number;
  /** Largest q_lora_rank / kv_lora_rank (default 12). */
  maxRank?: number;
  /** Largest qk_nope_head_dim / v_head_dim, and qk_rope_head_dim rounded down to even (default 8). */
  maxHeadDim?: number;
  /** Largest batch (default 3). */
  maxBatch?: number;
  /** Which RoPE layouts to draw (default both). */
  ropeLayouts?: readonly RopeLayout[];
  /** YaRN on, off, or either (default either). */
  yarn?: "on" | "off" | "either";
  /** Smallest max_seq_len (default MAX_CASE_TOKENS + 8); raise it for schedules longer than this module's. */
  minSeqLen?: number;
  /** Which conventions to draw (default both): "transformers" adds a cos/sin factor, an untruncated YaRN range and an explicit switch. */
  conventions?: readonly RopeConvention[];
}

/** Every schedule drawn here fits in this many tokens, so every config allows at least this many. */
export const MAX_CASE_TOKENS = 16;

/**
 * Valid MLA configs: odd sizes, one head, q_lora_rank 0 or not, YaRN on (max_seq_len >
 * original_seq_len, factor and mscale drawn) or off, both RoPE layouts. max_seq_len is always
 * >= MAX_CASE_TOKENS + 8 so every schedule (and rollback) of this module fits.
 */
export function arbMlaConfig(opts: ConfigArbOptions = {}): fc.Arbitrary<MlaConfig> {
  const maxDim = opts.maxDim ?? 24, maxHeads = opts.maxHeads ?? 4, maxRank = opts.maxRank ?? 12, maxHead = opts.maxHeadDim ?? 8;
  const layouts = opts.ropeLayouts ?? (["interleaved", "half"] as const);
  const yarn = opts.yarn === "on" ? fc.constant(true) : opts.yarn === "off" ? fc.constant(false) : fc.boolean();
  return fc
    .record({
      dim: fc.integer({ min: 1, max: maxDim }),
      n_heads: fc.integer({ min: 1, max: maxHeads }),
      q_lora_rank: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: maxRank })),
      kv_lora_rank: fc.integer({ min: 1, max: maxRank }),
      qk_nope_head_dim: fc.integer({ min: 1, max: maxHead }),
      ropePairs: fc.integer({ min: 1, max: Math.max(1, Math.floor(maxHead / 2)) }),
      v_head_dim: fc.integer({ min: 1, max: maxHead }),
      max_batch_size: fc.integer({ min: 1, max: opts.maxBatch ?? 3 }),
      rope_layout: fc.constantFrom(...layouts),
      rope_theta: fc.constantFrom(10000, 500, 50000),
      yarn,
      // YaRN parameters (ignored when off): L0 small so positions near and past it are exercised.
      original_seq_len: fc.integer({ min: 4, max: 32 }),
      extra: fc.integer({ min: Math.max(MAX_CASE_TOKENS + 8, opts.minSeqLen ?? 0), max: Math.max(MAX_CASE_TOKENS + 8, opts.minSeqLen ?? 0) + 40 }),
      rope_factor: fc.constantFrom(40, 4, 32, 1.5),
      mscale: fc.constantFrom(1, 0.707),
      betas: fc.constantFrom<[number, number]>([32, 1], [1, 1], [16, 2]),
      // transformers' rules: YaRN on whenever rope_scaling says so (also with max_seq_len <= L0),
      // cos/sin times attention_factor, the correction range truncated or not, mscale_all_dim or none
      convention: fc.constantFrom(...(opts.conventions ?? (["official", "transformers"] as const))),
      attentionFactor: fc.constantFrom(1, 0.8, 1.37),
      truncate: fc.boolean(),
      hfMscale: fc.constantFrom(0, 1, 0.707),
    })
    .map((r) => {
      const hf = r.convention === "transformers";
      return validateConfig({
        dim: r.dim,
        n_heads: r.n_heads,
        q_lora_rank: r.q_lora_rank,
        kv_lora_rank: r.kv_lora_rank,
        qk_nope_head_dim: r.qk_nope_head_dim,
        qk_rope_head_dim: 2 * r.ropePairs,
        v_head_dim: r.v_head_dim,
        max_seq_len: r.yarn || hf ? r.original_seq_len + r.extra : r.extra,
        max_batch_size: r.max_batch_size,
        original_seq_len: hf ? r.original_seq_len + r.extra + (r.truncate ? 0 : 8) : r.yarn ? r.original_seq_len : 4096,
        rope_theta: r.rope_theta,
        rope_factor: r.rope_factor,
        beta_fast: r.betas[0],
        beta_slow: r.betas[1],
        mscale: hf ? r.hfMscale : r.mscale,
        convention: r.convention,
        yarn: hf ? r.yarn : null,
        rope_attention_factor: hf ? r.attentionFactor : 1,
        yarn_truncate: hf ? r.truncate : true,
        rope_layout: r.rope_layout,
        n_layers: 1,
      });
    });
}

/** Weights for a config from a seed (the official vectors' recipe: N(0, 1/in), norms U(0.6, 1.4), float32). */
export function weightsFromSeed(config: MlaConfig, seed: number): MlaWeights {
  return randomMlaWeights(config, new Rng(seed));
}

/** Weights for a config; shrinks toward seed 0. */
export function arbMlaWeights(config: MlaConfig): fc.Arbitrary<MlaWeights> {
  return fc.nat({ max: 0x7fffffff }).map((seed) => weightsFromSeed(config, seed));
}

/** Inputs [batch, seqlen, dim] ~ N(0, 1) in float32 from a seed. */
export function inputFromSeed(batch: number, seqlen: number, dim: number, seed: number): Float32Array {
  return new Rng(seed).normalArray(batch * seqlen * dim);
}

/** Inputs [batch, seqlen, dim]; shrinks toward seed 0. */
export function arbInput(batch: number, seqlen: number, dim: number): fc.Arbitrary<Float32Array> {
  return fc.nat({ max: 0x7fffffff }).map((seed) => inputFromSeed(batch, seqlen, dim, seed));
}

/** One forward call's position arguments. */
export interface CallSpec {
  startPos: number;
  seqlen: number;
}

/**
 * A contiguous schedule from position 0: a prefill of 1..6 tokens, then 0..3 calls of 1..3
 * tokens each (so startPos > 0 and multi-token calls past 0 occur), at least 2 keys in total,
 * at most MAX_CASE_TOKENS tokens. Shrinks toward [prefill 1, decode 1].
 */
export function arbCallSchedule(): fc.Arbitrary<CallSpec[]> {
  return fc
    .record({ prefill: fc.integer({ min: 1, max: 6 }), rest: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 3 }) })
    .map(({ prefill, rest }) => {
      const lens = [prefill, ...rest];
      if (prefill + rest.reduce((a, b) => a + b, 0) < 2) lens.push(1);
      let pos = 0;
      return lens.map((seqlen) => {
        const c = { startPos: pos, seqlen };
        pos += seqlen;
        return c;
      });
    });
}

/** Tokens a schedule leaves cached. */
export function scheduleEnd(calls: readonly CallSpec[]): number {
  const last = calls[calls.length - 1];
  return last.startPos + last.seqlen;
}

/** A complete test case: everything a property needs, as a few readable numbers. */
export interface MlaCase {
  config: MlaConfig;
  /** Batch rows used (<= config.max_batch_size). */
  batch: number;
  calls: CallSpec[];
  /** Seeds the weights (seed) and the inputs (seed + 1 + call index). */
  seed: number;
}

export interface CaseArbOptions extends ConfigArbOptions {
  /** Smallest batch (default 1); >= 2 for the batch-independence property. */
  minBatch?: number;
}

/** A config, a batch <= max_batch_size, a schedule and a seed. */
export function arbMlaCase(opts: CaseArbOptions = {}): fc.Arbitrary<MlaCase> {
  const minBatch = opts.minBatch ?? 1;
  const maxBatch = Math.max(opts.maxBatch ?? 3, minBatch);
  return fc
    .record({
      config: arbMlaConfig({ ...opts, maxBatch }),
      batchPick: fc.nat({ max: maxBatch }),
      calls: arbCallSchedule(),
      seed: fc.nat({ max: 0xffff }),
    })
    .map(({ config, batchPick, calls, seed }) => {
      const maxB = Math.max(config.max_batch_size, minBatch);
      const cfg = maxB === config.max_batch_size ? config : { ...config, max_batch_size: maxB };
      const batch = minBatch + (batchPick % (maxB - minBatch + 1));
      return { config: cfg, batch, calls, seed };
    });
}

/** The weights of a case. */
export function caseWeights(c: MlaCase): MlaWeights {
  return weightsFromSeed(c.config, c.seed);
}

/** The input of call i of a case, [batch, seqlen, dim]. */
export function caseInput(c: MlaCase, i: number, call: CallSpec = c.calls[i]): Float32Array {
  return inputFromSeed(c.batch, call.seqlen, c.config.dim, (c.seed + 1 + i * 7919) >>> 0);
}

/** A case whose cache is then rolled back: a call at startPos `rollbackTo` < cached length. */
export interface RollbackCase extends MlaCase {
  rollbackTo: number;
  rollbackSeqlen: number;
}

export function arbRollbackCase(opts: CaseArbOptions = {}): fc.Arbitrary<RollbackCase> {
  return fc.record({ base: arbMlaCase(opts), at: fc.nat(), seqlen: fc.integer({ min: 1, max: 3 }) }).map(({ base, at, seqlen }) => {
    const end = scheduleEnd(base.calls);
    return { ...base, rollbackTo: at % end, rollbackSeqlen: seqlen };
  });
}

/** Kinds of invalid forward calls and the typed error each must raise. */
export const BAD_CALL_KINDS = {
  "x-too-short": "ShapeError",
  "x-too-long": "ShapeError",
  "x-nan": "NonFiniteError",
  "x-inf": "NonFiniteError",
  "x-nan-in-rollback": "NonFiniteError",
  "startPos-gap": "PositionError",
  "startPos-negative": "PositionError",
  "startPos-fraction": "PositionError",
  "past-max-seq-len": "PositionError",
  "batch-zero": "PositionError",
  "batch-over-max": "PositionError",
  "seqlen-zero": "PositionError",
} as const;
export type BadCallKind = keyof typeof BAD_CALL_KINDS;

/** A case followed by one invalid call (kind) and then one valid decode. */
export interface BadCallCase extends MlaCase {
  bad: BadCallKind;
  /** Picks the poisoned element / rollback position. */
  where: number;
}

export function arbBadCallCase(opts: CaseArbOptions = {}): fc.Arbitrary<BadCallCase> {
  return fc
    .record({ base: arbMlaCase(opts), bad: fc.constantFrom(...(Object.keys(BAD_CALL_KINDS) as BadCallKind[])), where: fc.nat() })
    .map(({ base, bad, where }) => ({ ...base, bad, where }));
}

/** Kinds of malformed weights and the typed error createMla must raise. */
export const BAD_WEIGHT_KINDS = {
  "too-short": "ShapeError",
  "too-long": "ShapeError",
  missing: "ShapeError",
  "not-an-array": "ShapeError",
  "other-branch-extra": "ShapeError",
  nan: "NonFiniteError",
  infinity: "NonFiniteError",
} as const;
export type BadWeightKind = keyof typeof BAD_WEIGHT_KINDS;

/** A case whose weights are malformed in one way (kind), in one weight (which), at one element (where). */
export interface BadWeightsCase extends MlaCase {
  badWeights: BadWeightKind;
  which: number;
  where: number;
}

export function arbBadWeightsCase(opts: CaseArbOptions = {}): fc.Arbitrary<BadWeightsCase> {
  return fc
    .record({ base: arbMlaCase(opts), kind: fc.constantFrom(...(Object.keys(BAD_WEIGHT_KINDS) as BadWeightKind[])), which: fc.nat(), where: fc.nat() })
    .map(({ base, kind, which, where }) => ({ ...base, badWeights: kind, which, where }));
}

/** Names of the latent cache's storage formats (src/cache/layout.ts). */
export function arbCacheFormat(): fc.Arbitrary<StorageFormat> {
  return fc.constantFrom(...STORAGE_FORMATS);
}
