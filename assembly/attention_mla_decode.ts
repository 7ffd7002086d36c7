// MLA decode attention as a kernel library exposes it (FlashMLA's flash_mla_with_kvcache): the
// absorbed queries of s_q tokens of one sequence against its paged latent cache, dense (every
// cached token, optionally causal over the s_q tokens) or sparse (each token's own list of
// selected token indices, -1 slots skipped), returning the normalised output and the log-sum-exp
// per head. The loop is attention_core's attendCore (KEYS_PAGED or KEYS_SELECTED) with
// normalize = false; the finish turns its running max m and sum l into o / l and lse = m + ln l.
//
// Split-KV (threads): attn_mla_decode_range runs the same call over one key range [jBegin, jEnd)
// (a multiple of KB apart) and leaves that range's partial (o, lse); attn_mla_combine merges the
// partials of ranges that cover every key (FlashMLA's combine): with M = max_s lse_s and
// w_s = e^(lse_s - M), o = sum_s w_s o_s / sum_s w_s and lse = M + ln sum_s w_s. A range in which
// a row sees no key leaves lse = -Infinity (weight 0) for that row.

import { KEYS_PAGED, KEYS_SELECTED, KB, attendCore } from "./attention_core";
import { FMT_BF16, FMT_F16, FMT_F32, FMT_FP8, FMT_INT8 } from "./codecs";

/**
 * Rows r0 .. r0+n-1 of an attendCore call over R rows: o [R, dv] (row stride ldo) divided by l;
 * lse[(r - r0) * lseStride] = m + ln l (the
 * scaled scores' log-sum-exp, natural log). A row that saw no key (l == 0) gets o = 0 and lse =
 * emptyLse: +Infinity for a whole call (FlashMLA's convention for a query with nothing to attend
 * to), -Infinity for a partial range (it weighs nothing in the combine).
 */
function finishRows(R: i32, r0: i32, n: i32, o: usize, ldo: i32, dv: i32, scratch: usize, lse: usize, lseStride: i32, emptyLse: f32): void {
  const mArr = scratch + ((<usize>KB << 2) << 2), lArr = mArr + (<usize>R << 2);
  for (let r = r0; r < r0 + n; r++) {
    const l = load<f32>(lArr + (<usize>r << 2)), m = load<f32>(mArr + (<usize>r << 2));
    const orow = o + ((<usize>r * <usize>ldo) << 2);
    const dst = lse + ((<usize>(r - r0) * <usize>lseStride) << 2);
    if (l > 0) {
      const inv: f32 = <f32>1.0 / l;
      for (let c = 0; c < dv; c++) store<f32>(orow + (<usize>c << 2), load<f32>(orow + (<usize>c << 2)) * inv);
      store<f32>(dst, m + Mathf.log(l));
    } else {
      memory.fill(orow, 0, <usize>dv << 2);
      store<f32>(dst, emptyLse);
    }
  }
}

// @ts-ignore: decorator
@inline function decodeOne(fmt: i32, sparse: bool, causal: bool, sq: i32, H: i32, C: i32, dr: i32, len: i32, jBegin: i32, jEnd: i32, q: usize,
  sel: usize, topk: i32, pool: usize, poolBytes: usize, table: usize, blockBytes: usize, scale: f32, o: usize, lse: usize, scratch: usize, emptyLse: f32): void {
  const W = C + dr;
  if (!sparse) {
    // token t sees keys < len - sq + 1 + t (causal) or all len keys
    const R = sq * H;
    const rowsPerTok = causal ? H : R, base = causal ? len - sq : len - 1;
    attendCore(KEYS_PAGED, fmt, R, rowsPerTok, base, jBegin, min(jEnd, len), q, W, q + (<usize>C << 2), W, C, dr,
      0, 0, 0, 0, 0, 0, C, pool, poolBytes, table, blockBytes, 0, scale, o, C, scratch, true, false);
    for (let t = 0; t < sq; t++) finishRows(R, t * H, H, o, C, C, scratch, lse + (<usize>t << 2), sq, emptyLse);
    return;
  }
  for (let t = 0; t < sq; t++) {
    const qt = q + ((<usize>(t * H * W)) << 2), ot = o + ((<usize>(t * H * C)) << 2);
    attendCore(KEYS_SELECTED, fmt, H, H, topk - 1, jBegin, min(jEnd, topk), qt, W, qt + (<usize>C << 2), W, C, dr,
      0, 0, 0, 0, 0, 0, C, pool, poolBytes, table, blockBytes, sel + ((<usize>(t * topk)) << 2), scale, ot, C, scratch, true, false);
    finishRows(H, 0, H, ot, C, C, scratch, lse + (<usize>t << 2), sq, emptyLse);
  }
}

/**
 * One sequence: q [sq, H, C+dr] (absorbed [q_abs | q_pe] per head), its len cached tokens in the
 * pool (records of fmt, KB per block, blocks table[0 .. ceil(len/KB)) blockBytes apart, 0 meaning
 * KB records and nothing else: a DeepSeek-V3.2 block also holds the indexer's keys); dense (sparse 0) reads
 * every cached token, causal or not; sparse reads sel [sq, topk] (i32 token indices < len, -1
 * skipped). o [sq, H, C], lse [H, sq] (FlashMLA's [h_q, s_q] per batch row). scratch:
 * attend_paged_scratch_floats(sq * H, C, dr) floats.
 */
export function attn_mla_decode(fmt: i32, sparse: i32, causal: i32, sq: i32, H: i32, C: i32, dr: i32, len: i32, q: usize,
  sel: usize, topk: i32, pool: usize, poolBytes: usize, table: usize, blockBytes: usize, scale: f32, o: usize, lse: usize, scratch: usize): void {
  decodeRange(fmt, sparse, causal, sq, H, C, dr, len, 0, sparse != 0 ? topk : len, q, sel, topk, pool, poolBytes, table, blockBytes, scale, o, lse, scratch, Infinity);
}

/**
 * attn_mla_decode over the keys [jBegin, jEnd) only (dense: cached tokens; sparse: slots of each
 * token's selection; jBegin a multiple of KB): the range's partial o (normalised by its own sum)
 * and lse, -Infinity where a row sees no key of the range. Ranges that cover every key, merged by
 * attn_mla_combine, give attn_mla_decode's result (to float32 rounding; one range: bit for bit).
 */
export function attn_mla_decode_range(fmt: i32, sparse: i32, causal: i32, sq: i32, H: i32, C: i32, dr: i32, len: i32, jBegin: i32, jEnd: i32, q: usize,
  sel: usize, topk: i32, pool: usize, poolBytes: usize, table: usize, blockBytes: usize, scale: f32, o: usize, lse: usize, scratch: usize): void {
  assert(jBegin >= 0 && jBegin % KB == 0 && jEnd >= jBegin);
  decodeRange(fmt, sparse, causal, sq, H, C, dr, len, jBegin, jEnd, q, sel, topk, pool, poolBytes, table, blockBytes, scale, o, lse, scratch, -Infinity);
}

function decodeRange(fmt: i32, sparse: i32, causal: i32, sq: i32, H: i32, C: i32, dr: i32, len: i32, jBegin: i32, jEnd: i32, q: usize,
  sel: usize, topk: i32, pool: usize, poolBytes: usize, table: usize, blockBytes: usize, scale: f32, o: usize, lse: usize, scratch: usize, emptyLse: f32): void {
  const sp = sparse != 0, ca = causal != 0;
  switch (fmt) {
    case FMT_F32: if (sp) decodeOne(FMT_F32, true, false, sq, H, C, dr, len, jBegin, jEnd, q, sel, topk, pool, poolBytes, table, blockBytes, scale, o, lse, scratch, emptyLse); else decodeOne(FMT_F32, false, ca, sq, H, C, dr, len, jBegin, jEnd, q, sel, topk, pool, poolBytes, table, blockBytes, scale, o, lse, scratch, emptyLse); break;
    case FMT_BF16: if (sp) decodeOne(FMT_BF16, true, false, sq, H, C, dr, len, jBegin, jEnd, q, sel, topk, pool, poolBytes, table, blockBytes, scale, o, lse, scratch, emptyLse); else decodeOne(FMT_BF16, false, ca, sq, H, C, dr, len, jBegin, jEnd, q, sel, topk, pool, poolBytes, table, blockBytes, scale, o, lse, scratch, emptyLse); break;
    case FMT_F16: if (sp) decodeOne(FMT_F16, true, false, sq, H, C, dr, len, jBegin, jEnd, q, sel, topk, pool, poolBytes, table, blockBytes, scale, o, lse, scratch, emptyLse); else decodeOne(FMT_F16, false, ca, sq, H, C, dr, len, jBegin, jEnd, q, sel, topk, pool, poolBytes, table, blockBytes, scale, o, lse, scratch, emptyLse); break;
    case FMT_INT8: if (sp) decodeOne(FMT_INT8, true, false, sq, H, C, dr, len, jBegin, jEnd, q, sel, topk, pool, poolBytes, table, blockBytes, scale, o, lse, scratch, emptyLse); else decodeOne(FMT_INT8, false, ca, sq, H, C, dr, len, jBegin, jEnd, q, sel, topk, pool, poolBytes, table, blockBytes, scale, o, lse, scratch, emptyLse); break;
    case FMT_FP8: if (sp) decodeOne(FMT_FP8, true, false, sq, H, C, dr, len, jBegin, jEnd, q, sel, topk, pool, poolBytes, table, blockBytes, scale, o, lse, scratch, emptyLse); else decodeOne(FMT_FP8, false, ca, sq, H, C, dr, len, jBegin, jEnd, q, sel, topk, pool, poolBytes, table, blockBytes, scale, o, lse, scratch, emptyLse); break;
    default: unreachable();
  }
}

/**
 * Split-KV combine of n partials of one call (sq tokens, H heads, C columns): partial s has
 * o_s [sq, H, C] at oPart + s * oStride floats and lse_s [H, sq] at lsePart + s * lseStride
 * floats (attn_mla_decode_range's outputs). Per row: M = max_s lse_s; M = -Infinity (no key in
 * any range) gives o = 0 and lse = +Infinity, as attn_mla_decode; else w_s = e^(lse_s - M),
 * o = (sum_s w_s o_s) / sum_s w_s, lse = M + ln sum_s w_s. One partial: its values unchanged.
 */
export function attn_mla_combine(n: i32, sq: i32, H: i32, C: i32, oPart: usize, oStride: i32, lsePart: usize, lseStride: i32, o: usize, lse: usize): void {
  const R = sq * H, C4 = C & ~3;
  const oStrideB = <usize>oStride << 2, lseStrideB = <usize>lseStride << 2;
  for (let r = 0; r < R; r++) {
    const li = <usize>((r % H) * sq + r / H) << 2; // lse [H, sq]
    const rowB = (<usize>r * <usize>C) << 2;
    const orow = o + rowB;
    let M: f32 = -Infinity;
    for (let s = 0; s < n; s++) M = max(M, load<f32>(lsePart + <usize>s * lseStrideB + li));
    if (M == -Infinity) {
      memory.fill(orow, 0, <usize>C << 2);
      store<f32>(lse + li, Infinity);
      continue;
    }
    let wsum: f32 = 0;
    for (let s = 0; s < n; s++) {
      const w = Mathf.exp(load<f32>(lsePart + <usize>s * lseStrideB + li) - M);
      wsum += w;
      const src = oPart + <usize>s * oStrideB + rowB;
      const vw = f32x4.splat(w);
      let c = 0;
      if (s == 0) {
        for (; c < C4; c += 4) v128.store(orow + (<usize>c << 2), f32x4.mul(vw, v128.load(src + (<usize>c << 2))));
        for (; c < C; c++) store<f32>(orow + (<usize>c << 2), w * load<f32>(src + (<usize>c << 2)));
      } else {
        for (; c < C4; c += 4) v128.store(orow + (<usize>c << 2), f32x4.add(v128.load(orow + (<usize>c << 2)), f32x4.mul(vw, v128.load(src + (<usize>c << 2)))));
        for (; c < C; c++) store<f32>(orow + (<usize>c << 2), load<f32>(orow + (<usize>c << 2)) + w * load<f32>(src + (<usize>c << 2)));
      }
    }
    const inv: f32 = <f32>1.0 / wsum, vinv = f32x4.splat(inv);
    let c = 0;
    for (; c < C4; c += 4) v128.store(orow + (<usize>c << 2), f32x4.mul(vinv, v128.load(orow + (<usize>c << 2))));
    for (; c < C; c++) store<f32>(orow + (<usize>c << 2), inv * load<f32>(orow + (<usize>c << 2)));
    store<f32>(lse + li, M + Mathf.log(wsum));
  }
}
