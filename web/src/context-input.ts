// The context box's rule, kept the same as `mlakit analyze --context` (digits only, a positive safe
// integer) plus the page's own bound: no more tokens than the preset's max_seq_len. Pure, so the
// Node tests can check it with fast-check without a browser.

export type ContextParse = { ok: true; value: number } | { ok: false; message: string };

const int = (n: number): string => n.toLocaleString("en-US");

export function parseContext(text: string, maxSeqLen: number, presetName: string): ContextParse {
  const s = text.trim();
  const expected = `expected a whole number of tokens from 1 to ${int(maxSeqLen)} (${presetName}'s max_seq_len)`;
  if (!/^[0-9]+$/.test(s) || !Number.isSafeInteger(Number(s)) || Number(s) < 1) {
    return { ok: false, message: `context ${JSON.stringify(text)}: ${expected}` };
  }
  const value = Number(s);
  if (value > maxSeqLen) return { ok: false, message: `context ${int(value)} is above ${presetName}'s max_seq_len: ${expected}` };
  return { ok: true, value };
}
