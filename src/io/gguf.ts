// GGUF read and write, browser-safe: the container llama.cpp loads (ggml's docs/gguf.md, format
// version 3, little-endian). Layout: magic "GGUF", u32 version, u64 tensor count, u64 metadata
// count; metadata as (string key, u32 type, value); tensor infos as (string name, u32 n_dims,
// u64 dims[n_dims] with dims[0] the contiguous one, u32 ggml type, u64 offset into the data
// section); padding to `general.alignment` (default 32); the data section, each tensor at an
// aligned offset. Strings are a u64 byte length and UTF-8 bytes.
// Reading is lazy, as for safetensors: the header first (bounded: every count and length is
// checked against what is left of the file and against caps before anything is allocated),
// then only the byte ranges of the tensors asked for. Every malformed input is a FormatError.
// Tensor types: F32, F16, BF16 and Q8_0 (blocks of 32: a float16 scale d and 32 int8 q, value
// d * q), read and written; any other type is listed but refused when read.

import { FormatError } from "../errors.js";
import { type ByteSource, bf16ToNumber, f16ToNumber, numberToBf16, numberToF16 } from "./safetensors.js";

export const GGUF_MAGIC = 0x46554747; // "GGUF" as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Metadata value types (gguf.md gguf_metadata_value_type). */
export const GGUF_VALUE = { UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12 } as const;

/** The ggml tensor types this module decodes and encodes, by their numbers in ggml.h. */
export const GGML_TYPE = { F32: 0, F16: 1, Q8_0: 8, BF16: 30 } as const;
export type GgmlTypeName = keyof typeof GGML_TYPE;
const TYPE_NAME = new Map<number, GgmlTypeName>(Object.entries(GGML_TYPE).map(([k, v]) => [v, k as GgmlTypeName]));
/** Elements per block and bytes per block. */
const BLOCK: Record<GgmlTypeName, { n: number; bytes: number }> = { F32: { n: 1, bytes: 4 }, F16: { n: 1, bytes: 2 }, BF16: { n: 1, bytes: 2 }, Q8_0: { n: 32, bytes: 34 } };

/** Caps on a header, far above any real file's (a DeepSeek-V3 GGUF has ~1,000 tensors and a ~10 MB vocabulary). */
export const GGUF_LIMITS = { tensors: 1_000_000, metadata: 1_000_000, stringBytes: 64 * 2 ** 20, arrayLength: 1 << 26, headerBytes: 512 * 2 ** 20, dims: 4 };

export type GgufValue = number | bigint | boolean | string | GgufValue[];

export interface GgufTensorInfo {
  name: string;
  /** ggml type number, and its name when this module knows it. */
  type: number;
  typeName: GgmlTypeName | null;
  /** dims as stored: dims[0] is the contiguous (innermost) one. */
  dims: number[];
  /** The same as a row-major (PyTorch) shape: dims reversed. */
  shape: number[];
  /** Absolute byte range in the file (known types only; null for others). */
  begin: number;
  end: number | null;
}

export interface GgufHeader {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: Map<string, GgufTensorInfo>;
  alignment: number;
  dataStart: number;
  fileSize: number;
}

const fail = (source: string, field: string, value: unknown, expected: string): never => {
  throw new FormatError(`${source}: ${field}`, value, expected);
};

/** Sequential reads over a ByteSource in chunks, never past the caps or the end of the file. */
class HeaderReader {
  private buf: Uint8Array = new Uint8Array(0);
  private bufAt = 0;
  pos = 0;
  constructor(private src: ByteSource, private source: string) {}

  private async need(n: number, what: string): Promise<DataView> {
    if (n > this.src.size - this.pos) fail(this.source, what, `${n} bytes at offset ${this.pos}`, `at most the ${this.src.size - this.pos} bytes left in the file`);
    if (this.pos + n > GGUF_LIMITS.headerBytes) fail(this.source, what, `header past ${this.pos + n} bytes`, `a header of at most ${GGUF_LIMITS.headerBytes} bytes`);
    if (this.pos < this.bufAt || this.pos + n > this.bufAt + this.buf.length) {
      const len = Math.min(this.src.size - this.pos, Math.max(n, 1 << 20));
      this.buf = await this.src.read(this.pos, len);
      this.bufAt = this.pos;
    }
    const off = this.pos - this.bufAt;
    this.pos += n;
    return new DataView(this.buf.buffer, this.buf.byteOffset + off, n);
  }
  async u32(what: string): Promise<number> {
    return (await this.need(4, what)).getUint32(0, true);
  }
  /** A u64 that must be a safe integer (counts, lengths, offsets). */
  async u64(what: string): Promise<number> {
    const v = (await this.need(8, what)).getBigUint64(0, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(this.source, what, v.toString(), "a count or offset below 2^53");
    return Number(v);
  }
  async string(what: string): Promise<string> {
    const n = await this.u64(`${what} length`);
    if (n > GGUF_LIMITS.stringBytes) fail(this.source, `${what} length`, n, `at most ${GGUF_LIMITS.stringBytes} bytes`);
    const v = await this.need(n, what);
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(v.buffer, v.byteOffset, n));
    } catch {
      return fail(this.source, what, `${n} bytes`, "UTF-8 text");
    }
  }
  async value(type: number, what: string, depth = 0): Promise<GgufValue> {
    switch (type) {
      case GGUF_VALUE.UINT8: return (await this.need(1, what)).getUint8(0);
      case GGUF_VALUE.INT8: return (await this.need(1, what)).getInt8(0);
      case GGUF_VALUE.UINT16: return (await this.need(2, what)).getUint16(0, true);
      case GGUF_VALUE.INT16: return (await this.need(2, what)).getInt16(0, true);
      case GGUF_VALUE.UINT32: return (await this.need(4, what)).getUint32(0, true);
      case GGUF_VALUE.INT32: return (await this.need(4, what)).getInt32(0, true);
      case GGUF_VALUE.FLOAT32: return (await this.need(4, what)).getFloat32(0, true);
      case GGUF_VALUE.BOOL: {
        const b = (await this.need(1, what)).getUint8(0);
        if (b > 1) fail(this.source, what, b, "a bool (0 or 1)");
        return b === 1;
      }
      case GGUF_VALUE.STRING: return this.string(what);
      case GGUF_VALUE.UINT64: return (await this.need(8, what)).getBigUint64(0, true);
      case GGUF_VALUE.INT64: return (await this.need(8, what)).getBigInt64(0, true);
      case GGUF_VALUE.FLOAT64: return (await this.need(8, what)).getFloat64(0, true);
      case GGUF_VALUE.ARRAY: {
        if (depth > 0) fail(this.source, what, "an array of arrays", "an array of scalars or strings");
        const t = await this.u32(`${what} element type`);
        const n = await this.u64(`${what} length`);
        if (n > GGUF_LIMITS.arrayLength) fail(this.source, `${what} length`, n, `at most ${GGUF_LIMITS.arrayLength} elements`);
        if (n > this.src.size - this.pos) fail(this.source, `${what} length`, n, `at most the ${this.src.size - this.pos} bytes left in the file`);
        const out: GgufValue[] = [];
        for (let i = 0; i < n; i++) out.push(await this.value(t, `${what}[${i}]`, depth + 1));
        return out;
      }
      default:
        return fail(this.source, `${what} type`, type, "a GGUF metadata value type 0..12");
    }
  }
}

/** Bytes of a tensor of a known type with these dims, or a FormatError when its rows do not fill whole blocks. */
export function ggmlTensorBytes(type: GgmlTypeName, dims: readonly number[], source = "gguf", name = "tensor"): number {
  const b = BLOCK[type];
  if (dims[0] % b.n !== 0) fail(source, `${name} dims[0]`, dims[0], `a multiple of ${b.n} (${type} blocks)`);
  let n = b.bytes * (dims[0] / b.n);
  for (let i = 1; i < dims.length; i++) n *= dims[i];
  return n;
}

export async function readGgufHeader(src: ByteSource, source = "gguf"): Promise<GgufHeader> {
  const r = new HeaderReader(src, source);
  const magic = await r.u32("magic");
  if (magic !== GGUF_MAGIC) fail(source, "magic", `0x${magic.toString(16)}`, '"GGUF" (0x46554747)');
  const version = await r.u32("version");
  if (version !== 2 && version !== 3) fail(source, "version", version, "2 or 3 (64-bit counts)");
  const nTensors = await r.u64("tensor count");
  if (nTensors > GGUF_LIMITS.tensors) fail(source, "tensor count", nTensors, `at most ${GGUF_LIMITS.tensors}`);
  const nMeta = await r.u64("metadata count");
  if (nMeta > GGUF_LIMITS.metadata) fail(source, "metadata count", nMeta, `at most ${GGUF_LIMITS.metadata}`);
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < nMeta; i++) {
    const key = await r.string(`metadata[${i}] key`);
    if (metadata.has(key)) fail(source, "metadata key", key, "each key once");
    metadata.set(key, await r.value(await r.u32(`${key} type`), key));
  }
  const align = metadata.get("general.alignment") ?? GGUF_DEFAULT_ALIGNMENT;
  if (typeof align !== "number" || !Number.isInteger(align) || align < 1 || align > 1 << 20 || (align & (align - 1)) !== 0) fail(source, "general.alignment", align, "a power of two up to 2^20 (a u32)");
  const alignment = align as number;
  const infos: { name: string; dims: number[]; type: number; offset: number }[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const name = await r.string(`tensor[${i}] name`);
    if (seen.has(name)) fail(source, "tensor name", name, "each name once");
    seen.add(name);
    const nd = await r.u32(`${name} n_dims`);
    if (nd < 1 || nd > GGUF_LIMITS.dims) fail(source, `${name} n_dims`, nd, `1..${GGUF_LIMITS.dims}`);
    const dims: number[] = [];
    for (let d = 0; d < nd; d++) {
      const v = await r.u64(`${name} dims[${d}]`);
      if (v < 1) fail(source, `${name} dims[${d}]`, v, "at least 1");
      dims.push(v);
    }
    if (dims.reduce((a, b) => a * b, 1) > Number.MAX_SAFE_INTEGER) fail(source, `${name} dims`, dims, "fewer than 2^53 elements");
    const type = await r.u32(`${name} type`);
    const offset = await r.u64(`${name} offset`);
    if (offset % alignment !== 0) fail(source, `${name} offset`, offset, `a multiple of general.alignment (${alignment})`);
    infos.push({ name, dims, type, offset });
  }
  const dataStart = Math.ceil(r.pos / alignment) * alignment;
  if (dataStart > src.size) fail(source, "data section", dataStart, `within the file (${src.size} bytes)`);
  const tensors = new Map<string, GgufTensorInfo>();
  for (const t of infos) {
    const typeName = TYPE_NAME.get(t.type) ?? null;
    const begin = dataStart + t.offset;
    let end: number | null = null;
    if (typeName) {
      end = begin + ggmlTensorBytes(typeName, t.dims, source, t.name);
      if (end > src.size) fail(source, `${t.name} data`, `bytes ${begin}..${end}`, `within the file (${src.size} bytes)`);
    } else if (begin > src.size) fail(source, `${t.name} offset`, t.offset, "within the file");
    tensors.set(t.name, { name: t.name, type: t.type, typeName, dims: t.dims, shape: [...t.dims].reverse(), begin, end });
  }
  return { version, metadata, tensors, alignment, dataStart, fileSize: src.size };
}

/** Decode a tensor's bytes of a known type to float32 (F16, BF16 and Q8_0 widen exactly). */
export function decodeGgmlTensor(type: GgmlTypeName, bytes: Uint8Array, elements: number): Float32Array {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(elements);
  switch (type) {
    case "F32":
      for (let i = 0; i < elements; i++) out[i] = v.getFloat32(4 * i, true);
      break;
    case "F16":
      for (let i = 0; i < elements; i++) out[i] = f16ToNumber(v.getUint16(2 * i, true));
      break;
    case "BF16":
      for (let i = 0; i < elements; i++) out[i] = bf16ToNumber(v.getUint16(2 * i, true));
      break;
    case "Q8_0":
      for (let b = 0; b < elements / 32; b++) {
        const d = f16ToNumber(v.getUint16(34 * b, true));
        for (let j = 0; j < 32; j++) out[32 * b + j] = Math.fround(d * v.getInt8(34 * b + 2 + j));
      }
      break;
  }
  return out;
}

/** Encode float values (rows of dims[0]) in a type: F16/BF16 round to nearest even; Q8_0 as ggml's quantize_row_q8_0 (d = amax / 127 in float16, q = round(x / d)). */
export function encodeGgmlTensor(type: GgmlTypeName, values: ArrayLike<number>, name = "tensor"): Uint8Array {
  const n = values.length;
  if (type === "Q8_0" && n % 32 !== 0) throw new FormatError(`${name} length`, n, "a multiple of 32 (Q8_0 blocks)");
  const bytes = new Uint8Array(type === "Q8_0" ? (n / 32) * 34 : n * BLOCK[type].bytes);
  const v = new DataView(bytes.buffer);
  for (let i = 0; i < n; i++) if (!Number.isFinite(values[i])) throw new FormatError(`${name}[${i}]`, values[i], "a finite value");
  switch (type) {
    case "F32":
      for (let i = 0; i < n; i++) v.setFloat32(4 * i, values[i], true);
      break;
    case "F16":
      for (let i = 0; i < n; i++) v.setUint16(2 * i, numberToF16(values[i]), true);
      break;
    case "BF16":
      for (let i = 0; i < n; i++) v.setUint16(2 * i, numberToBf16(values[i]), true);
      break;
    case "Q8_0": {
      for (let b = 0; b < n / 32; b++) {
        let amax = 0;
        for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(values[32 * b + j]));
        // ggml (quantize_row_q8_0_ref): d = amax / 127, id = 1/d, q = roundf(x * id), the stored scale is fp16(d)
        const d = Math.fround(amax / 127), id = d !== 0 ? Math.fround(1 / d) : 0;
        v.setUint16(34 * b, numberToF16(d), true);
        for (let j = 0; j < 32; j++) {
          const x = Math.fround(values[32 * b + j] * id);
          v.setInt8(34 * b + 2 + j, Math.max(-127, Math.min(127, Math.sign(x) * Math.round(Math.abs(x)))));
        }
      }
      break;
    }
  }
  return bytes;
}

/** A GGUF file opened lazily: metadata and tensor infos in memory, tensors read on request. */
export class GgufFile {
  constructor(readonly src: ByteSource, readonly header: GgufHeader, readonly source = "gguf") {}
  get metadata(): ReadonlyMap<string, GgufValue> {
    return this.header.metadata;
  }
  get tensors(): ReadonlyMap<string, GgufTensorInfo> {
    return this.header.tensors;
  }
  private info(name: string): GgufTensorInfo & { typeName: GgmlTypeName; end: number } {
    const t = this.header.tensors.get(name);
    if (!t) return fail(this.source, "tensor", name, "a tensor of the file");
    if (!t.typeName || t.end === null) return fail(this.source, `${name} type`, t.type, `a type this reader decodes (${Object.entries(GGML_TYPE).map(([k, v]) => `${k} = ${v}`).join(", ")})`);
    return t as GgufTensorInfo & { typeName: GgmlTypeName; end: number };
  }
  /** The tensor's stored bytes. */
  async readBytes(name: string): Promise<Uint8Array> {
    const t = this.info(name);
    return this.src.read(t.begin, t.end - t.begin);
  }
  /** The tensor's values as float32, row-major in `shape` (dims reversed). */
  async read(name: string): Promise<Float32Array> {
    const t = this.info(name);
    return decodeGgmlTensor(t.typeName, await this.readBytes(name), t.dims.reduce((a, b) => a * b, 1));
  }
}

export async function openGguf(src: ByteSource, source = "gguf"): Promise<GgufFile> {
  return new GgufFile(src, await readGgufHeader(src, source), source);
}

// ---------------------------------------------------------------------------------------------
// Writing

/** A metadata value with its GGUF type (numbers are ambiguous: say which). */
export type GgufTypedValue =
  | { type: "u32" | "i32" | "f32" | "u8" | "u16" | "i8" | "i16" | "f64"; value: number }
  | { type: "u64" | "i64"; value: number | bigint }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "array"; of: "u32" | "i32" | "f32" | "string"; value: (number | string)[] };

export interface GgufTensorToWrite {
  type: GgmlTypeName;
  /** Row-major (PyTorch) shape; written as dims reversed. */
  shape: number[];
  data: ArrayLike<number>;
}

const SCALAR: Record<string, { code: number; bytes: number; put: (v: DataView, at: number, x: number | bigint) => void }> = {
  u8: { code: GGUF_VALUE.UINT8, bytes: 1, put: (v, a, x) => v.setUint8(a, Number(x)) },
  i8: { code: GGUF_VALUE.INT8, bytes: 1, put: (v, a, x) => v.setInt8(a, Number(x)) },
  u16: { code: GGUF_VALUE.UINT16, bytes: 2, put: (v, a, x) => v.setUint16(a, Number(x), true) },
  i16: { code: GGUF_VALUE.INT16, bytes: 2, put: (v, a, x) => v.setInt16(a, Number(x), true) },
  u32: { code: GGUF_VALUE.UINT32, bytes: 4, put: (v, a, x) => v.setUint32(a, Number(x), true) },
  i32: { code: GGUF_VALUE.INT32, bytes: 4, put: (v, a, x) => v.setInt32(a, Number(x), true) },
  f32: { code: GGUF_VALUE.FLOAT32, bytes: 4, put: (v, a, x) => v.setFloat32(a, Number(x), true) },
  u64: { code: GGUF_VALUE.UINT64, bytes: 8, put: (v, a, x) => v.setBigUint64(a, BigInt(x), true) },
  i64: { code: GGUF_VALUE.INT64, bytes: 8, put: (v, a, x) => v.setBigInt64(a, BigInt(x), true) },
  f64: { code: GGUF_VALUE.FLOAT64, bytes: 8, put: (v, a, x) => v.setFloat64(a, Number(x), true) },
};

/** Serialise metadata and tensors as a GGUF v3 file (tensors in the order given, each aligned). */
export function writeGguf(metadata: Record<string, GgufTypedValue>, tensors: Record<string, GgufTensorToWrite>, alignment = GGUF_DEFAULT_ALIGNMENT): Uint8Array {
  const parts: Uint8Array[] = [];
  const enc = new TextEncoder();
  const num = (bytes: number, f: (v: DataView) => void) => {
    const b = new Uint8Array(bytes);
    f(new DataView(b.buffer));
    parts.push(b);
  };
  const u32 = (x: number) => num(4, (v) => v.setUint32(0, x, true));
  const u64 = (x: number) => num(8, (v) => v.setBigUint64(0, BigInt(x), true));
  const str = (s: string) => {
    const b = enc.encode(s);
    u64(b.length);
    parts.push(b);
  };
  const meta: Record<string, GgufTypedValue> = { ...metadata };
  if (alignment !== GGUF_DEFAULT_ALIGNMENT) meta["general.alignment"] = { type: "u32", value: alignment };
  u32(GGUF_MAGIC);
  u32(GGUF_VERSION);
  u64(Object.keys(tensors).length);
  u64(Object.keys(meta).length);
  for (const [key, m] of Object.entries(meta)) {
    str(key);
    if (m.type === "string") (u32(GGUF_VALUE.STRING), str(m.value));
    else if (m.type === "bool") (u32(GGUF_VALUE.BOOL), num(1, (v) => v.setUint8(0, m.value ? 1 : 0)));
    else if (m.type === "array") {
      u32(GGUF_VALUE.ARRAY);
      u32(m.of === "string" ? GGUF_VALUE.STRING : SCALAR[m.of].code);
      u64(m.value.length);
      for (const x of m.value) {
        if (m.of === "string") str(String(x));
        else num(SCALAR[m.of].bytes, (v) => SCALAR[m.of].put(v, 0, x as number));
      }
    } else {
      const s = SCALAR[m.type];
      u32(s.code);
      num(s.bytes, (v) => s.put(v, 0, m.value));
    }
  }
  const datas: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const dims = [...t.shape].reverse();
    const n = dims.reduce((a, b) => a * b, 1);
    if (t.data.length !== n) throw new FormatError(`${name}.data length`, t.data.length, `${n} (shape [${t.shape.join(", ")}])`);
    ggmlTensorBytes(t.type, dims, "gguf writer", name);
    const bytes = encodeGgmlTensor(t.type, t.data, name);
    str(name);
    u32(dims.length);
    for (const d of dims) u64(d);
    u32(GGML_TYPE[t.type]);
    u64(offset);
    datas.push(bytes);
    offset += Math.ceil(bytes.length / alignment) * alignment;
  }
  const headerLen = parts.reduce((a, p) => a + p.length, 0);
  const dataStart = Math.ceil(headerLen / alignment) * alignment;
  const out = new Uint8Array(dataStart + offset);
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  at = dataStart;
  for (const d of datas) {
    out.set(d, at);
    at += Math.ceil(d.length / alignment) * alignment;
  }
  return out;
}
