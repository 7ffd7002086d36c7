// Fenced code blocks of a markdown file, with the line each starts on and the heading above it,
// so a failing snippet is reported as "README.md:123 (The latent KV cache)".
import { readFileSync } from "node:fs";

export interface CodeBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  heading: string;
  code: string;
}

export function codeBlocks(path: string, label = path): CodeBlock[] {
  const lines = readFileSync(path, "utf8").split("\n");
  const out: CodeBlock[] = [];
  let heading = "", open: { line: number; lang: string; body: string[] } | null = null;
  lines.forEach((text, i) => {
    if (open) {
      if (/^```\s*$/.test(text)) {
        out.push({ file: label, line: open.line, lang: open.lang, heading, code: open.body.join("\n") + "\n" });
        open = null;
      } else open.body.push(text);
      return;
    }
    const fence = /^```(\S*)/.exec(text);
    if (fence) open = { line: i + 1, lang: fence[1], body: [] };
    else if (/^#{1,6} /.test(text)) heading = text.replace(/^#+ /, "");
  });
  if (open) throw new Error(`${label}:${(open as { line: number }).line}: code block never closed`);
  return out;
}

/** `npm run mlakit -- ARGS   # comment` lines of sh blocks: the argument lists, in order. */
export function cliLines(block: CodeBlock): { line: number; args: string[] }[] {
  return block.code.split("\n").flatMap((text, i) => {
    const m = /^npm run mlakit -- (.*?)\s*(#.*)?$/.exec(text);
    return m ? [{ line: block.line + 1 + i, args: m[1].split(/\s+/).filter(Boolean) }] : [];
  });
}
