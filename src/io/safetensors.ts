// safetensors read and write, browser-safe. Format (huggingface/safetensors README): 8 bytes
// little-endian u64 N, then N bytes of UTF-8 JSON {name: {dtype, shape, data_offsets: [begin,
// end]}, "__metadata__": {string: string}}, then the data section; offsets are relative to it.
// Reading is lazy: the header first, then only the byte ranges of the tensors asked for, through
// a ByteSource (a Uint8Array, a Blob, or a file handle in src/io/safetensors-file.ts).
// Every malformed input becomes a FormatError; nothing is allocated before its size is checked.

import { FormatError } from "../errors.js";

/** Bytes per element of every dtype the format defines (we decode the float ones). */
export const DTYPE_BYTES = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
} as const;
export type SafetensorsDtype = keyof typeof DTYPE_BYTES;

/** Dtypes this module decodes to numbers and can write. */
export const FLOAT_DTYPES = ["F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"] as const;
export type FloatDtype = (typeof FLOAT_DTYPES)[number];
/** Dtypes writeSafetensors encodes (round to nearest even). */
export const WRITABLE_DTYPES = ["F32", "F16", "BF16", "F8_E4M3"] as const;
export type WritableDtype = (typeof WRITABLE_DTYPES)[number];

/** The reference implementation's cap (safetensors MAX_HEADER_SIZE): larger headers are refused before any read. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range in the data section (relative to dataStart). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
  /** File offset of the data section: 8 + header length. */
  dataStart: number;
  fileSize: number;
}

/** Random access to bytes: whole files are never needed. */
export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes at `offset` (callers check bounds against size first). */
  read(offset: number, length: number): Promise<Uint8Array>;
}

export function bytesSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: async (offset, length) => bytes.subarray(offset, offset + length) };
}

/** A browser File/Blob: slices are read on demand. */
export function blobSource(blob: Blob): ByteSource {
  return { size: blob.size, read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()) };
}

// ---------------------------------------------------------------------------------------------
// Header

const fail = (source: string, field: string, value: unknown, expected: string, detail?: string): never => {
  throw new FormatError(`${source}: ${field}`, brief(value), expected, detail);
};

/**
 * Untrusted JSON in error messages, summarised without recursion: a deeply nested array from a
 * hostile header would overflow the stack in JSON.stringify or String().
 */
function brief(v: unknown): unknown {
  if (Array.isArray(v)) return v.length <= 4 && v.every((x) => typeof x === "number" || typeof x === "string") ? v : `an array of length ${v.length}`;
  if (typeof v === "object" && v !== null) return `an object with keys ${Object.keys(v).slice(0, 4).join(", ")}${Object.keys(v).length > 4 ? ", ..." : ""}`;
  return v;
}

/** The header length N from the first 8 bytes, checked against the cap and the file size. */
export function headerLength(first8: Uint8Array, fileSize: number, source = "safetensors"): number {
  if (fileSize < 8 || first8.length < 8) fail(source, "file size", fileSize, ">= 8 bytes (the u64 header length)");
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(source, "header length", n.toString(), `<= ${MAX_HEADER_BYTES} bytes (the format's cap)`);
  const len = Number(n);
  if (len < 2) fail(source, "header length", len, ">= 2 bytes (a JSON object)");
  if (8 + len > fileSize) fail(source, "header length", len, `<= ${fileSize - 8} (the bytes after the length field; file truncated?)`);
  return len;
}

/** Parse and check the JSON header: dtypes, shapes, offsets in range, sizes matching, no overlaps. */
export function parseHeader(json: Uint8Array, fileSize: number, source = "safetensors"): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(json);
  } catch {
    return fail(source, "header", `${json.length} bytes`, "UTF-8 text");
  }
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (e) {
    return fail(source, "header", text.slice(0, 40), "a JSON object", (e as Error).message);
  }
  if (typeof root !== "object" || root === null || Array.isArray(root)) return fail(source, "header", root, "a JSON object {name: {dtype, shape, data_offsets}}");
  const dataStart = 8 + json.length;
  const dataSize = fileSize - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(root as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) fail(source, "__metadata__", entry, "an object of strings");
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) if (typeof v !== "string") fail(source, `__metadata__.${k}`, v, "a string");
      metadata = entry as Record<string, string>;
      continue;
    }
    tensors.set(name, parseEntry(name, entry, dataSize, source));
  }
  // No two tensors may share bytes (zero-length ones excepted).
  const sorted = [...tensors.values()].filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      fail(source, `${sorted[i].name}.data_offsets`, [sorted[i].begin, sorted[i].end], `not overlapping "${sorted[i - 1].name}" [${sorted[i - 1].begin}, ${sorted[i - 1].end}]`);
    }
  }
  return { tensors, metadata, dataStart, fileSize };
}

function parseEntry(name: string, entry: unknown, dataSize: number, source: string): TensorInfo {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return fail(source, name, entry, "an object {dtype, shape, data_offsets}");
  const e = entry as Record<string, unknown>;
  if (typeof e.dtype !== "string" || !Object.hasOwn(DTYPE_BYTES, e.dtype)) fail(source, `${name}.dtype`, e.dtype, `one of ${Object.keys(DTYPE_BYTES).join(", ")}`);
  const dtype = e.dtype as SafetensorsDtype;
  const shape = e.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(source, `${name}.shape`, shape, "an array of non-negative integers");
  let numel = 1;
  for (const d of shape as number[]) {
    numel *= d;
    if (!Number.isSafeInteger(numel)) fail(source, `${name}.shape`, shape, "a shape whose element count is a safe integer");
  }
  const off = e.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(source, `${name}.data_offsets`, off, "[begin, end], two non-negative integers");
  const [begin, end] = off as [number, number];
  if (begin > end) fail(source, `${name}.data_offsets`, off, "begin <= end");
  if (end > dataSize) fail(source, `${name}.data_offsets`, off, `end <= ${dataSize} (the data section's size; file truncated?)`);
  const want = numel * DTYPE_BYTES[dtype];
  if (end - begin !== want) fail(source, `${name}.data_offsets`, off, `a range of ${want} bytes = ${numel} elements x ${DTYPE_BYTES[dtype]} (${dtype}, shape [${(shape as number[]).join(", ")}])`);
  return { name, dtype, shape: shape as number[], begin, end };
}

/** Read and check the header through a ByteSource: two small reads, sizes checked before each. */
export async function readHeader(src: ByteSource, source = "safetensors"): Promise<SafetensorsHeader> {
  if (!Number.isSafeInteger(src.size) || src.size < 8) fail(source, "file size", src.size, ">= 8 bytes (the u64 header length)");
  const len = headerLength(await exact(src, 0, 8, source), src.size, source);
  return parseHeader(await exact(src, 8, len, source), src.size, source);
}

async function exact(src: ByteSource, offset: number, length: number, source: string): Promise<Uint8Array> {
  const b = await src.read(offset, length);
  if (b.length !== length) fail(source, `bytes at ${offset}`, b.length, `${length} bytes (the file changed or ended early)`);
  return b;
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** f16 bits -> number (IEEE binary16: 1 sign, 5 exponent bits (bias 15), 10 mantissa bits). */
export function f16ToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** bf16 bits -> number: the upper half of a float32. */
export function bf16ToNumber(h: number): number {
  F32_SCRATCH_U32[0] = (h & 0xffff) << 16;
  return F32_SCRATCH[0];
}
const F32_SCRATCH = new Float32Array(1);
const F32_SCRATCH_U32 = new Uint32Array(F32_SCRATCH.buffer);

/** OCP FP8 E4M3 (the "FN" variant torch calls float8_e4m3fn): bias 7, no infinities, S.1111.111 is NaN, max 448. */
export function e4m3ToNumber(b: number): number {
  const s = b & 0x80 ? -1 : 1, e = (b >> 3) & 0xf, m = b & 7;
  if (e === 15 && m === 7) return NaN;
  if (e === 0) return s * m * 2 ** -9;
  return s * (1 + m / 8) * 2 ** (e - 7);
}

/** OCP FP8 E5M2: the upper byte of an f16. */
export function e5m2ToNumber(b: number): number {
  return f16ToNumber((b & 0xff) << 8);
}

/** Decode a tensor's bytes (little-endian) to numbers: F64 -> Float64Array, other float dtypes -> Float32Array (exact). */
export function decodeTensor(dtype: SafetensorsDtype, bytes: Uint8Array, name = "tensor"): Float32Array | Float64Array {
  const n = bytes.length / DTYPE_BYTES[dtype];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case "F64": {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      return out;
    }
    case "F32": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    }
    case "F16":
    case "BF16": {
      const f = dtype === "F16" ? f16ToNumber : bf16ToNumber;
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = f(dv.getUint16(2 * i, true));
      return out;
    }
    case "F8_E4M3":
    case "F8_E5M2": {
      const f = dtype === "F8_E4M3" ? e4m3ToNumber : e5m2ToNumber;
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = f(bytes[i]);
      return out;
    }
    default:
      throw new FormatError(`${name}.dtype`, dtype, `a float dtype (${FLOAT_DTYPES.join(", ")}) for weights`);
  }
}

/** Read one tensor's bytes (only its range) and decode it. */
export async function readTensorData(src: ByteSource, header: SafetensorsHeader, name: string, source = "safetensors"): Promise<Float32Array | Float64Array> {
  const t = header.tensors.get(name);
  if (!t) return fail(source, "tensor", name, `one of the ${header.tensors.size} tensors in the file`);
  return decodeTensor(t.dtype, await exact(src, header.dataStart + t.begin, t.end - t.begin, source), name);
}

/** A tensor's bytes as stored (little-endian elements of its dtype), checked like readTensorData. */
export async function readTensorBytes(src: ByteSource, header: SafetensorsHeader, name: string, source = "safetensors"): Promise<Uint8Array> {
  const t = header.tensors.get(name);
  if (!t) return fail(source, "tensor", name, `one of the ${header.tensors.size} tensors in the file`);
  return exact(src, header.dataStart + t.begin, t.end - t.begin, source);
}

// ---------------------------------------------------------------------------------------------
// Encoding (round to nearest, ties to even)

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Exponent e with 2^e <= a < 2^(e+1), for finite a > 0. */
function exponentOf(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  return e;
}

/**
 * A small binary float (mantissa bits mBits, exponent bias, smallest normal exponent 1-bias):
 * sign, biased exponent and mantissa of the nearest value, or null when it overflows maxExp.
 */
function encodeMinifloat(x: number, mBits: number, bias: number, maxBiasedExp: number, maxTopMant: number): { s: number; e: number; m: number } | null {
  const s = x < 0 || Object.is(x, -0) ? 1 : 0;
  const a = Math.abs(x);
  const minNormalExp = 1 - bias;
  if (a < 2 ** minNormalExp) {
    const m = roundHalfEven(a / 2 ** (minNormalExp - mBits)); // subnormal; m == 2^mBits is the smallest normal
    return m === 1 << mBits ? { s, e: 1, m: 0 } : { s, e: 0, m };
  }
  let e = exponentOf(a);
  let m = roundHalfEven((a / 2 ** e - 1) * (1 << mBits));
  if (m === 1 << mBits) {
    m = 0;
    e++;
  }
  const be = e + bias;
  if (be > maxBiasedExp || (be === maxBiasedExp && m > maxTopMant)) return null;
  return { s, e: be, m };
}

export function numberToF16(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const r = Number.isFinite(x) ? encodeMinifloat(x, 10, 15, 30, 1023) : null;
  if (!r) return (x < 0 ? 0x8000 : 0) | 0x7c00; // overflow rounds to infinity, as IEEE does
  return (r.s << 15) | (r.e << 10) | r.m;
}

export function numberToBf16(x: number): number {
  F32_SCRATCH[0] = x;
  const bits = F32_SCRATCH_U32[0];
  if (Number.isNaN(F32_SCRATCH[0])) return 0x7fc0;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** E4M3 has no infinity: magnitudes that round above 448 are refused rather than turned into NaN. */
export function numberToE4m3(x: number, field = "value"): number {
  if (Number.isNaN(x)) return 0x7f;
  const r = Number.isFinite(x) ? encodeMinifloat(x, 3, 7, 15, 6) : null;
  if (!r) throw new FormatError(field, x, "a magnitude <= 448 (F8_E4M3 has no infinity)");
  return (r.s << 7) | (r.e << 3) | r.m;
}

export function encodeTensor(dtype: WritableDtype, values: ArrayLike<number>, name = "tensor"): Uint8Array {
  const n = values.length;
  const out = new Uint8Array(n * DTYPE_BYTES[dtype]);
  const dv = new DataView(out.buffer);
  switch (dtype) {
    case "F32":
      for (let i = 0; i < n; i++) dv.setFloat32(4 * i, values[i], true);
      break;
    case "F16":
      for (let i = 0; i < n; i++) dv.setUint16(2 * i, numberToF16(values[i]), true);
      break;
    case "BF16":
      for (let i = 0; i < n; i++) dv.setUint16(2 * i, numberToBf16(values[i]), true);
      break;
    case "F8_E4M3":
      for (let i = 0; i < n; i++) out[i] = numberToE4m3(values[i], `${name}[${i}]`);
      break;
    default:
      throw new FormatError(`${name}.dtype`, dtype, `one of ${WRITABLE_DTYPES.join(", ")}`);
  }
  return out;
}

export interface TensorToWrite {
  dtype: WritableDtype;
  shape: number[];
  data: ArrayLike<number>;
}

/** Serialise tensors (in the given order) and metadata; the header is space-padded to 8 bytes. */
export function writeSafetensors(tensors: Record<string, TensorToWrite>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (name === "__metadata__") throw new FormatError("tensor name", name, "a name other than __metadata__");
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new FormatError(`${name}.data.length`, t.data.length, `${n} = prod(shape [${t.shape.join(", ")}])`);
    const bytes = encodeTensor(t.dtype, t.data, name);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    blobs.push(bytes);
    offset += bytes.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const b of blobs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** Parse a whole in-memory file (header checked, nothing decoded until asked). */
export async function openSafetensors(src: ByteSource, source = "safetensors"): Promise<SafetensorsFile> {
  return new SafetensorsFile(src, await readHeader(src, source), source);
}

/** A safetensors file opened lazily: the header is in memory, tensors are read on request. */
export class SafetensorsFile {
  constructor(readonly src: ByteSource, readonly header: SafetensorsHeader, readonly source = "safetensors") {}
  get tensors(): ReadonlyMap<string, TensorInfo> {
    return this.header.tensors;
  }
  read(name: string): Promise<Float32Array | Float64Array> {
    return readTensorData(this.src, this.header, name, this.source);
  }
  /** The tensor's stored bytes (an FP8 tensor's e4m3 codes), without decoding. */
  readBytes(name: string): Promise<Uint8Array> {
    return readTensorBytes(this.src, this.header, name, this.source);
  }
}
