// safetensors: dtype codecs against the formats' own bit patterns, write/read round trips,
// lazy reading, and a fuzzed parser that only ever answers with a FormatError.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { FormatError } from "../../src/errors.js";
import { strictSource } from "./strict-source.js";
import {
  type ByteSource,
  MAX_HEADER_BYTES,
  bf16ToNumber,
  blobSource,
  bytesSource,
  decodeTensor,
  e4m3ToNumber,
  encodeTensor,
  f16ToNumber,
  numberToBf16,
  numberToE4m3,
  numberToF16,
  openSafetensors,
  readHeader,
  writeSafetensors,
} from "../../src/io/safetensors.js";

describe("dtype codecs", () => {
  test("known bit patterns (IEEE binary16, bfloat16, OCP FP8 E4M3FN)", () => {
    const f16: [number, number][] = [[0x3c00, 1], [0xc000, -2], [0x7bff, 65504], [0x0001, 2 ** -24], [0x0400, 2 ** -14], [0x3555, 0.333251953125], [0x7c00, Infinity], [0xfc00, -Infinity]];
    for (const [bits, v] of f16) {
      expect(f16ToNumber(bits)).toBe(v);
      expect(numberToF16(v)).toBe(bits);
    }
    expect(f16ToNumber(0x7e00)).toBeNaN();
    const bf: [number, number][] = [[0x3f80, 1], [0x4049, 3.140625], [0xc000, -2], [0xff80, -Infinity], [0x0001, 2 ** -133]];
    for (const [bits, v] of bf) {
      expect(bf16ToNumber(bits)).toBe(v);
      expect(numberToBf16(v)).toBe(bits);
    }
    const e4: [number, number][] = [[0x38, 1], [0xc0, -2], [0x7e, 448], [0xfe, -448], [0x01, 2 ** -9], [0x08, 2 ** -6], [0x07, 7 * 2 ** -9], [0x00, 0]];
    for (const [bits, v] of e4) {
      expect(e4m3ToNumber(bits)).toBe(v);
      expect(numberToE4m3(v)).toBe(bits);
    }
    expect(e4m3ToNumber(0x7f)).toBeNaN();
    expect(e4m3ToNumber(0xff)).toBeNaN();
  });

  test("every non-NaN bit pattern of F16, BF16 and F8_E4M3 survives decode -> encode", () => {
    const bad: string[] = [];
    for (let b = 0; b < 65536; b++) {
      const h = f16ToNumber(b);
      if (!Number.isNaN(h) && numberToF16(h) !== b) bad.push(`f16 ${b}`);
      const g = bf16ToNumber(b);
      if (!Number.isNaN(g) && numberToBf16(g) !== b) bad.push(`bf16 ${b}`);
    }
    for (let b = 0; b < 256; b++) {
      const v = e4m3ToNumber(b);
      if (!Number.isNaN(v) && numberToE4m3(v) !== b) bad.push(`e4m3 ${b}`);
    }
    expect(bad).toEqual([]);
  });

  // Nearest representable value, by brute force over all codes (independent of the encoder).
  const allF16 = Array.from({ length: 65536 }, (_, b) => f16ToNumber(b)).filter(Number.isFinite);
  const allE4 = Array.from({ length: 256 }, (_, b) => e4m3ToNumber(b)).filter(Number.isFinite);
  const nearestDist = (vals: number[], x: number) => vals.reduce((m, v) => Math.min(m, Math.abs(v - x)), Infinity);

  test("encoding rounds to a nearest representable value (F16, F8_E4M3)", () => {
    fc.assert(
      fc.property(fc.double({ min: -65000, max: 65000, noNaN: true }), (x) => {
        expect(Math.abs(f16ToNumber(numberToF16(x)) - x)).toBe(nearestDist(allF16, x));
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.double({ min: -448, max: 448, noNaN: true }), (x) => {
        expect(Math.abs(e4m3ToNumber(numberToE4m3(x)) - x)).toBe(nearestDist(allE4, x));
      }),
      { numRuns: 300 },
    );
  });

  test("ties go to even; E4M3 overflow is refused; bf16 of a float32 keeps 8 mantissa bits", () => {
    expect(numberToF16(1 + 2 ** -11)).toBe(0x3c00); // halfway 1 .. 1+2^-10 -> even (1)
    expect(numberToF16(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway 1+2^-10 .. 1+2^-9 -> even
    expect(numberToE4m3(464)).toBe(0x7e); // halfway 448 .. 480 -> even mantissa (448)
    expect(() => numberToE4m3(465)).toThrow(FormatError);
    expect(() => numberToE4m3(Infinity)).toThrow(FormatError);
    expect(bf16ToNumber(numberToBf16(Math.fround(1 + 2 ** -8)))).toBe(1); // tie -> even
    expect(bf16ToNumber(numberToBf16(Math.fround(1 + 3 * 2 ** -8)))).toBe(1 + 2 ** -6);
  });
});

describe("write and read", () => {
  test("round trip of every writable dtype, with metadata; header padded to 8 bytes", async () => {
    const vals = [0, 1, -2, 0.5, 3.25, -0.125];
    const bytes = writeSafetensors(
      {
        a: { dtype: "F32", shape: [2, 3], data: Float32Array.from([0.1, 1, -2, 0.5, 3.25, -7e-8]) },
        b: { dtype: "F16", shape: [6], data: vals },
        c: { dtype: "BF16", shape: [3, 2], data: vals },
        d: { dtype: "F8_E4M3", shape: [6, 1], data: vals },
        e: { dtype: "F32", shape: [0], data: [] },
      },
      { format: "pt", note: "x" },
    );
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const f = await openSafetensors(bytesSource(bytes));
    expect(f.header.metadata).toEqual({ format: "pt", note: "x" });
    expect([...f.tensors.keys()]).toEqual(["a", "b", "c", "d", "e"]);
    expect(f.tensors.get("c")!.shape).toEqual([3, 2]);
    expect(Array.from(await f.read("a"))).toEqual(Array.from(Float32Array.from([0.1, 1, -2, 0.5, 3.25, -7e-8])));
    for (const k of ["b", "c", "d"]) expect(Array.from(await f.read(k))).toEqual(vals);
    expect((await f.read("e")).length).toBe(0);
    await expect(f.read("zz")).rejects.toThrow(FormatError);
  });

  test("a browser Blob/File works as a source", async () => {
    const bytes = writeSafetensors({ a: { dtype: "BF16", shape: [3], data: [1, -2, 0.5] } });
    const f = await openSafetensors(blobSource(new Blob([bytes as Uint8Array<ArrayBuffer>])));
    expect(Array.from(await f.read("a"))).toEqual([1, -2, 0.5]);
    await expect(openSafetensors(blobSource(new Blob([bytes.subarray(0, 20) as Uint8Array<ArrayBuffer>])))).rejects.toThrow(FormatError);
  });

  test("integer dtypes parse (sizes checked) but are not decoded as weights", async () => {
    const json = new TextEncoder().encode(JSON.stringify({ ids: { dtype: "I64", shape: [2], data_offsets: [0, 16] } }));
    const file = new Uint8Array(8 + json.length + 16);
    new DataView(file.buffer).setBigUint64(0, BigInt(json.length), true);
    file.set(json, 8);
    const f = await openSafetensors(bytesSource(file));
    expect(f.tensors.get("ids")!.dtype).toBe("I64");
    await expect(f.read("ids")).rejects.toThrow(/a float dtype/);
    expect(() => decodeTensor("I32", new Uint8Array(4))).toThrow(FormatError);
  });

  test("reads only the header and the tensors asked for", async () => {
    const big = new Float32Array(50_000).fill(1);
    const bytes = writeSafetensors({ small: { dtype: "F32", shape: [4], data: [1, 2, 3, 4] }, big: { dtype: "F32", shape: [50_000], data: big } });
    const reads: [number, number][] = [];
    const src: ByteSource = { size: bytes.length, read: async (o, l) => (reads.push([o, l]), bytes.subarray(o, o + l)) };
    const f = await openSafetensors(src);
    expect(Array.from(await f.read("small"))).toEqual([1, 2, 3, 4]);
    const total = reads.reduce((a, [, l]) => a + l, 0);
    expect(total).toBe(8 + (f.header.dataStart - 8) + 16);
    expect(total).toBeLessThan(bytes.length / 100);
  });
});

describe("the parser under fuzzing: a FormatError or a checked header, never anything else", () => {
  async function outcome(bytes: Uint8Array): Promise<"ok" | "format"> {
    try {
      const h = await readHeader(strictSource(bytes));
      const dataSize = bytes.length - h.dataStart;
      const spans = [...h.tensors.values()].sort((a, b) => a.begin - b.begin);
      for (const [i, t] of spans.entries()) {
        expect(t.end).toBeLessThanOrEqual(dataSize);
        if (i > 0 && t.end > t.begin) expect(t.begin).toBeGreaterThanOrEqual(spans[i - 1].end);
      }
      return "ok";
    } catch (e) {
      if (e instanceof FormatError) return "format";
      throw e;
    }
  }
  const frame = (header: string | Uint8Array, dataBytes = 0, declared?: bigint) => {
    const json = typeof header === "string" ? new TextEncoder().encode(header) : header;
    const out = new Uint8Array(8 + json.length + dataBytes);
    new DataView(out.buffer).setBigUint64(0, declared ?? BigInt(json.length), true);
    out.set(json, 8);
    return out;
  };
  const valid = writeSafetensors({ w: { dtype: "F32", shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }, n: { dtype: "BF16", shape: [3], data: [1, 2, 3] } }, { k: "v" });

  test("random bytes", async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (b) => void (await outcome(b))), { numRuns: 300 });
  });

  test("every truncation of a valid file is a FormatError", async () => {
    expect(await outcome(valid)).toBe("ok");
    for (let n = 0; n < valid.length; n++) expect(await outcome(valid.subarray(0, n))).toBe("format");
  });

  test("huge or short header lengths: refused after reading 8 bytes", async () => {
    for (const declared of [2n ** 64n - 1n, 2n ** 63n, BigInt(MAX_HEADER_BYTES) + 1n, 10n ** 12n, 1000n, 1n, 0n]) {
      const bytes = frame("{}", 0, declared);
      const src = strictSource(bytes);
      await expect(readHeader(src)).rejects.toThrow(FormatError);
      expect(src.maxRead).toBeLessThanOrEqual(8);
    }
  });

  test("random JSON headers", async () => {
    await fc.assert(fc.asyncProperty(fc.json(), fc.nat({ max: 64 }), async (j, extra) => void (await outcome(frame(j, extra)))), { numRuns: 300 });
  });

  test("mutated entries: offsets out of range or overlapping, wrong sizes, bad dtypes and shapes", async () => {
    const field = fc.oneof(fc.integer({ min: -5, max: 40 }), fc.constant(2 ** 60), fc.double(), fc.string(), fc.constant(null), fc.array(fc.integer({ min: -1, max: 30 }), { maxLength: 3 }));
    const entry = fc.record(
      {
        dtype: fc.oneof(fc.constantFrom("F32", "F16", "BF16", "F8_E4M3", "I64", "F4", ""), fc.anything()),
        shape: fc.oneof(fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 3 }), fc.array(fc.constant(2 ** 40), { minLength: 2, maxLength: 3 }), field),
        data_offsets: fc.oneof(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 40 })), field),
      },
      { requiredKeys: [] },
    );
    const header = fc.dictionary(fc.constantFrom("a", "b", "c", "__metadata__"), fc.oneof(entry, fc.anything()), { maxKeys: 3 });
    let oks = 0, errs = 0;
    await fc.assert(
      fc.asyncProperty(header, fc.nat({ max: 48 }), async (h, data) => {
        (await outcome(frame(JSON.stringify(h), data))) === "ok" ? oks++ : errs++;
      }),
      { numRuns: 600 },
    );
    expect(oks).toBeGreaterThan(0); // the generator reaches valid headers too
    expect(errs).toBeGreaterThan(oks);
  });

  test("specific malformations name the field", async () => {
    const cases: [string, number, RegExp][] = [
      ['{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', 12, /not overlapping/],
      ['{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 4, /data section's size/],
      ['{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', 8, /range of 12 bytes/],
      ['{"a":{"dtype":"Q4","shape":[3],"data_offsets":[0,3]}}', 8, /a.dtype/],
      ['{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}', 8, /a.shape/],
      ['{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}', 8, /begin <= end/],
      ['{"__metadata__":{"k":1}}', 0, /__metadata__.k/],
      ["[1,2,3]", 0, /a JSON object/],
      ['"str"', 0, /a JSON object/],
      ['{"a":', 0, /a JSON object/],
    ];
    for (const [h, data, re] of cases) await expect(readHeader(bytesSource(frame(h, data)))).rejects.toThrow(re);
    await expect(readHeader(bytesSource(frame(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))))).rejects.toThrow(/UTF-8/);
  });

  test("pathological headers stay fast: deep nesting, a million spaces, 50k tensors", async () => {
    const t0 = performance.now();
    await expect(readHeader(bytesSource(frame("[".repeat(100_000) + "]".repeat(100_000))))).rejects.toThrow(/a JSON object/);
    await expect(readHeader(bytesSource(frame('{"a":' + "[".repeat(100_000) + "]".repeat(100_000) + "}")))).rejects.toThrow(/a\.shape|an object/);
    expect((await readHeader(bytesSource(frame("{}" + " ".repeat(1_000_000))))).tensors.size).toBe(0);
    const many: Record<string, unknown> = {};
    for (let i = 0; i < 50_000; i++) many[`t${i}`] = { dtype: "U8", shape: [1], data_offsets: [i, i + 1] };
    expect((await readHeader(bytesSource(frame(JSON.stringify(many), 50_000)))).tensors.size).toBe(50_000);
    many.t49999 = { dtype: "U8", shape: [1], data_offsets: [0, 1] }; // overlaps t0
    await expect(readHeader(bytesSource(frame(JSON.stringify(many), 50_000)))).rejects.toThrow(/not overlapping/);
    expect(performance.now() - t0).toBeLessThan(20_000); // generous: a hang would blow through it, speed is not asserted finer
  });

  test("encodeTensor refuses what it cannot write", () => {
    expect(() => encodeTensor("I8" as never, [1])).toThrow(FormatError);
    expect(() => writeSafetensors({ a: { dtype: "F32", shape: [3], data: [1, 2] } })).toThrow(/prod\(shape/);
  });
});
