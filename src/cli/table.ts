// Plain-text tables and number formatting for the CLI.

export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** 1.23e-6 style. */
export function sci(x: number): string {
  return Number.isFinite(x) ? x.toExponential(2) : String(x);
}

/** 12,345 style. */
export function int(x: number): string {
  return Math.round(x).toLocaleString("en-US");
}

/** Bytes as B / KiB / MiB / GiB / TiB. */
export function bytes(x: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${i === 0 ? x.toFixed(0) : x.toFixed(2)} ${units[i]}`;
}
