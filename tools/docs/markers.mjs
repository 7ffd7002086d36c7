// @ts-check
// Generated fragments inside hand-written markdown: `<!-- fig:NAME -->...<!-- /fig -->`. Everything
// between the two markers belongs to the generator; everything outside them to the author.
// A fragment with a newline is a block (a table, a list) and sits on lines of its own, with blank
// lines around it so markdown reads it as its own block.

const MARKER = /<!-- fig:([a-z0-9-]+) -->([\s\S]*?)<!-- \/fig -->/g;

/** The names of the fragments a text uses, in order. */
export function markerNames(text) {
  return [...text.matchAll(MARKER)].map((m) => m[1]);
}

/**
 * `text` with every marker's content replaced by its fragment. Throws on a name `fragments` does
 * not have and on an opening marker without its closing one (nothing would be replaced silently).
 * @param {string} text
 * @param {Record<string, string>} fragments
 * @param {string} label where the text comes from, for the error message
 */
export function fillMarkers(text, fragments, label) {
  const opened = (text.match(/<!-- fig:/g) ?? []).length;
  const closed = (text.match(/<!-- \/fig -->/g) ?? []).length;
  if (opened !== closed) throw new Error(`${label}: ${opened} <!-- fig:NAME --> markers but ${closed} <!-- /fig -->`);
  return text.replace(MARKER, (_, name) => {
    const f = fragments[name];
    if (f === undefined) throw new Error(`${label}: unknown figure fragment "${name}" (known: ${Object.keys(fragments).sort().join(", ")})`);
    const body = f.includes("\n") ? `\n\n${f.trim()}\n\n` : f;
    return `<!-- fig:${name} -->${body}<!-- /fig -->`;
  });
}
