// The bad inputs of the `bad-input-rejected` and `bad-weights-rejected` properties
// (properties.ts): each drawn BadCallCase / BadWeightsCase (arbitraries.ts) becomes one concrete
// invalid call or spoiled set of weights. Kept apart from the properties, which only judge how a
// backend reacts to them; mlakit/conformance exports both builders.

import { type MlaWeights, mlaWeightShapes } from "../weights.js";
import { type BadCallCase, type BadWeightsCase, caseInput, caseWeights, scheduleEnd } from "./arbitraries.js";

/** The invalid call of a BadCallCase: its options and input. */
export function badCall(c: BadCallCase): { x: ArrayLike<number>; opts: { batch: number; seqlen: number; startPos: number } } {
  const T = scheduleEnd(c.calls), B = c.batch, D = c.config.dim;
  const ok = (seqlen: number, startPos = T, batch = B) => ({ x: caseInput({ ...c, batch }, 500, { startPos, seqlen }), opts: { batch, seqlen, startPos } });
  switch (c.bad) {
    case "x-too-short": {
      const v = ok(1);
      return { x: v.x.subarray(0, v.x.length - 1), opts: v.opts };
    }
    case "x-too-long": {
      const v = ok(1);
      const x = new Float32Array(v.x.length + 1);
      x.set(v.x);
      return { x, opts: v.opts };
    }
    case "x-nan":
    case "x-inf": {
      const v = ok(2);
      (v.x as Float32Array)[c.where % v.x.length] = c.bad === "x-nan" ? NaN : -Infinity;
      return v;
    }
    case "x-nan-in-rollback": {
      const v = ok(1, c.where % T); // a rollback that must not happen
      (v.x as Float32Array)[c.where % (B * D)] = NaN;
      return v;
    }
    case "startPos-gap":
      return ok(1, T + 1);
    case "startPos-negative":
      return ok(1, -1);
    case "startPos-fraction": {
      const v = ok(1);
      return { x: v.x, opts: { ...v.opts, startPos: T - 0.5 } };
    }
    case "past-max-seq-len":
      return ok(c.config.max_seq_len - T + 1);
    case "batch-zero":
      return { x: new Float32Array(0), opts: { batch: 0, seqlen: 1, startPos: T } };
    case "batch-over-max":
      return ok(1, T, c.config.max_batch_size + 1);
    case "seqlen-zero":
      return { x: new Float32Array(0), opts: { batch: B, seqlen: 0, startPos: T } };
  }
}

/** The malformed weights of a BadWeightsCase, and the name of the weight it spoils. */
export function badWeights(c: BadWeightsCase): { weights: MlaWeights; name: string } {
  const w = { ...caseWeights(c) } as unknown as Record<string, unknown>;
  const names = Object.keys(mlaWeightShapes(c.config));
  const name = names[c.which % names.length];
  const arr = w[name] as Float32Array;
  switch (c.badWeights) {
    case "too-short":
      w[name] = arr.subarray(0, arr.length - 1);
      break;
    case "too-long": {
      const longer = new Float32Array(arr.length + 1);
      longer.set(arr);
      w[name] = longer;
      break;
    }
    case "missing":
      delete w[name];
      break;
    case "not-an-array":
      w[name] = 0.5;
      break;
    case "other-branch-extra": {
      // A weight of the other query branch: wq when q_lora_rank > 0, wq_a when it is 0.
      const extra = c.config.q_lora_rank > 0 ? "wq" : "wq_a";
      w[extra] = new Float32Array(4);
      return { weights: w as unknown as MlaWeights, name: extra };
    }
    case "nan":
    case "infinity": {
      const copy = Float32Array.from(arr);
      copy[c.where % copy.length] = c.badWeights === "nan" ? NaN : Infinity;
      w[name] = copy;
      break;
    }
  }
  return { weights: w as unknown as MlaWeights, name };
}
