// Tiny DOM helpers: the page is plain TypeScript and DOM, no framework.

type Child = Node | string | number | null | undefined;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

export function byId(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (!e) throw new Error(`page is missing #${id}`);
  return e;
}

/** A table; a row given as {cells, cls} gets a class (for highlighting). The first `textCols` columns are left-aligned text. */
export function table(headers: string[], rows: (Child[] | { cells: Child[]; cls: string })[], textCols = 1): HTMLTableElement {
  const align = (i: number): Record<string, string> => (i < textCols ? { class: "text" } : {});
  const t = el("table", {}, el("thead", {}, el("tr", {}, ...headers.map((h, i) => el("th", align(i), h)))));
  const body = el("tbody");
  for (const r of rows) {
    const cells = Array.isArray(r) ? r : r.cells;
    const tr = el("tr", Array.isArray(r) ? {} : { class: r.cls }, ...cells.map((c, i) => el("td", align(i), c)));
    body.append(tr);
  }
  t.append(body);
  return t;
}

export function select(name: string, options: { value: string; label: string; disabled?: boolean }[], value: string): HTMLSelectElement {
  const s = el("select", { name, id: name });
  for (const o of options) {
    const opt = el("option", { value: o.value }, o.label);
    if (o.disabled) opt.disabled = true;
    s.append(opt);
  }
  s.value = value;
  return s;
}

export function labelled(text: string, control: HTMLElement): HTMLLabelElement {
  return el("label", {}, text, control);
}

/** Bytes with a binary unit. */
export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(n >= 100 || i === 0 ? 0 : 1)} ${units[i]}`;
}

export const int = (n: number): string => Math.round(n).toLocaleString("en-US");
export const sci = (n: number): string => (n === 0 ? "0" : Number.isFinite(n) ? n.toExponential(2).replace("e-", "e-").replace("e+", "e") : String(n));
