// mla-vectors/1 cases whose weights live in a safetensors file beside the JSON ("weights_file",
// an mlakit extension): the JSON lists the state_dict names in "weights" as usual, and the
// tensors come from the file instead of the JSON's "tensors". Browser-safe: the caller opens it.

import { FormatError } from "../errors.js";
import { type MlaWeights, mlaWeightsFromStateDict } from "../weights.js";
import type { TensorStore } from "./mla-safetensors.js";
import { type VectorCase, checkShape, parseCaseBody, parseVectorCase, stateDictShapes } from "./mla-vectors.js";

/** The weights_file a case JSON names, or undefined when its weights are inline. */
export function externalWeightsFile(json: unknown, source = "case"): string | undefined {
  if (typeof json !== "object" || json === null || !Object.prototype.hasOwnProperty.call(json, "weights_file")) return undefined;
  const f = (json as Record<string, unknown>).weights_file;
  if (typeof f !== "string" || f.length === 0) throw new FormatError(`${source}.weights_file`, typeof f === "object" && f !== null ? "a non-string" : f, "the path of a .safetensors file (relative to the case JSON)");
  return f;
}

/**
 * Parse a case; when it names a weights_file, read each listed weight from `store` (only those
 * tensors), each checked against its official shape before it is read.
 */
export async function parseVectorCaseExternal(json: unknown, source: string, store?: TensorStore): Promise<VectorCase> {
  const file = externalWeightsFile(json, source);
  if (file === undefined) return parseVectorCase(json, source);
  if (!store) throw new FormatError(`${source}.weights_file`, file, "an opened safetensors file (none was given)");
  const body = parseCaseBody(json, source);
  const shapes = stateDictShapes(body.case.config);
  const sd: Record<string, Float32Array | Float64Array> = {};
  for (const n of body.weightNames) {
    const info = store.tensors.get(n);
    if (info === undefined) throw new FormatError(`${file}: tensor`, n, `present (the case ${source} lists it in "weights")`);
    checkShape(info.shape, shapes.get(n)!, `${file}: ${n}.shape`, `${n} of this config, [out, in]`);
    sd[n] = await store.read(n);
  }
  return { ...body.case, weights: mlaWeightsFromStateDict(sd) as MlaWeights };
}
