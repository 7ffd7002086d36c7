// DeepSeek-V3.2's lightning indexer on the core: the index score of every cached key for the
// query rows (fp8_index of the official kernel.py) and the exact top-k selection of one row.
//
// Scores: score[m, n] = ks[n] * sum_h w[m, h] * ReLU(q8[m, h] . k8[n]). q8 and k8 hold e4m3
// values as float32 (exact), so each product is exact and only the float32 sums round; the
// official GPU kernel also accumulates in float32. The head dots of 64 keys at a time are one
// small GEMM (keys x q^T, the core's gemm_4x8 with q packed once per query row, both operands
// L1/L2-resident), then each key's ReLU-weighted sum over heads, four heads per vector.

import { hsum, madd } from "./common";
import { gemm_4x8, pack_nk_8, packed_size_8 } from "./gemm";
import { KB } from "./attention_core";
import { e4m3RowToF32 } from "./codecs";

/**
 * One query row against nk keys: logits [nk, HI] = keys [nk, DI] (rows ldkB bytes apart) q^T by
 * the core's GEMM (q packed once per row into 8-head panels), then per key
 * om[n] = ks[n] * sum_h w[h] * max(logits[n, h], 0), four heads per vector.
 */
// @ts-ignore: decorator
@inline function scoreKeys(qPacked: usize, wm: usize, HI: i32, DI: i32, k: usize, ldkB: usize, ks: usize, nk: i32, om: usize, logits: usize): void {
  gemm_4x8(nk, HI, DI, k, <i32>(ldkB >> 2), qPacked, logits, HI);
  const zero = f32x4.splat(0), HI4 = HI & ~3;
  for (let n = 0; n < nk; n++) {
    const ln = logits + ((<usize>(n * HI)) << 2);
    let acc = f32x4.splat(0);
    for (let h = 0; h < HI4; h += 4) acc = madd(v128.load(wm + (<usize>h << 2)), f32x4.max(v128.load(ln + (<usize>h << 2)), zero), acc);
    let sum = hsum(acc);
    for (let h = HI4; h < HI; h++) sum += load<f32>(wm + (<usize>h << 2)) * max<f32>(load<f32>(ln + (<usize>h << 2)), 0);
    store<f32>(om + (<usize>n << 2), sum * load<f32>(ks + (<usize>n << 2)));
  }
}

/** Floats of scratch either scoring kernel needs: alignment, one block of KB keys as float32, q packed, the block's logits [KB, HI]. */
export function dsa_index_scratch_floats(HI: i32, DI: i32): i32 {
  return 4 + KB * DI + packed_size_8(HI, DI) + KB * HI;
}

// @ts-ignore: decorator
@inline function scratchTile(scratch: usize): usize {
  return (scratch + 15) & ~(<usize>15);
}

/**
 * Index scores of s query rows against T keys: q8 [s, HI, DI], w [s, HI], k8 [T, DI] (rows ldk
 * floats apart), ks [T] -> out [s, T] (rows ldo floats apart), KB keys at a time.
 * scratch: dsa_index_scratch_floats(HI, DI).
 */
export function dsa_index_scores(s: i32, T: i32, HI: i32, DI: i32, q8: usize, w: usize, k8: usize, ldk: i32, ks: usize, out: usize, ldo: i32, scratch: usize): void {
  const qRow = <usize>(HI * DI) << 2, ldkB = <usize>ldk << 2;
  const packed = scratchTile(scratch) + ((<usize>(KB * DI)) << 2), logits = packed + ((<usize>packed_size_8(HI, DI)) << 2);
  for (let m = 0; m < s; m++) {
    pack_nk_8(q8 + <usize>m * qRow, DI, HI, DI, packed);
    const wm = w + ((<usize>(m * HI)) << 2), om = out + ((<usize>m * <usize>ldo) << 2);
    for (let j0 = 0; j0 < T; j0 += KB) {
      scoreKeys(packed, wm, HI, DI, k8 + <usize>j0 * ldkB, ldkB, ks + (<usize>j0 << 2), min(KB, T - j0), om + (<usize>j0 << 2), logits);
    }
  }
}

/**
 * The same scores over the paged cache: key n is token n of the sequence whose block ids are
 * table[0 .. ceil(T/KB)), each block blockBytes long in the pool (poolBytes), its KB keys' DI e4m3
 * codes from byte keysOffset (token-major) and their KB float32 scales right after them (the
 * LatentCache block layout, src/cache/index-keys.ts). A block's codes are decoded into a float32
 * tile (exact), then scored as dsa_index_scores scores contiguous keys, so both give the same
 * bits. scratch: dsa_index_scratch_floats(HI, DI).
 */
export function dsa_index_scores_paged(s: i32, T: i32, HI: i32, DI: i32, q8: usize, w: usize, pool: usize, poolBytes: usize, table: usize, blockBytes: usize, keysOffset: usize,
  out: usize, ldo: i32, scratch: usize): void {
  const qRow = <usize>(HI * DI) << 2, DIB = <usize>DI << 2;
  const tile = scratchTile(scratch), packed = tile + ((<usize>(KB * DI)) << 2), logits = packed + ((<usize>packed_size_8(HI, DI)) << 2);
  for (let m = 0; m < s; m++) {
    pack_nk_8(q8 + <usize>m * qRow, DI, HI, DI, packed);
    const wm = w + ((<usize>(m * HI)) << 2), om = out + ((<usize>m * <usize>ldo) << 2);
    for (let j0 = 0; j0 < T; j0 += KB) {
      const nk = min(KB, T - j0);
      const id = load<i32>(table + (<usize>(j0 / KB) << 2));
      assert(id >= 0 && <usize>(id + 1) * blockBytes <= poolBytes); // the host checks it too
      const codes = pool + <usize>id * blockBytes + keysOffset;
      e4m3RowToF32(codes, nk * DI, tile);
      scoreKeys(packed, wm, HI, DI, tile, DIB, codes + <usize>KB * <usize>DI, nk, om + (<usize>j0 << 2), logits);
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
