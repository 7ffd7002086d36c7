// Number formatting for tables, charts and the report (binary units for bytes, SI for the rest).

/** x divided by base until below it (at most units.length - 1 times), with the unit reached. */
function scaled(x: number, base: number, units: readonly string[]): [number, number] {
  let i = 0;
  while (Math.abs(x) >= base && i < units.length - 1) {
    x /= base;
    i++;
  }
  return [x, i];
}

const BINARY = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"], DECIMAL = ["B", "kB", "MB", "GB", "TB", "PB"];

export function fmtBytes(x: number): string {
  const [v, i] = scaled(x, 1024, BINARY);
  return `${i === 0 ? v.toFixed(0) : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ${BINARY[i]}`;
}

/** Decimal bytes (1 kB = 1000 B) for chart axes, whose ticks are powers of ten. */
export function fmtBytesDecimal(x: number): string {
  const [v, i] = scaled(x, 1000, DECIMAL);
  return `${Number(v.toPrecision(3))} ${DECIMAL[i]}`;
}

/** 1.23 G style (SI prefixes), for FLOPs and counts. */
export function fmtSi(x: number, digits = 3): string {
  const p = ["", "k", "M", "G", "T", "P", "E"];
  let i = 0;
  while (Math.abs(x) >= 1000 && i < p.length - 1) {
    x /= 1000;
    i++;
  }
  return `${Number(x.toPrecision(digits))}${p[i] ? " " + p[i] : ""}`;
}

export function fmtSeconds(s: number): string {
  if (s >= 1) return `${Number(s.toPrecision(3))} s`;
  if (s >= 1e-3) return `${Number((s * 1e3).toPrecision(3))} ms`;
  if (s >= 1e-6) return `${Number((s * 1e6).toPrecision(3))} µs`;
  return `${Number((s * 1e9).toPrecision(3))} ns`;
}

/** Context lengths: 1, 10, 100, 1k, 10k, 100k, 1M (powers of ten as the charts tick them). */
export function fmtTokens(x: number): string {
  if (x >= 1e6) return `${Number((x / 1e6).toPrecision(3))}M`;
  if (x >= 1e3) return `${Number((x / 1e3).toPrecision(3))}k`;
  return String(Math.round(x));
}

/** 12,345 style. */
export function fmtInt(x: number): string {
  return Math.round(x).toLocaleString("en-US");
}

export function fmtRatio(x: number): string {
  return x >= 100 ? `${x.toFixed(0)}x` : x >= 10 ? `${x.toFixed(1)}x` : `${x.toFixed(2)}x`;
}

/** Three significant digits, no exponent for ordinary sizes: 58.5, 22.7, 989000. */
export function fmtNum(x: number): string {
  return String(Number(x.toPrecision(3)));
}
