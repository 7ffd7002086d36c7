// Reader for `hf-deepseek-vectors/1` (vectors/hf-deepseek/NAME/case.json beside the Hugging Face
// config.json and model.safetensors it names; README there): the inputs and outputs of
// transformers' own DeepSeek attention. The case holds no mlakit config and no weights: a backend
// is checked through the public Hugging Face path (importHfConfig, then loadMlaWeights on the
// safetensors file), so the import itself is under test. A case whose config transformers refuses
// records the error instead of calls; mlakit must refuse it too.

import { FormatError } from "../errors.js";
import { jsonObject as obj } from "./json-fields.js";
import type { NamedTensor } from "../layer.js";

export const HF_VECTORS_FORMAT = "hf-deepseek-vectors/1";

export interface HfVectorCall {
  startPos: number;
  seqlen: number;
  /** [B, s, hidden] */
  input: NamedTensor;
  /** [B, s, hidden]: the attention module's output (o_proj applied). */
  output: NamedTensor;
}

export interface HfVectorCase {
  name: string;
  description: string;
  /** File names relative to the case's directory. */
  configFile: string;
  weightsFile: string | undefined;
  batch: number;
  calls: HfVectorCall[];
  /** transformers refused the config with this error: there are no calls. */
  transformersError: string | undefined;
  /** Everything else (provenance, derived), untouched. */
  meta: Record<string, unknown>;
}

function fileName(v: unknown, field: string): string {
  if (typeof v !== "string" || v === "" || v.includes("/") || v.includes("\\") || v.startsWith(".")) throw new FormatError(field, v, "a file name beside case.json (no directories)");
  return v;
}

function tensor(v: unknown, field: string, shape: number[]): NamedTensor {
  const t = obj(v, field);
  if (t.dtype !== "float32") throw new FormatError(`${field}.dtype`, t.dtype, '"float32"');
  if (!Array.isArray(t.shape) || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) throw new FormatError(`${field}.shape`, t.shape, `[${shape.join(", ")}]`);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = t.data;
  if (!Array.isArray(data) || data.length !== n) throw new FormatError(`${field}.data.length`, Array.isArray(data) ? data.length : data, `${n} = prod(shape)`);
  for (let i = 0; i < n; i++) if (typeof data[i] !== "number" || !Number.isFinite(data[i])) throw new FormatError(`${field}.data[${i}]`, data[i], "a finite number");
  return { shape: [...shape], data: Float32Array.from(data as number[]) };
}

/** Parse case.json (already decoded); `hidden` is the config's hidden_size, for the tensor shapes. */
export function parseHfVectorCase(json: unknown, hidden: number, source = "case.json"): HfVectorCase {
  const root = obj(json, source);
  if (root.format !== HF_VECTORS_FORMAT) throw new FormatError(`${source}.format`, root.format, `"${HF_VECTORS_FORMAT}"`);
  const name = typeof root.name === "string" ? root.name : source;
  const configFile = fileName(root.config_file, `${source}.config_file`);
  const transformersError = typeof root.transformers_error === "string" ? root.transformers_error : undefined;
  const callsRaw = root.calls;
  if (!Array.isArray(callsRaw)) throw new FormatError(`${source}.calls`, callsRaw, "an array of calls");
  if ((transformersError === undefined) === (callsRaw.length === 0)) throw new FormatError(`${source}.calls`, callsRaw.length, transformersError ? "no calls (transformers refused the config)" : "at least one call");
  const batch = transformersError ? 0 : root.batch_size;
  if (!transformersError && !(Number.isInteger(batch) && (batch as number) >= 1)) throw new FormatError(`${source}.batch_size`, batch, "a positive integer");
  let end = 0;
  const calls = callsRaw.map((c, i): HfVectorCall => {
    const co = obj(c, `${source}.calls[${i}]`);
    const startPos = co.startPos, seqlen = co.seqlen;
    if (!(Number.isInteger(startPos) && (startPos as number) >= 0 && (startPos as number) <= end)) throw new FormatError(`${source}.calls[${i}].startPos`, startPos, `an integer in 0..${end} (the tokens cached before it)`);
    if (!(Number.isInteger(seqlen) && (seqlen as number) >= 1)) throw new FormatError(`${source}.calls[${i}].seqlen`, seqlen, "a positive integer");
    end = (startPos as number) + (seqlen as number);
    const shape = [batch as number, seqlen as number, hidden];
    return { startPos: startPos as number, seqlen: seqlen as number, input: tensor(co.input, `${source}.calls[${i}].input`, shape), output: tensor(co.output, `${source}.calls[${i}].output`, shape) };
  });
  const weightsFile = transformersError ? undefined : fileName(root.weights_file, `${source}.weights_file`);
  const meta: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(root)) if (k !== "calls") meta[k] = v;
  return { name, description: typeof root.description === "string" ? root.description : "", configFile, weightsFile, batch: batch as number, calls, transformersError, meta };
}
