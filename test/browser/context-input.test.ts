// The page's context box rule (web/src/context-input.ts), in Node: the CLI's --context rule (digits
// only, a positive integer) bounded by the preset's max_seq_len, with a message naming the value,
// the expectation and the limit.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseContext } from "../../web/src/context-input.js";

const MAX = 163_840; // deepseek-v3's max_seq_len (config.json of deepseek-ai/DeepSeek-V3)
const grouped = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");

describe("page context box", () => {
  it("takes every whole number from 1 to max_seq_len, as typed or with surrounding spaces", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX }), fc.constantFrom("", " ", "\t"), (n, pad) => {
        expect(parseContext(`${pad}${n}${pad}`, MAX, "deepseek-v3")).toEqual({ ok: true, value: n });
      }),
    );
  });

  it("refuses a number above max_seq_len, naming the value and the limit", () => {
    fc.assert(
      fc.property(fc.integer({ min: MAX + 1, max: Number.MAX_SAFE_INTEGER }), (n) => {
        const r = parseContext(String(n), MAX, "deepseek-v3");
        expect(r.ok).toBe(false);
        if (!r.ok) {
          expect(r.message).toContain(grouped(n));
          expect(r.message).toContain(`1 to ${grouped(MAX)} (deepseek-v3's max_seq_len)`);
        }
      }),
    );
  });

  for (const text of ["", "0", "00", "-5", "2.5", "abc", "1e9", "0x10", "+3", "4 096", "9007199254740993", "１２"]) {
    it(`refuses ${JSON.stringify(text)}, quoting it`, () => {
      const r = parseContext(text, MAX, "kimi-k2");
      expect(r).toEqual({ ok: false, message: expect.stringContaining(`context ${JSON.stringify(text)}: expected a whole number of tokens from 1 to ${grouped(MAX)} (kimi-k2's max_seq_len)`) });
    });
  }

  it("refuses any text that is not digits, whatever it is", () => {
    fc.assert(
      fc.property(fc.string().filter((s) => !/^\s*[0-9]+\s*$/.test(s)), (s) => {
        const r = parseContext(s, MAX, "deepseek-v3");
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.message).toContain(JSON.stringify(s));
      }),
    );
  });
});
