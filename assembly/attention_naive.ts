// Naive decode: one new token attends over a cached K/V [T, G, *] with G kv heads, each shared by
// H/G query heads (MLA's naive path and MHA: G = H; GQA). Every cached element is read once per
// step, so this is memory-bound. Per block of KB keys the loops walk K and V as four concurrent
// streams (keys j, j+KB/4, j+KB/2, j+3KB/4, each in memory order, head inner: a GQA group's key
// row is read from L1 by its other heads), which keeps more DRAM requests in flight than one
// stream (as the GEMV does), reuses each q_h load for four keys and each o_h load/store for four
// values. Walking one group's keys at a stride of G rows instead defeats the prefetcher (every key
// row in its own 4 KiB page). The
// online softmax and the normalisation are attention_core's (softmaxBlock over the H score rows,
// normalizeRows), so this kernel differs from the one loop only in how it walks K and V.

import { madd } from "./common";
import { KB, dot1x4, normalizeRows, softmaxBlock } from "./attention_core";

const KBB: usize = <usize>KB << 2;

/** MHA-layout decode (G = H): q [H, qk], kRow [T, H, qk], vRow [T, H, dv]; see attn_decode_grouped. */
export function attn_decode_naive(H: i32, qk: i32, dv: i32, startPos: i32, q: usize, kRow: usize, vRow: usize, scale: f32, o: usize, scratch: usize): void {
  decodeGrouped(H, H, H, qk, dv, startPos, q, kRow, vRow, scale, o, scratch);
}

/**
 * attn_decode_naive for heads h0 .. h1-1 only (a thread's share): the same arithmetic per head, so
 * the same bits as the whole call. q, kRow, vRow, o as there (all H heads); scratch:
 * attend_scratch_floats(h1 - h0) floats.
 */
export function attn_decode_naive_heads(H: i32, h0: i32, h1: i32, qk: i32, dv: i32, startPos: i32, q: usize, kRow: usize, vRow: usize, scale: f32, o: usize, scratch: usize): void {
  const qkB = <usize>qk << 2, dvB = <usize>dv << 2;
  decodeGrouped(h1 - h0, h1 - h0, H, qk, dv, startPos, q + <usize>h0 * qkB, kRow + <usize>h0 * qkB, vRow + <usize>h0 * dvB, scale, o + <usize>h0 * dvB, scratch);
}

/**
 * q [H, qk], kRow [T, G, qk], vRow [T, G, dv] with T = startPos + 1 (new token appended); query
 * head h reads kv head h / (H/G). o [H, dv].
 * scratch: attend_scratch_floats(H) floats (scores [H, KB], m [H], l [H], alpha [H]).
 */
export function attn_decode_grouped(H: i32, G: i32, qk: i32, dv: i32, startPos: i32, q: usize, kRow: usize, vRow: usize, scale: f32, o: usize, scratch: usize): void {
  decodeGrouped(H, G, G, qk, dv, startPos, q, kRow, vRow, scale, o, scratch);
}

/** attn_decode_grouped over G of the ldG kv heads a token's K/V row holds (G = ldG: all of them). */
function decodeGrouped(H: i32, G: i32, ldG: i32, qk: i32, dv: i32, startPos: i32, q: usize, kRow: usize, vRow: usize, scale: f32, o: usize, scratch: usize): void {
  const T = startPos + 1, hpg = H / G;
  const S = scratch, mArr = S + <usize>H * KBB, lArr = mArr + (<usize>H << 2), alpha = lArr + (<usize>H << 2);
  const qkB = <usize>qk << 2, dvB = <usize>dv << 2, kStep = <usize>ldG * qkB, vStep = <usize>ldG * dvB;
  const dv4 = dv & ~3;
  for (let h = 0; h < H; h++) {
    store<f32>(mArr + (<usize>h << 2), -Infinity);
    store<f32>(lArr + (<usize>h << 2), 0);
  }
  memory.fill(o, 0, <usize>H * dvB);
  for (let j0 = 0; j0 < T; j0 += KB) {
    const nk = min(KB, T - j0);
    // scores: four streams of keys (q4 apart), each key's heads in memory order
    const q4 = nk >> 2;
    for (let jj = 0; jj < q4; jj++) {
      let k0 = kRow + <usize>(j0 + jj) * kStep, qh = q, Sh = S + (<usize>jj << 2);
      const st = <usize>q4 * kStep;
      for (let h = 0, hg = 1; h < H; h++, hg++) {
        dot1x4(qh, k0, k0 + st, k0 + 2 * st, k0 + 3 * st, qk, Sh, <usize>q4 << 2, 4, false);
        if (hg == hpg) { k0 += qkB; hg = 0; }
        qh += qkB; Sh += KBB;
      }
    }
    for (let jj = 4 * q4; jj < nk; jj++) {
      let kh = kRow + <usize>(j0 + jj) * kStep, qh = q, Sh = S + (<usize>jj << 2);
      for (let h = 0, hg = 1; h < H; h++, hg++) {
        dot1x4(qh, kh, kh, kh, kh, qk, Sh, 4, 1, false);
        if (hg == hpg) { kh += qkB; hg = 0; }
        qh += qkB; Sh += KBB;
      }
    }
    // online softmax of the H score rows (every head sees all T keys), then o[h] *= alpha[h]
    softmaxBlock(H, 0, H, T - 1, j0, nk, S, scale, mArr, lArr, alpha);
    for (let h = 0; h < H; h++) {
      const a = load<f32>(alpha + (<usize>h << 2));
      if (a != 1) {
        const oh = o + <usize>h * dvB, va = f32x4.splat(a);
        let c = 0;
        for (; c < dv4; c += 4) v128.store(oh + (<usize>c << 2), f32x4.mul(v128.load(oh + (<usize>c << 2)), va));
        for (; c < dv; c++) store<f32>(oh + (<usize>c << 2), load<f32>(oh + (<usize>c << 2)) * a);
      }
    }
    // o[h] += p[h, j] v[j, h]: four streams of values, then the leftover keys one by one
    const st = <usize>q4 * vStep, pst = <usize>q4 << 2;
    for (let jj = 0; jj < q4; jj++) {
      let v0 = vRow + <usize>(j0 + jj) * vStep, oh = o, ph = S + (<usize>jj << 2);
      for (let h = 0, hg = 1; h < H; h++, hg++) {
        const p0 = v128.load32_splat(ph), p1 = v128.load32_splat(ph + pst), p2 = v128.load32_splat(ph + 2 * pst), p3 = v128.load32_splat(ph + 3 * pst);
        let c = 0;
        for (; c < dv4; c += 4) {
          const oc = <usize>c << 2;
          let acc = madd(p0, v128.load(v0 + oc), v128.load(oh + oc));
          acc = madd(p1, v128.load(v0 + st + oc), acc);
          acc = madd(p2, v128.load(v0 + 2 * st + oc), acc);
          v128.store(oh + oc, madd(p3, v128.load(v0 + 3 * st + oc), acc));
        }
        for (; c < dv; c++) {
          const oc = <usize>c << 2;
          store<f32>(oh + oc, load<f32>(oh + oc) + load<f32>(ph) * load<f32>(v0 + oc) + load<f32>(ph + pst) * load<f32>(v0 + st + oc)
            + load<f32>(ph + 2 * pst) * load<f32>(v0 + 2 * st + oc) + load<f32>(ph + 3 * pst) * load<f32>(v0 + 3 * st + oc));
        }
        if (hg == hpg) { v0 += dvB; hg = 0; }
        oh += dvB; ph += KBB;
      }
    }
    let vj = vRow + <usize>(j0 + 4 * q4) * vStep;
    for (let jj = 4 * q4; jj < nk; jj++) {
      let vh = vj, oh = o, ph = S + (<usize>jj << 2);
      for (let h = 0, hg = 1; h < H; h++, hg++) {
        const p = v128.load32_splat(ph);
        const ps = load<f32>(ph);
        let c = 0;
        for (; c < dv4; c += 4) {
          const oc = <usize>c << 2;
          v128.store(oh + oc, madd(p, v128.load(vh + oc), v128.load(oh + oc)));
        }
        for (; c < dv; c++) {
          const oc = <usize>c << 2;
          store<f32>(oh + oc, load<f32>(oh + oc) + ps * load<f32>(vh + oc));
        }
        if (hg == hpg) { vh += dvB; hg = 0; }
        oh += dvB; ph += KBB;
      }
      vj += vStep;
    }
  }
  normalizeRows(H, o, dvB, lArr, dv);
}
