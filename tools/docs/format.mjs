// @ts-check
// Number formats of the docs' figures, one per kind, so a figure reads the same everywhere.

/** @param {number} r */
export const times = (r) => `x${r.toFixed(2)}`;
/** A range of ratios, "x1.20-2.69" (one value when both ends round alike). @param {number[]} rs @param {number} [digits] */
export function timesRange(rs, digits = 2) {
  const lo = Math.min(...rs).toFixed(digits), hi = Math.max(...rs).toFixed(digits);
  return lo === hi ? `x${lo}` : `x${lo}-${hi}`;
}
/** @param {number} p */
export const pct = (p) => `${Math.round(p)}%`;
/** @param {number[]} ps */
export function pctRange(ps) {
  const lo = Math.round(Math.min(...ps)), hi = Math.round(Math.max(...ps));
  return lo === hi ? `${lo}%` : `${lo}-${hi}%`;
}
/** @param {number[]} xs @param {number} digits */
export function range(xs, digits) {
  const lo = Math.min(...xs).toFixed(digits), hi = Math.max(...xs).toFixed(digits);
  return lo === hi ? lo : `${lo}-${hi}`;
}
/** @param {number} x */
export const sci = (x) => x.toExponential(1);
/** Three significant digits in scientific notation, as the runtime matrix prints. @param {number} x */
export const sci2 = (x) => x.toExponential(2);
/** An upper bound with two significant digits (rounded up: "within" must stay true). @param {number} x */
export function sciCeil(x) {
  const e = Math.floor(Math.log10(x)), m = Math.ceil((x / 10 ** e) * 10 - 1e-9) / 10;
  return m >= 10 ? `1.0e${e + 1}` : `${m.toFixed(1)}e${e}`;
}
/** @param {number} ms */
export const ms2 = (ms) => ms.toFixed(2);
/** @param {number} x */
export const f1 = (x) => x.toFixed(1);
/** "2026-12-01" of an ISO date. @param {string} iso */
export const day = (iso) => iso.slice(0, 10);

/** A markdown table. @param {string[]} head @param {string[][]} rows */
export function table(head, rows) {
  return [head, head.map(() => "---"), ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}
