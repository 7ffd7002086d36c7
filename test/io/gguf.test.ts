// GGUF (src/io/gguf.ts): the container written and read back for every value and tensor type,
// its layout checked byte by byte against ggml's docs/gguf.md (not against the reader), Q8_0
// within the bound its rule allows, and a parser that, fuzzed, only ever answers with a
// FormatError or a header whose tensors lie inside the file.
import fc from "fast-check";
import { describe, expect, it, test } from "vitest";
import { FormatError } from "../../src/errors.js";
import { bytesSource, f16ToNumber, bf16ToNumber, numberToF16, numberToBf16 } from "../../src/io/safetensors.js";
import { q8Bound } from "./q8-bound.js";
import { strictSource } from "./strict-source.js";
import { GGML_TYPE, GGUF_LIMITS, type GgmlTypeName, type GgufTypedValue, encodeGgmlTensor, openGguf, readGgufHeader, writeGguf } from "../../src/io/gguf.js";

const TYPES: GgmlTypeName[] = ["F32", "F16", "BF16", "Q8_0"];

const tensorArb = fc.record({
  type: fc.constantFrom(...TYPES),
  rows: fc.integer({ min: 1, max: 5 }),
  blocks: fc.integer({ min: 1, max: 3 }),
  extra: fc.integer({ min: 0, max: 7 }),
  scale: fc.double({ min: 1e-3, max: 100, noNaN: true }),
  seed: fc.integer({ min: 1, max: 1e9 }),
});

function values(n: number, scale: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.fround(((s / 2 ** 32) * 2 - 1) * scale);
  });
}

describe("GGUF write and read", () => {
  it("every metadata type and every tensor type round-trip; F32 exact, F16/BF16 their rounding, Q8_0 within its rule's bound", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(tensorArb, { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 2 }), async (ts, alignPick) => {
        const alignment = [32, 64, 8][alignPick];
        const meta: Record<string, GgufTypedValue> = {
          "general.architecture": { type: "string", value: "deepseek2" },
          "a.u32": { type: "u32", value: 4000000000 }, "a.i32": { type: "i32", value: -7 }, "a.f32": { type: "f32", value: 0.1 },
          "a.u8": { type: "u8", value: 255 }, "a.i8": { type: "i8", value: -128 }, "a.u16": { type: "u16", value: 65535 }, "a.i16": { type: "i16", value: -32768 },
          "a.u64": { type: "u64", value: 2n ** 63n }, "a.i64": { type: "i64", value: -5n }, "a.f64": { type: "f64", value: Math.PI },
          "a.bool": { type: "bool", value: true }, "a.str": { type: "string", value: "ümlaut ✓" },
          "a.arr": { type: "array", of: "string", value: ["x", "", "yz"] }, "a.arr32": { type: "array", of: "i32", value: [1, -2, 3] },
        };
        const tensors = Object.fromEntries(ts.map((t, i) => {
          const cols = t.type === "Q8_0" ? 32 * t.blocks : 32 * t.blocks + t.extra;
          return [`t${i}`, { type: t.type, shape: [t.rows, cols], data: values(t.rows * cols, t.scale, t.seed) }];
        }));
        const bytes = writeGguf(meta, tensors, alignment);
        const f = await openGguf(strictSource(bytes));
        expect(f.header.version).toBe(3);
        expect(f.metadata.get("a.u32")).toBe(4000000000);
        expect(f.metadata.get("a.i32")).toBe(-7);
        expect(f.metadata.get("a.f32")).toBe(Math.fround(0.1));
        expect([f.metadata.get("a.u8"), f.metadata.get("a.i8"), f.metadata.get("a.u16"), f.metadata.get("a.i16")]).toEqual([255, -128, 65535, -32768]);
        expect(f.metadata.get("a.u64")).toBe(2n ** 63n);
        expect(f.metadata.get("a.i64")).toBe(-5n);
        expect(f.metadata.get("a.f64")).toBe(Math.PI);
        expect(f.metadata.get("a.bool")).toBe(true);
        expect(f.metadata.get("a.str")).toBe("ümlaut ✓");
        expect(f.metadata.get("a.arr")).toEqual(["x", "", "yz"]);
        expect(f.metadata.get("a.arr32")).toEqual([1, -2, 3]);
        expect(f.header.alignment).toBe(alignment);
        for (const [name, t] of Object.entries(tensors)) {
          const info = f.tensors.get(name)!;
          expect(info.shape).toEqual(t.shape);
          expect(info.dims).toEqual([...t.shape].reverse());
          expect(info.type).toBe(GGML_TYPE[t.type]);
          expect((info.begin - f.header.dataStart) % alignment).toBe(0);
          const got = await f.read(name), x = t.data;
          if (t.type === "F32") expect(got).toEqual(x);
          else if (t.type === "F16") expect(Array.from(got)).toEqual(Array.from(x, (v) => f16ToNumber(numberToF16(v))));
          else if (t.type === "BF16") expect(Array.from(got)).toEqual(Array.from(x, (v) => bf16ToNumber(numberToBf16(v))));
          else {
            for (let b = 0; b < x.length / 32; b++) {
              let amax = 0;
              for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[32 * b + j]));
              for (let j = 0; j < 32; j++) expect(Math.abs(got[32 * b + j] - x[32 * b + j])).toBeLessThanOrEqual(q8Bound(amax));
            }
          }
        }
      }),
      { numRuns: 40 },
    );
  });

  it("lays the file out as docs/gguf.md says: magic, version 3, u64 counts, typed key/values, tensor infos, aligned little-endian data", () => {
    const bytes = writeGguf({ "general.architecture": { type: "string", value: "ab" } }, { w: { type: "F32", shape: [2, 3], data: [1, 2, 3, 4, 5, 6] } });
    const v = new DataView(bytes.buffer);
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe("GGUF");
    expect(v.getUint32(4, true)).toBe(3);
    expect(v.getBigUint64(8, true)).toBe(1n); // tensors
    expect(v.getBigUint64(16, true)).toBe(1n); // metadata
    let at = 24;
    expect(v.getBigUint64(at, true)).toBe(20n); // "general.architecture"
    expect(new TextDecoder().decode(bytes.subarray(at + 8, at + 28))).toBe("general.architecture");
    at += 28;
    expect(v.getUint32(at, true)).toBe(8); // STRING
    expect(v.getBigUint64(at + 4, true)).toBe(2n);
    expect(new TextDecoder().decode(bytes.subarray(at + 12, at + 14))).toBe("ab");
    at += 14;
    expect(v.getBigUint64(at, true)).toBe(1n); // name "w"
    expect(bytes[at + 8]).toBe("w".charCodeAt(0));
    at += 9;
    expect(v.getUint32(at, true)).toBe(2); // n_dims
    expect([v.getBigUint64(at + 4, true), v.getBigUint64(at + 12, true)]).toEqual([3n, 2n]); // innermost first
    expect(v.getUint32(at + 20, true)).toBe(0); // F32
    expect(v.getBigUint64(at + 24, true)).toBe(0n); // offset
    at += 32;
    const dataStart = Math.ceil(at / 32) * 32;
    expect(Array.from(new Float32Array(bytes.slice(dataStart, dataStart + 24).buffer))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("refuses to write what it cannot represent, naming the tensor", () => {
    expect(() => writeGguf({}, { q: { type: "Q8_0", shape: [1, 33], data: new Float32Array(33) } })).toThrow(/q dims\[0\]/);
    expect(() => writeGguf({}, { w: { type: "F32", shape: [2, 2], data: [1, 2, 3] } })).toThrow(FormatError);
    expect(() => writeGguf({}, { w: { type: "F16", shape: [1], data: [NaN] } })).toThrow(FormatError);
    // The codec alone: a length that is not whole Q8_0 blocks is named before any buffer is sized from it.
    expect(() => encodeGgmlTensor("Q8_0", new Float32Array(33), "x")).toThrow(/x length.*33.*multiple of 32/);
  });
});

describe("the GGUF parser under fuzzing: a FormatError or a header whose tensors lie inside the file", () => {
  async function outcome(bytes: Uint8Array): Promise<"ok" | "format"> {
    try {
      const h = await readGgufHeader(strictSource(bytes));
      for (const t of h.tensors.values()) {
        expect(t.begin).toBeGreaterThanOrEqual(h.dataStart);
        if (t.end !== null) expect(t.end).toBeLessThanOrEqual(bytes.length);
      }
      return "ok";
    } catch (e) {
      if (e instanceof FormatError) return "format";
      throw e;
    }
  }
  const valid = writeGguf({ "general.architecture": { type: "string", value: "deepseek2" }, "x.arr": { type: "array", of: "u32", value: [1, 2] } }, { a: { type: "Q8_0", shape: [2, 32], data: values(64, 1, 3) }, b: { type: "F16", shape: [3], data: [1, 2, 3] } });

  test("random bytes, and random bytes after a valid magic and version", async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 96 }), async (b) => void (await outcome(b))), { numRuns: 300 });
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 96 }), async (b) => void (await outcome(Uint8Array.from([...valid.subarray(0, 8), ...b])))), { numRuns: 300 });
  });

  test("single-byte corruptions of a valid file", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: valid.length - 1 }), fc.integer({ min: 0, max: 255 }), async (i, b) => {
        const c = valid.slice();
        c[i] = b;
        await outcome(c);
      }),
      { numRuns: 400 },
    );
  });

  test("a truncation that cuts into the header or a tensor's bytes is a FormatError; one inside the trailing padding reads the same", async () => {
    const h = await readGgufHeader(bytesSource(valid));
    const lastEnd = Math.max(...[...h.tensors.values()].map((t) => t.end!));
    expect(await outcome(valid)).toBe("ok");
    for (let n = 0; n < valid.length; n++) expect(await outcome(valid.subarray(0, n)), `length ${n}`).toBe(n < lastEnd ? "format" : "ok");
  });

  test("counts and lengths far beyond the file are refused before anything that size is read or allocated", async () => {
    const head = (tensors: bigint, kvs: bigint) => {
      const b = new Uint8Array(24);
      const v = new DataView(b.buffer);
      v.setUint32(0, 0x46554747, true);
      v.setUint32(4, 3, true);
      v.setBigUint64(8, tensors, true);
      v.setBigUint64(16, kvs, true);
      return b;
    };
    for (const [t, k] of [[2n ** 60n, 0n], [0n, 2n ** 60n], [BigInt(GGUF_LIMITS.tensors) + 1n, 0n], [0n, 1n], [1n, 0n]] as [bigint, bigint][]) {
      const src = strictSource(head(t, k));
      await expect(readGgufHeader(src)).rejects.toThrow(FormatError);
      expect(src.maxRead).toBeLessThanOrEqual(24);
    }
    // a string length of 2^40 in a metadata key
    const b = new Uint8Array(32);
    b.set(head(0n, 1n));
    new DataView(b.buffer).setBigUint64(24, 2n ** 40n, true);
    await expect(readGgufHeader(strictSource(b))).rejects.toThrow(/length/);
  });

  test("an unknown tensor type is listed, and refused when read", async () => {
    const bytes = writeGguf({}, { w: { type: "F32", shape: [4], data: [1, 2, 3, 4] } });
    const c = bytes.slice();
    // no metadata; the tensor info after the 24-byte head: name (u64 length + "w"), n_dims, one dim, then the type
    const typeAt = 24 + 9 + 4 + 8;
    expect(new DataView(c.buffer).getUint32(typeAt, true)).toBe(GGML_TYPE.F32);
    new DataView(c.buffer).setUint32(typeAt, 12, true); // Q4_K
    const f = await openGguf(bytesSource(c));
    expect(f.tensors.get("w")!.typeName).toBe(null);
    await expect(f.read("w")).rejects.toThrow(/type/);
  });
});
