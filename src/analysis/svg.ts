// Hand-written SVG line charts (no library): log-log axes with decade ticks, a legend, optional
// measured points drawn as markers over the predicted lines. Text only, browser- and Node-safe.

import { ConfigError } from "../errors.js";

export interface Series {
  name: string;
  points: [number, number][];
  color: string;
  dashed?: boolean;
  /** A thin dotted line (secondary predictions). */
  dotted?: boolean;
}

export interface Markers {
  name: string;
  points: [number, number][];
  color: string;
  /** Drawn as a ring instead of a disc. */
  hollow?: boolean;
}

export interface ChartSpec {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  markers?: Markers[];
  formatX: (x: number) => string;
  formatY: (y: number) => string;
  /** Horizontal reference lines, e.g. a memory size. */
  hLines?: { y: number; label: string }[];
}

export const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"];

const W = 900, H = 440;
const M = { left: 92, right: 250, top: 58, bottom: 56 };

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const f1 = (x: number) => (Math.round(x * 10) / 10).toString();

function dash(s: Series): string {
  return s.dotted ? ' stroke-dasharray="2 3"' : s.dashed ? ' stroke-dasharray="7 4"' : "";
}

function marker(x: number, y: number, m: Markers): string {
  return m.hollow
    ? `<circle cx="${f1(x)}" cy="${f1(y)}" r="5" fill="#ffffff" stroke="${m.color}" stroke-width="2.5"/>`
    : `<circle cx="${f1(x)}" cy="${f1(y)}" r="5" fill="${m.color}" stroke="#000" stroke-width="1"/>`;
}

/** Layout of svgDocument: the width in px the charts are laid out for (default 900; the page passes its column's width so text is drawn at its nominal size). */
export interface SvgLayout {
  width?: number;
}

/** Narrower than this, the legend column leaves the plot too little room. */
export const MIN_CHART_WIDTH = 600;

/** One chart as an SVG group of size `width` x H, translated by `dy`. */
export function chartGroup(spec: ChartSpec, dy = 0, width = W): string {
  const all = [...spec.series.flatMap((s) => s.points), ...(spec.markers ?? []).flatMap((m) => m.points)].filter(([x, y]) => x > 0 && y > 0 && Number.isFinite(y));
  for (const h of spec.hLines ?? []) if (h.y > 0) all.push([all[0]?.[0] ?? 1, h.y]);
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  const x0 = Math.floor(Math.log10(Math.min(...xs))), x1 = Math.ceil(Math.log10(Math.max(...xs)));
  const y0 = Math.floor(Math.log10(Math.min(...ys))), y1 = Math.max(Math.ceil(Math.log10(Math.max(...ys))), y0 + 1);
  const pw = width - M.left - M.right, ph = H - M.top - M.bottom;
  const px = (x: number) => M.left + ((Math.log10(x) - x0) / Math.max(x1 - x0, 1)) * pw;
  const py = (y: number) => M.top + ph - ((Math.log10(y) - y0) / (y1 - y0)) * ph;
  const out: string[] = [];
  out.push(`<g transform="translate(0,${dy})" font-family="Helvetica, Arial, sans-serif">`);
  out.push(`<rect x="0" y="0" width="${width}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${M.left}" y="24" font-size="16" font-weight="bold" fill="#222">${esc(spec.title)}</text>`);
  if (spec.subtitle) out.push(`<text x="${M.left}" y="42" font-size="11.5" fill="#555">${esc(spec.subtitle)}</text>`);
  // grid and ticks
  const yStep = y1 - y0 > 8 ? 2 : 1;
  for (let e = y0; e <= y1; e += yStep) {
    const y = py(10 ** e);
    out.push(`<line x1="${M.left}" y1="${f1(y)}" x2="${M.left + pw}" y2="${f1(y)}" stroke="#e3e3e3"/>`);
    out.push(`<text x="${M.left - 8}" y="${f1(y + 4)}" font-size="11" text-anchor="end" fill="#333">${esc(spec.formatY(10 ** e))}</text>`);
  }
  for (let e = x0; e <= x1; e++) {
    const x = px(10 ** e);
    out.push(`<line x1="${f1(x)}" y1="${M.top}" x2="${f1(x)}" y2="${M.top + ph}" stroke="#e3e3e3"/>`);
    out.push(`<text x="${f1(x)}" y="${M.top + ph + 18}" font-size="11" text-anchor="middle" fill="#333">${esc(spec.formatX(10 ** e))}</text>`);
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${M.left + pw / 2}" y="${H - 14}" font-size="12.5" text-anchor="middle" fill="#222">${esc(spec.xLabel)}</text>`);
  out.push(`<text transform="translate(20,${M.top + ph / 2}) rotate(-90)" font-size="12.5" text-anchor="middle" fill="#222">${esc(spec.yLabel)}</text>`);
  // reference lines
  for (const h of spec.hLines ?? []) {
    const y = py(h.y);
    out.push(`<line x1="${M.left}" y1="${f1(y)}" x2="${M.left + pw}" y2="${f1(y)}" stroke="#444" stroke-dasharray="2 4"/>`);
    out.push(`<text x="${M.left + 6}" y="${f1(y - 5)}" font-size="11" fill="#444">${esc(h.label)}</text>`);
  }
  // lines
  for (const s of spec.series) {
    const pts = s.points.filter(([x, y]) => x > 0 && y > 0 && Number.isFinite(y));
    const d = pts.map(([x, y], i) => `${i === 0 ? "M" : "L"}${f1(px(x))},${f1(py(y))}`).join(" ");
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.dotted ? 1.5 : 2.2}"${dash(s)}/>`);
  }
  for (const m of spec.markers ?? []) {
    for (const [x, y] of m.points) out.push(marker(px(x), py(y), m));
  }
  // legend
  const lx = M.left + pw + 16;
  let ly = M.top + 8;
  for (const s of spec.series) {
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 26}" y2="${ly}" stroke="${s.color}" stroke-width="${s.dotted ? 1.5 : 2.5}"${dash(s)}/>`);
    out.push(`<text x="${lx + 32}" y="${ly + 4}" font-size="12" fill="#222">${esc(s.name)}</text>`);
    ly += 22;
  }
  for (const m of spec.markers ?? []) {
    out.push(marker(lx + 13, ly, m));
    out.push(`<text x="${lx + 32}" y="${ly + 4}" font-size="12" fill="#222">${esc(m.name)}</text>`);
    ly += 22;
  }
  out.push(`</g>`);
  return out.join("\n");
}

/** A standalone SVG document with the charts stacked vertically, laid out `layout.width` px wide (at least MIN_CHART_WIDTH). */
export function svgDocument(charts: ChartSpec[], layout: SvgLayout = {}): string {
  if (layout.width !== undefined && !(Number.isFinite(layout.width) && layout.width > 0)) throw new ConfigError("width", layout.width, "a positive number of px");
  const w = Math.max(MIN_CHART_WIDTH, Math.round(layout.width ?? W));
  const body = charts.map((c, i) => chartGroup(c, i * H, w)).join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${H * charts.length}" viewBox="0 0 ${w} ${H * charts.length}">\n${body}\n</svg>\n`;
}
