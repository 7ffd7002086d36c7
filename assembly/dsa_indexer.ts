// DeepSeek-V3.2's lightning indexer on the core: the index score of every cached key for the
// query rows (fp8_index of the official kernel.py) and the exact top-k selection of one row.
//
// Scores: score[m, n] = ks[n] * sum_h w[m, h] * ReLU(q8[m, h] . k8[n]). q8 and k8 hold e4m3
// values as float32 (exact), so each product is exact and only the float32 sums round; the
// official GPU kernel also accumulates in float32. Keys are the outer loop in tiles of 4, heads
// two at a time: each key row is loaded once per head pair, each q row once per 4 keys.

import { hsum, madd } from "./common";
import { KB } from "./attention_core";
import { e4m3RowToF32 } from "./codecs";

/** The four dots of q (d floats) with keys k0..k3 (rows of d floats) as one vector, lane i = q . k_i. */
// @ts-ignore: decorator
@inline function dots2x4(qa: usize, qb: usize, k0: usize, k1: usize, k2: usize, k3: usize, d: i32, out: usize): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
  const d4 = d & ~3, end = <usize>d4 << 2;
  for (let o: usize = 0; o < end; o += 16) {
    const x0 = v128.load(k0 + o), x1 = v128.load(k1 + o), x2 = v128.load(k2 + o), x3 = v128.load(k3 + o);
    const a = v128.load(qa + o), b = v128.load(qb + o);
    a0 = madd(a, x0, a0); a1 = madd(a, x1, a1); a2 = madd(a, x2, a2); a3 = madd(a, x3, a3);
    b0 = madd(b, x0, b0); b1 = madd(b, x1, b1); b2 = madd(b, x2, b2); b3 = madd(b, x3, b3);
  }
  let sa0 = hsum(a0), sa1 = hsum(a1), sa2 = hsum(a2), sa3 = hsum(a3);
  let sb0 = hsum(b0), sb1 = hsum(b1), sb2 = hsum(b2), sb3 = hsum(b3);
  for (let c = d4; c < d; c++) {
    const oc = <usize>c << 2;
    const x0 = load<f32>(k0 + oc), x1 = load<f32>(k1 + oc), x2 = load<f32>(k2 + oc), x3 = load<f32>(k3 + oc);
    const a = load<f32>(qa + oc), b = load<f32>(qb + oc);
    sa0 += a * x0; sa1 += a * x1; sa2 += a * x2; sa3 += a * x3;
    sb0 += b * x0; sb1 += b * x1; sb2 += b * x2; sb3 += b * x3;
  }
  store<f32>(out, sa0); store<f32>(out, sa1, 4); store<f32>(out, sa2, 8); store<f32>(out, sa3, 12);
  store<f32>(out, sb0, 16); store<f32>(out, sb1, 20); store<f32>(out, sb2, 24); store<f32>(out, sb3, 28);
}

/**
 * One query row against nk keys: q [HI, DI] (qm), w [HI] (wm), keys k (rows ldkB bytes apart),
 * their scales ks [nk] -> om [nk]. scratch: 8 floats.
 */
// @ts-ignore: decorator
@inline function scoreKeys(qm: usize, wm: usize, HI: i32, DI: i32, k: usize, ldkB: usize, ks: usize, nk: i32, om: usize, scratch: usize): void {
  const DIB = <usize>DI << 2;
  const zero = f32x4.splat(0);
  for (let n0 = 0; n0 < nk; n0 += 4) {
    const kn = min(4, nk - n0);
    const k0 = k + <usize>n0 * ldkB;
    const k1 = kn > 1 ? k0 + ldkB : k0, k2 = kn > 2 ? k0 + 2 * ldkB : k0, k3 = kn > 3 ? k0 + 3 * ldkB : k0;
    let acc = f32x4.splat(0);
    let h = 0;
    for (; h + 2 <= HI; h += 2) {
      const qa = qm + <usize>h * DIB;
      dots2x4(qa, qa + DIB, k0, k1, k2, k3, DI, scratch);
      acc = madd(v128.load32_splat(wm + (<usize>h << 2)), f32x4.max(v128.load(scratch), zero), acc);
      acc = madd(v128.load32_splat(wm + (<usize>(h + 1) << 2)), f32x4.max(v128.load(scratch, 16), zero), acc);
    }
    if (h < HI) {
      const qa = qm + <usize>h * DIB;
      dots2x4(qa, qa, k0, k1, k2, k3, DI, scratch);
      acc = madd(v128.load32_splat(wm + (<usize>h << 2)), f32x4.max(v128.load(scratch), zero), acc);
    }
    const ksn = ks + (<usize>n0 << 2), on = om + (<usize>n0 << 2);
    store<f32>(on, f32x4.extract_lane(acc, 0) * load<f32>(ksn));
    if (kn > 1) store<f32>(on, f32x4.extract_lane(acc, 1) * load<f32>(ksn, 4), 4);
    if (kn > 2) store<f32>(on, f32x4.extract_lane(acc, 2) * load<f32>(ksn, 8), 8);
    if (kn > 3) store<f32>(on, f32x4.extract_lane(acc, 3) * load<f32>(ksn, 12), 12);
  }
}

/**
 * Index scores of s query rows against T keys: q8 [s, HI, DI], w [s, HI], k8 [T, DI] (rows ldk
 * floats apart), ks [T] -> out [s, T] (rows ldo floats apart). scratch: 8 floats (16-byte aligned).
 */
export function dsa_index_scores(s: i32, T: i32, HI: i32, DI: i32, q8: usize, w: usize, k8: usize, ldk: i32, ks: usize, out: usize, ldo: i32, scratch: usize): void {
  const qRow = <usize>(HI * DI) << 2;
  for (let m = 0; m < s; m++) {
    scoreKeys(q8 + <usize>m * qRow, w + ((<usize>(m * HI)) << 2), HI, DI, k8, <usize>ldk << 2, ks, T, out + ((<usize>m * <usize>ldo) << 2), scratch);
  }
}

/** Floats of scratch dsa_index_scores_paged needs: 8, then (16-byte aligned) one block of KB keys as float32. */
export function dsa_index_scratch_floats(DI: i32): i32 {
  return 8 + 4 + KB * DI;
}

/**
 * The same scores over the paged cache: key n is token n of the sequence whose block ids are
 * table[0 .. ceil(T/KB)), each block blockBytes long in the pool (poolBytes), its KB keys' DI e4m3
 * codes from byte keysOffset (token-major) and their KB float32 scales right after them (the
 * LatentCache block layout, src/cache/index-keys.ts). Each block's codes are decoded once into a
 * float32 tile (exact) that every query row then reads. scratch: dsa_index_scratch_floats(DI).
 */
export function dsa_index_scores_paged(s: i32, T: i32, HI: i32, DI: i32, q8: usize, w: usize, pool: usize, poolBytes: usize, table: usize, blockBytes: usize, keysOffset: usize,
  out: usize, ldo: i32, scratch: usize): void {
  const qRow = <usize>(HI * DI) << 2, DIB = <usize>DI << 2;
  const tile = (scratch + 32 + 15) & ~(<usize>15);
  for (let j0 = 0; j0 < T; j0 += KB) {
    const nk = min(KB, T - j0);
    const id = load<i32>(table + (<usize>(j0 / KB) << 2));
    assert(id >= 0 && <usize>(id + 1) * blockBytes <= poolBytes); // the host checks it too
    const codes = pool + <usize>id * blockBytes + keysOffset, ks = codes + <usize>KB * <usize>DI;
    for (let n = 0; n < nk; n++) e4m3RowToF32(codes + <usize>n * <usize>DI, DI, tile + <usize>n * DIB);
    for (let m = 0; m < s; m++) {
      scoreKeys(q8 + <usize>m * qRow, w + ((<usize>(m * HI)) << 2), HI, DI, tile, DIB, ks, nk, out + ((<usize>m * <usize>ldo + <usize>j0) << 2), scratch);
    }
  }
}

// Top-k of one row. The order: score descending, ties by the LOWER key index first (the oracle's
// rule, src/reference/dsa/topk.ts), a total order on NaN-free scores, so the selection is exact
// and deterministic. A min-heap of the k best so far (its root the worst of them): a key enters
// only if it beats the root, which most keys of a long row do not, so the pass is ~O(n).

// @ts-ignore: decorator
@inline function better(sc: usize, a: i32, b: i32): bool {
  const x = load<f32>(sc + (<usize>a << 2)), y = load<f32>(sc + (<usize>b << 2));
  return x > y || (x == y && a < b);
}

/** Restore the heap below slot i (heap of n i32 key indices; the root is the worst). */
function siftDown(heap: usize, n: i32, i: i32, sc: usize): void {
  const key = load<i32>(heap + (<usize>i << 2));
  while (true) {
    const l = 2 * i + 1;
    if (l >= n) break;
    let c = l;
    const r = l + 1;
    if (r < n && better(sc, load<i32>(heap + (<usize>l << 2)), load<i32>(heap + (<usize>r << 2)))) c = r; // the worse child
    const ck = load<i32>(heap + (<usize>c << 2));
    if (!better(sc, key, ck)) break;
    store<i32>(heap + (<usize>i << 2), ck);
    i = c;
  }
  store<i32>(heap + (<usize>i << 2), key);
}

/**
 * The k best of keys 0..visible-1 of scores (f32 [>= visible]) -> out [k] i32, best first;
 * slots beyond the visible keys are -1. heap: min(k, visible) i32 of scratch.
 */
export function dsa_topk(scores: usize, visible: i32, k: i32, out: usize, heap: usize): void {
  const n = min(k, visible);
  let size = 0;
  for (let j = 0; j < visible; j++) {
    if (size < n) {
      // sift up: the new key climbs while it is worse than its parent
      let i = size++;
      while (i > 0) {
        const p = (i - 1) >> 1, pk = load<i32>(heap + (<usize>p << 2));
        if (!better(scores, pk, j)) break;
        store<i32>(heap + (<usize>i << 2), pk);
        i = p;
      }
      store<i32>(heap + (<usize>i << 2), j);
    } else if (n > 0 && better(scores, j, load<i32>(heap))) {
      store<i32>(heap, j);
      siftDown(heap, n, 0, scores);
    }
  }
  // pop the worst into the last slot until empty: out is best first
  for (let i = n - 1; i >= 0; i--) {
    store<i32>(out + (<usize>i << 2), load<i32>(heap));
    store<i32>(heap, load<i32>(heap + (<usize>i << 2)));
    siftDown(heap, i, 0, scores);
  }
  for (let i = n; i < k; i++) store<i32>(out + (<usize>i << 2), -1);
}
