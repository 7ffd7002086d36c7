// Figures with a unit (a ratio x1.2 or 3x, a percentage, a rate, a time) in a markdown file's
// prose that no generator put there: outside code blocks, inline code and `<!-- fig -->` markers.
// Such a figure was typed by hand and goes stale with the next run.

const FIGURE = /\bx\d+(?:\.\d+)?\b|\b\d+(?:\.\d+)?x\b|\b\d+(?:\.\d+)?\s?%|\b\d+(?:\.\d+)?\s?(?:GB\/s|GFLOP\/s|TFLOP\/s|TB\/s|ms|s|min|minutes|seconds|GHz)\b/g;

/** Blank out a match but keep its newlines, so line numbers stay. */
const blank = (m: string) => m.replace(/[^\n]/g, " ");

export function handTypedFigures(markdown: string): { line: number; text: string }[] {
  const prose = markdown
    .replace(/^```[\s\S]*?^```\s*$/gm, blank)
    .replace(/<!-- fig:[\s\S]*?<!-- \/fig -->/g, blank)
    .replace(/<!--[\s\S]*?-->/g, blank)
    .replace(/`[^`\n]*`/g, blank);
  return prose.split("\n").flatMap((l, i) =>
    [...l.matchAll(FIGURE)].map((m) => {
      const at = m.index ?? 0, src = markdown.split("\n")[i];
      return { line: i + 1, text: `${m[0]} in "${src.slice(Math.max(0, at - 30), at + 40).trim()}"` };
    }),
  );
}
