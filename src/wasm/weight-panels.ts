// Packing a quantised weight (src/weight-formats.ts) into the core's compressed panels
// (assembly/weights.ts): 8 output columns per panel, narrow elements, and for int8/fp8 one float32
// scale per (panel, k-group, column). The packed matrix may be a view of the source: element
// (n, k) is source (r0 + n, c0 + k), or (r0 + k, c0 + n) when `kn` (W_UK: y = x B).

import type { QuantisedWeight } from "../weight-formats.js";

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

export const WF_CODE = { f32: 0, bf16: 1, int8: 2, fp8: 3 } as const;

export interface PanelView {
  w: QuantisedWeight;
  N: number;
  K: number;
  r0: number;
  c0: number;
  kn: boolean;
}

/** Bytes per panel row of 8 elements. */
export function panelRowBytes(format: QuantisedWeight["format"]): number {
  return format === "bf16" ? 16 : 8;
}

/**
 * The longest k-group that never crosses a source scale block for any of the views (they share
 * one source): a divisor of the block's length along k and of every view's k offset.
 */
export function groupLength(views: readonly PanelView[]): number {
  const v0 = views[0];
  if (v0.w.format === "bf16" || !v0.w.block) return Math.max(1, v0.K);
  let g = v0.kn ? v0.w.block[0] : v0.w.block[1];
  for (const v of views) g = gcd(g, v.kn ? v.r0 : v.c0);
  return g;
}

/** Write view's panels into `codes` (packed_bytes_w long) and, for scaled formats, its scales (scale_floats_w long). */
export function writePanels(v: PanelView, KG: number, codes: Uint8Array, scales: Float32Array | null): void {
  const { w, N, K, r0, c0, kn } = v, cols = w.shape[1], P = Math.ceil(N / 8);
  const src = (n: number, k: number) => (kn ? (r0 + k) * cols + c0 + n : (r0 + n) * cols + c0 + k);
  if (w.format === "bf16") {
    const out = new Uint16Array(codes.buffer, codes.byteOffset, codes.byteLength >> 1);
    const c = w.codes as Uint16Array;
    for (let p = 0; p < P; p++) {
      for (let k = 0; k < K; k++) {
        const row = (p * K + k) * 8;
        for (let j = 0; j < 8; j++) {
          const n = p * 8 + j;
          out[row + (j < 4 ? 2 * j : 2 * (j - 4) + 1)] = n < N ? c[src(n, k)] : 0; // u32 lane i = column i | column i+4 << 16
        }
      }
    }
    return;
  }
  const c = w.codes, b = w.block!, G = Math.ceil(K / KG), nbCols = Math.ceil(cols / b[1]);
  for (let p = 0; p < P; p++) {
    for (let k = 0; k < K; k++) {
      const row = (p * K + k) * 8;
      for (let j = 0; j < 8; j++) {
        const n = p * 8 + j;
        codes[row + j] = n < N ? c[src(n, k)] & 0xff : 0;
      }
    }
    for (let g = 0; g < G; g++) {
      for (let j = 0; j < 8; j++) {
        const n = p * 8 + j;
        if (n >= N) {
          scales![(p * G + g) * 8 + j] = 0;
          continue;
        }
        const at = src(n, g * KG), si = Math.floor(at / cols), sk = at % cols; // the group's first element: its block is the group's
        scales![(p * G + g) * 8 + j] = w.scales![Math.floor(si / b[0]) * nbCols + Math.floor(sk / b[1])];
      }
    }
  }
}
