// The properties checkBackend runs. Each one takes a backend, a drawn case and the tolerance,
// and measures one promise of the layer interface (src/layer.ts) against the float64 oracle or
// against the backend itself. Comparisons between two runs of the backend use twice the
// tolerance: each run may sit `tol` away from the truth, on opposite sides.

import type fc from "fast-check";
import type { Backend, MlaLayerPath } from "../backend.js";
import { MlaError, NonFiniteError, PositionError, ShapeError } from "../errors.js";
import type { AttentionLayer, NamedTensor } from "../layer.js";
import type { WeightFormat } from "../weight-formats.js";
import {
  BAD_CALL_KINDS,
  BAD_WEIGHT_KINDS,
  type BadWeightsCase,
  arbBadWeightsCase,
  type BadCallCase,
  type CallSpec,
  type CaseArbOptions,
  type MlaCase,
  type RollbackCase,
  arbBadCallCase,
  arbMlaCase,
  arbRollbackCase,
  caseInput,
  scheduleEnd,
} from "./arbitraries.js";
import { badCall, badWeights } from "./bad-inputs.js";
import { type Measurement, type Tolerance, PASS, cacheNames, compare, compareSnapshots, guard, oracleLayer, outShape, runCalls, withLayer, worstOf } from "./run-case.js";

export interface PropertyContext {
  backend: Backend;
  tol: Tolerance;
  /** Also compare cache snapshots (official names) with the oracle's. */
  compareCaches: boolean;
  /** The projections' format the backend was given (the oracle computes from their exact values); undefined: the float weights. */
  weightFormat?: WeightFormat;
}

export interface ConformanceProperty<C extends MlaCase = MlaCase> {
  name: string;
  /** One line: what must hold. */
  claim: string;
  arbitrary: (opts: CaseArbOptions) => fc.Arbitrary<C>;
  measure: (ctx: PropertyContext, c: C) => Promise<Measurement>;
}

const twice = (t: Tolerance): Tolerance => ({ atol: 2 * t.atol, rtol: 2 * t.rtol });

/** backend(path) == oracle(path): every call's output, then both cache buffers. */
function matchesOracle(path: MlaLayerPath): ConformanceProperty {
  return {
    name: `oracle/${path}`,
    claim: `every output (and the ${cacheNames(path).join("/")} snapshot) of the ${path} path equals the float64 oracle's`,
    arbitrary: (o) => arbMlaCase(o),
    measure: (ctx, c) =>
      guard(() =>
        withLayer(ctx.backend, c, path, (layer) => {
          const ref = oracleLayer(c, path, ctx.weightFormat);
          const got = runCalls(layer, c);
          const want = runCalls(ref, c);
          const ms = got.map((g, i) => compare(`call ${i} (startPos ${c.calls[i].startPos}) output`, g, want[i], ctx.tol, outShape(c, c.calls[i].seqlen)));
          if (ctx.compareCaches) {
            const end = scheduleEnd(c.calls);
            ms.push(compareSnapshots("cache", layer.cache.snapshot(c.batch, end), ref.cache.snapshot(c.batch, end), cacheNames(path), ctx.tol));
          }
          return worstOf(ms);
        }),
      ),
  };
}

/** absorbed == naive on the backend itself. */
const absorbedEqualsNaive: ConformanceProperty = {
  name: "absorbed==naive",
  claim: "the absorbed path's outputs equal the naive path's on every call",
  arbitrary: (o) => arbMlaCase(o),
  measure: (ctx, c) =>
    guard(async () => {
      const naive = await withLayer(ctx.backend, c, "naive", (l) => runCalls(l, c));
      const absorbed = await withLayer(ctx.backend, c, "absorbed", (l) => runCalls(l, c));
      return worstOf(absorbed.map((a, i) => compare(`call ${i} absorbed vs naive output`, a, naive[i], twice(ctx.tol), outShape(c, c.calls[i].seqlen))));
    }),
};

/** All tokens as one prefill == the same tokens as a prefill of k then further calls. */
function prefillEqualsDecodes(path: MlaLayerPath): ConformanceProperty {
  return {
    name: `prefill==decodes/${path}`,
    claim: `one prefill of n tokens equals a prefill of k < n tokens followed by calls for the rest (${path} path)`,
    arbitrary: (o) => arbMlaCase(o),
    measure: (ctx, c) =>
      guard(async () => {
        const n = scheduleEnd(c.calls);
        const chunks: CallSpec[] = c.calls.length > 1 ? c.calls : [{ startPos: 0, seqlen: n - 1 }, { startPos: n - 1, seqlen: 1 }];
        const D = c.config.dim, B = c.batch;
        // Inputs of the chunked run, and the same tokens laid out [B, n, D] for the single prefill.
        const parts = chunks.map((call, i) => caseInput(c, i, call));
        const whole = new Float32Array(B * n * D);
        chunks.forEach((call, i) => {
          for (let b = 0; b < B; b++) whole.set(parts[i].subarray(b * call.seqlen * D, (b + 1) * call.seqlen * D), (b * n + call.startPos) * D);
        });
        const one = await withLayer(ctx.backend, c, path, (l) => runCalls(l, c, [{ startPos: 0, seqlen: n }], [whole])[0]);
        const split = await withLayer(ctx.backend, c, path, (l) => runCalls(l, c, chunks, parts));
        return worstOf(
          chunks.map((call, i) => {
            const want = new Float64Array(B * call.seqlen * D);
            for (let b = 0; b < B; b++) want.set(one.subarray((b * n + call.startPos) * D, (b * n + call.startPos + call.seqlen) * D), b * call.seqlen * D);
            return compare(`call ${i} (startPos ${call.startPos}) vs the same tokens of one ${n}-token prefill`, split[i], want, twice(ctx.tol), outShape(c, call.seqlen));
          }),
        );
      }),
  };
}

/** Rows of a batch do not see each other: row b of a batched run == a batch-1 run of row b's tokens. */
function batchRowsIndependent(path: MlaLayerPath): ConformanceProperty {
  return {
    name: `batch-rows-independent/${path}`,
    claim: `row b of a batched run equals a batch-1 run of row b alone (${path} path)`,
    arbitrary: (o) => arbMlaCase({ ...o, minBatch: 2 }),
    measure: (ctx, c) =>
      guard(async () => {
        const D = c.config.dim;
        const inputs = c.calls.map((call, i) => caseInput(c, i, call));
        const batched = await withLayer(ctx.backend, c, path, (l) => runCalls(l, c, c.calls, inputs));
        const ms: Measurement[] = [];
        for (let b = 0; b < c.batch; b++) {
          const single = { ...c, batch: 1 };
          const rowInputs = c.calls.map((call, i) => inputs[i].subarray(b * call.seqlen * D, (b + 1) * call.seqlen * D));
          const alone = await withLayer(ctx.backend, single, path, (l) => runCalls(l, single, c.calls, rowInputs));
          c.calls.forEach((call, i) => {
            ms.push(compare(`row ${b} of batch ${c.batch}, call ${i}, vs row alone`, batched[i].subarray(b * call.seqlen * D, (b + 1) * call.seqlen * D), alone[i], twice(ctx.tol), [1, call.seqlen, D]));
          });
        }
        return worstOf(ms);
      }),
  };
}

/** The calls of a schedule truncated to positions < p (the call spanning p is cut at p). */
function prefixCalls(calls: CallSpec[], p: number): { call: CallSpec; index: number; keep: number }[] {
  const out: { call: CallSpec; index: number; keep: number }[] = [];
  calls.forEach((call, index) => {
    const keep = Math.min(call.seqlen, p - call.startPos);
    if (keep > 0) out.push({ call: { startPos: call.startPos, seqlen: keep }, index, keep });
  });
  return out;
}

/** Slice the first `keep` tokens of each row of x [B, s, D]. */
function firstTokens(x: Float32Array, B: number, s: number, D: number, keep: number): Float32Array {
  const out = new Float32Array(B * keep * D);
  for (let b = 0; b < B; b++) out.set(x.subarray(b * s * D, (b * s + keep) * D), b * keep * D);
  return out;
}

/** A call at startPos p < cached length rolls back to p: same output and cache as a fresh layer that only saw positions < p. */
function rollbackEqualsFresh(path: MlaLayerPath): ConformanceProperty<RollbackCase> {
  return {
    name: `rollback==fresh/${path}`,
    claim: `a call at startPos < cached length equals the same call on a layer that only saw the earlier positions (${path} path)`,
    arbitrary: (o) => arbRollbackCase(o),
    measure: (ctx, c) =>
      guard(async () => {
        const p = c.rollbackTo, s = c.rollbackSeqlen, B = c.batch, D = c.config.dim;
        const next: CallSpec = { startPos: p, seqlen: s };
        const nextInput = caseInput(c, 1000, next);
        const rolled = await withLayer(ctx.backend, c, path, (l) => {
          runCalls(l, c);
          const y = runCalls(l, c, [next], [nextInput])[0];
          return { y, snap: l.cache.snapshot(B, p + s), lengths: Array.from({ length: B }, (_, b) => l.cache.length(b)) };
        });
        const fresh = await withLayer(ctx.backend, c, path, (l) => {
          const prefix = prefixCalls(c.calls, p);
          runCalls(l, c, prefix.map((x) => x.call), prefix.map((x) => firstTokens(caseInput(c, x.index), B, c.calls[x.index].seqlen, D, x.keep)));
          const y = runCalls(l, c, [next], [nextInput])[0];
          return { y, snap: l.cache.snapshot(B, p + s) };
        });
        const ms = [compare(`rollback call (startPos ${p} < cached ${scheduleEnd(c.calls)}) output vs fresh layer`, rolled.y, fresh.y, twice(ctx.tol), outShape(c, s))];
        ms.push(compareSnapshots("cache after rollback vs fresh", rolled.snap, fresh.snap, cacheNames(path), twice(ctx.tol)));
        const badLen = rolled.lengths.findIndex((n) => n !== p + s);
        if (badLen >= 0) ms.push({ pass: false, maxAbsErr: Infinity, where: "cache.length", problem: `cache.length(${badLen}) = ${rolled.lengths[badLen]} after the rollback call, expected ${p + s}` });
        return worstOf(ms);
      }),
  };
}

const ERROR_CLASSES = { ShapeError, NonFiniteError, PositionError } as const;

function snapshotAll(layer: AttentionLayer, c: MlaCase): { snap: Record<string, NamedTensor>; lengths: number[]; bytes: number } {
  const rows = c.config.max_batch_size;
  const lengths = Array.from({ length: rows }, (_, b) => layer.cache.length(b));
  return { snap: layer.cache.snapshot(c.batch, scheduleEnd(c.calls)), lengths, bytes: layer.cache.bytesInUse() };
}

/** Bad calls throw the typed error and change nothing: same cache, same lengths, same next output. */
function badInputsRejected(path: MlaLayerPath): ConformanceProperty<BadCallCase> {
  return {
    name: `bad-input-rejected/${path}`,
    claim: `an invalid call throws the typed error (ShapeError, NonFiniteError, PositionError) and leaves the cache and the next output unchanged (${path} path)`,
    arbitrary: (o) => arbBadCallCase(o),
    measure: (ctx, c) =>
      guard(async () => {
        const T = scheduleEnd(c.calls);
        const next: CallSpec = { startPos: T, seqlen: 1 };
        const nextInput = caseInput(c, 900, next);
        const clean = await withLayer(ctx.backend, c, path, (l) => {
          runCalls(l, c);
          return runCalls(l, c, [next], [nextInput])[0];
        });
        return withLayer(ctx.backend, c, path, (l) => {
          runCalls(l, c);
          const before = snapshotAll(l, c);
          const { x, opts } = badCall(c);
          const wantClass = BAD_CALL_KINDS[c.bad];
          let problem: string | undefined;
          try {
            l.forward(x, opts);
            problem = `${c.bad}: forward(${JSON.stringify(opts)}) returned instead of throwing ${wantClass}`;
          } catch (e) {
            const name = (e as Error)?.constructor?.name;
            if (!(e instanceof MlaError) || !(e instanceof ERROR_CLASSES[wantClass])) problem = `${c.bad}: threw ${name ?? typeof e} (${(e as Error)?.message ?? e}), expected mlakit's ${wantClass}`;
          }
          const after = snapshotAll(l, c);
          const ms: Measurement[] = [problem ? { pass: false, maxAbsErr: Infinity, where: "", problem } : PASS];
          const changed = before.lengths.findIndex((n, b) => after.lengths[b] !== n);
          if (changed >= 0) ms.push({ pass: false, maxAbsErr: Infinity, where: "cache.length", problem: `${c.bad}: cache.length(${changed}) went ${before.lengths[changed]} -> ${after.lengths[changed]} in a call that threw` });
          if (after.bytes !== before.bytes) ms.push({ pass: false, maxAbsErr: Infinity, where: "cache.bytesInUse", problem: `${c.bad}: bytesInUse went ${before.bytes} -> ${after.bytes} in a call that threw` });
          ms.push(compareSnapshots(`cache after rejected ${c.bad}`, after.snap, before.snap, cacheNames(path), { atol: 0, rtol: 0 }));
          const y = runCalls(l, c, [next], [nextInput])[0];
          ms.push(compare(`next call after rejected ${c.bad} vs a layer that never saw it`, y, clean, ctx.tol, outShape(c, 1)));
          return worstOf(ms);
        });
      }),
  };
}

/** createMla with malformed weights throws the typed error (synchronously or as a rejected promise). */
function badWeightsRejected(path: MlaLayerPath): ConformanceProperty<BadWeightsCase> {
  return {
    name: `bad-weights-rejected/${path}`,
    claim: `createMla with a short, long, missing, non-array, superfluous or non-finite weight throws ShapeError / NonFiniteError (${path} path)`,
    arbitrary: (o) => arbBadWeightsCase(o),
    measure: async (ctx, c) => {
      const { weights, name } = badWeights(c);
      const want = BAD_WEIGHT_KINDS[c.badWeights];
      let layer: AttentionLayer | undefined;
      try {
        layer = await ctx.backend.createMla(c.config, weights, { path });
      } catch (e) {
        if (e instanceof MlaError && e instanceof ERROR_CLASSES[want]) return PASS;
        return { pass: false, maxAbsErr: Infinity, where: "", problem: `${c.badWeights} ${name}: createMla threw ${(e as Error)?.constructor?.name ?? typeof e} (${(e as Error)?.message ?? e}), expected mlakit's ${want}` };
      }
      layer?.dispose();
      return { pass: false, maxAbsErr: Infinity, where: "", problem: `${c.badWeights} ${name}: createMla accepted the weights, expected mlakit's ${want}` };
    },
  };
}

/** Every property, in the order checkBackend runs them. */
export const PROPERTIES: readonly ConformanceProperty<MlaCase>[] = [
  matchesOracle("naive"),
  matchesOracle("absorbed"),
  absorbedEqualsNaive,
  prefillEqualsDecodes("naive"),
  prefillEqualsDecodes("absorbed"),
  batchRowsIndependent("naive"),
  batchRowsIndependent("absorbed"),
  rollbackEqualsFresh("naive") as unknown as ConformanceProperty<MlaCase>,
  rollbackEqualsFresh("absorbed") as unknown as ConformanceProperty<MlaCase>,
  badInputsRejected("naive") as unknown as ConformanceProperty<MlaCase>,
  badInputsRejected("absorbed") as unknown as ConformanceProperty<MlaCase>,
  badWeightsRejected("naive") as unknown as ConformanceProperty<MlaCase>,
  badWeightsRejected("absorbed") as unknown as ConformanceProperty<MlaCase>,
];

export const PROPERTY_NAMES = PROPERTIES.map((p) => p.name);
