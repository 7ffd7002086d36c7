// A ByteSource over bytes that refuses any read outside them and records the largest read: a
// parser that sized a read or an allocation from an unchecked length shows here.
import type { ByteSource } from "../../src/io/safetensors.js";

export function strictSource(bytes: Uint8Array): ByteSource & { maxRead: number } {
  const s = {
    size: bytes.length,
    maxRead: 0,
    read: async (o: number, l: number) => {
      if (!(o >= 0 && l >= 0 && o + l <= bytes.length)) throw new Error(`read out of range: ${o}+${l} of ${bytes.length}`);
      s.maxRead = Math.max(s.maxRead, l);
      return bytes.subarray(o, o + l);
    },
  };
  return s;
}
