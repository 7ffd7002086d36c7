// RMSNorm: y = x * rsqrt(mean(x^2) + eps) * w, per row (q_norm, kv_norm). In place is allowed (y == x).

import { madd, hsum } from "./common";

/** rows rows of n floats: x at row stride ldx, y at row stride ldy, weight w [n]. */
export function rmsnorm(rows: i32, n: i32, x: usize, ldx: i32, w: usize, y: usize, ldy: i32, eps: f32): void {
  const n4 = n & ~3;
  for (let r = 0; r < rows; r++) {
    const xr = x + ((<usize>r * ldx) << 2);
    const yr = y + ((<usize>r * ldy) << 2);
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
    let i = 0;
    for (; i + 8 <= n; i += 8) {
      const a = v128.load(xr + (<usize>i << 2)), b = v128.load(xr + (<usize>i << 2), 16);
      s0 = madd(a, a, s0);
      s1 = madd(b, b, s1);
    }
    let ss = hsum(f32x4.add(s0, s1));
    for (; i < n; i++) {
      const v = load<f32>(xr + (<usize>i << 2));
      ss += v * v;
    }
    const inv = <f32>1.0 / Mathf.sqrt(ss / <f32>n + eps);
    const vinv = f32x4.splat(inv);
    i = 0;
    for (; i < n4; i += 4) {
      const o = <usize>i << 2;
      v128.store(yr + o, f32x4.mul(f32x4.mul(v128.load(xr + o), vinv), v128.load(w + o)));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(yr + o, load<f32>(xr + o) * inv * load<f32>(w + o));
    }
  }
}
