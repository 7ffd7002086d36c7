// Online-softmax attention over blocks of KB keys: the one attention loop of the core. Every
// attention kernel is this loop with a different key source:
//   KEYS_CONTIG  key j at kA + j*ldkA (part A, dA floats) and kB + j*ldkB (part B, dB floats),
//                value j at v + j*ldv (dv floats): causal prefill over the per-head K/V cache.
//   KEYS_RANGE   the same, but kA, kB and v hold only the keys of the range [jBegin, jEnd)
//                (key jBegin first): a tile the caller has just produced, e.g. one block of K/V
//                decompressed from latents (the recompute path, the seed's low-rank scheme).
//   KEYS_PAGED   key j in block table[j / KB] of a pool of token records in storage format fmt
//                (KB equals the latent cache's BLOCK_TOKENS; the host checks it at load): the
//                absorbed path, key = [c | k_pe], value = c. f32 records are read in place;
//                other formats are dequantised once per block into a KB x (dA + dB) float32
//                tile that every row tile of the block then reads.
//   KEYS_SELECTED key j is token sel[j] (an i32 list) of the sequence whose block table is
//                `table`, in the same pool and format (sparse attention over the indexer's top-k):
//                entries < 0 are skipped; each block's valid entries are gathered (dequantised)
//                into the KB x (dA + dB) tile, so its keys are dense whatever their positions.
//                No causal mask by position: every row sees every listed key (the caller sets
//                base so that it does), the selection already holds only visible keys.
// fetchBlock is the one place a block's keys are located. The loop covers the key range
// [jBegin, jEnd) and may leave its rows unnormalised with their running max m and sum l, the
// partial (o, lse) of that range, so ranges computed apart can be merged (split-KV); with
// `init` false it continues from the m, l and o a previous range left in the same scratch and
// o, so a caller can feed it one key block at a time.
//
// Query row r sees keys j < base + 1 + floor(r / rowsPerTok) (rowsPerTok = H when rows are
// (token, head) pairs, 1 when rows are the tokens of one head). Keys are the outer loop so one
// block is loaded once and reused by every 4-row tile while it sits in L2. Per block and tile:
// scores (dot kernels), running max m and sum l (o <- alpha*o + P V with alpha = e^(m_old - m_new)),
// then o /= l at the end.

import { FMT_F32, codec_dequant_tile, codec_token_bytes } from "./codecs";
import { madd, hsum, vexp } from "./common";

/** Keys per block. 64 keys of the absorbed latent (576 floats) are 147 KB: L2-resident. */
export const KB: i32 = 64;

/** Key sources of attendCore (see the file comment). */
export const KEYS_CONTIG: i32 = 0;
export const KEYS_PAGED: i32 = 1;
export const KEYS_RANGE: i32 = 2;
export const KEYS_SELECTED: i32 = 3;
const KBB: usize = <usize>KB << 2; // bytes of one score row

/**
 * Floats of scratch the attention kernels need for R query rows: `attend` uses scores [4, KB] +
 * m [R] + l [R] + alpha [4]; the MHA decode kernel (attention_naive) scores [R, KB] + m, l, alpha [R].
 */
export function attend_scratch_floats(R: i32): i32 {
  return max(R, 4) * KB + 3 * R + 4;
}

/** Scratch of a KEYS_PAGED or KEYS_SELECTED call: attend's, then the dequantised block tile KB x (dA + dB) (16-byte aligned). */
export function attend_paged_scratch_floats(R: i32, dA: i32, dB: i32): i32 {
  return attend_scratch_floats(R) + 4 + KB * (dA + dB);
}

/** dst[0..1] (+)= dot(q_i, k0), dot(q_i, k1) for rows i = 0..3 (rows ldq bytes apart; scores rows KBB apart). */
// @ts-ignore: decorator
@inline function dot4x2(q: usize, ldq: usize, k0: usize, k1: usize, d: i32, dst: usize, two: bool, add: bool): void {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
  let a20 = f32x4.splat(0), a21 = f32x4.splat(0), a30 = f32x4.splat(0), a31 = f32x4.splat(0);
  const q1 = q + ldq, q2 = q1 + ldq, q3 = q2 + ldq;
  const d4 = d & ~3;
  let o: usize = 0;
  const end = <usize>d4 << 2;
  for (; o < end; o += 16) {
    const x0 = v128.load(k0 + o), x1 = v128.load(k1 + o);
    let a = v128.load(q + o);
    a00 = madd(a, x0, a00); a01 = madd(a, x1, a01);
    a = v128.load(q1 + o);
    a10 = madd(a, x0, a10); a11 = madd(a, x1, a11);
    a = v128.load(q2 + o);
    a20 = madd(a, x0, a20); a21 = madd(a, x1, a21);
    a = v128.load(q3 + o);
    a30 = madd(a, x0, a30); a31 = madd(a, x1, a31);
  }
  let s00 = hsum(a00), s01 = hsum(a01), s10 = hsum(a10), s11 = hsum(a11);
  let s20 = hsum(a20), s21 = hsum(a21), s30 = hsum(a30), s31 = hsum(a31);
  for (let c = d4; c < d; c++) {
    const oc = <usize>c << 2;
    const x0 = load<f32>(k0 + oc), x1 = load<f32>(k1 + oc);
    let a = load<f32>(q + oc); s00 += a * x0; s01 += a * x1;
    a = load<f32>(q1 + oc); s10 += a * x0; s11 += a * x1;
    a = load<f32>(q2 + oc); s20 += a * x0; s21 += a * x1;
    a = load<f32>(q3 + oc); s30 += a * x0; s31 += a * x1;
  }
  if (add) {
    s00 += load<f32>(dst); s10 += load<f32>(dst + KBB); s20 += load<f32>(dst + 2 * KBB); s30 += load<f32>(dst + 3 * KBB);
    if (two) { s01 += load<f32>(dst, 4); s11 += load<f32>(dst + KBB, 4); s21 += load<f32>(dst + 2 * KBB, 4); s31 += load<f32>(dst + 3 * KBB, 4); }
  }
  store<f32>(dst, s00); store<f32>(dst + KBB, s10); store<f32>(dst + 2 * KBB, s20); store<f32>(dst + 3 * KBB, s30);
  if (two) { store<f32>(dst, s01, 4); store<f32>(dst + KBB, s11, 4); store<f32>(dst + 2 * KBB, s21, 4); store<f32>(dst + 3 * KBB, s31, 4); }
}

/**
 * One query row against up to 4 keys (kn of them valid; the pointers of the others repeat k0):
 * dst[i * dstStride] (+)= dot(q, k_i) over d floats.
 */
// @ts-ignore: decorator
@inline export function dot1x4(q: usize, k0: usize, k1: usize, k2: usize, k3: usize, d: i32, dst: usize, dstStride: usize, kn: i32, add: bool): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  const d4 = d & ~3;
  const end = <usize>d4 << 2;
  for (let o: usize = 0; o < end; o += 16) {
    const a = v128.load(q + o);
    a0 = madd(a, v128.load(k0 + o), a0);
    a1 = madd(a, v128.load(k1 + o), a1);
    a2 = madd(a, v128.load(k2 + o), a2);
    a3 = madd(a, v128.load(k3 + o), a3);
  }
  let s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
  for (let c = d4; c < d; c++) {
    const oc = <usize>c << 2;
    const a = load<f32>(q + oc);
    s0 += a * load<f32>(k0 + oc); s1 += a * load<f32>(k1 + oc); s2 += a * load<f32>(k2 + oc); s3 += a * load<f32>(k3 + oc);
  }
  const d1 = dst + dstStride, d2 = d1 + dstStride, d3 = d2 + dstStride;
  if (add) { s0 += load<f32>(dst); if (kn > 1) s1 += load<f32>(d1); if (kn > 2) s2 += load<f32>(d2); if (kn > 3) s3 += load<f32>(d3); }
  store<f32>(dst, s0);
  if (kn > 1) store<f32>(d1, s1);
  if (kn > 2) store<f32>(d2, s2);
  if (kn > 3) store<f32>(d3, s3);
}

/** Scores of rows i < nr (4-row tiles when nr == 4) against the nk keys of one block (k = its first key) of one part. */
export function scorePart(nr: i32, q: usize, ldqB: usize, k: usize, ldkB: usize, d: i32, nk: i32, S: usize, add: bool): void {
  if (nr == 4) {
    let jj = 0;
    for (; jj + 2 <= nk; jj += 2) {
      const k0 = k + <usize>jj * ldkB;
      dot4x2(q, ldqB, k0, k0 + ldkB, d, S + (<usize>jj << 2), true, add);
    }
    if (jj < nk) {
      const k0 = k + <usize>jj * ldkB;
      dot4x2(q, ldqB, k0, k0, d, S + (<usize>jj << 2), false, add);
    }
  } else {
    for (let i = 0; i < nr; i++) {
      const qi = q + <usize>i * ldqB, Si = S + <usize>i * KBB;
      for (let jj = 0; jj < nk; jj += 4) {
        const kn = min(4, nk - jj);
        const k0 = k + <usize>jj * ldkB;
        const k1 = kn > 1 ? k0 + ldkB : k0, k2 = kn > 2 ? k0 + 2 * ldkB : k0, k3 = kn > 3 ? k0 + 3 * ldkB : k0;
        dot1x4(qi, k0, k1, k2, k3, d, Si + (<usize>jj << 2), 4, kn, add);
      }
    }
  }
}

/** o rows i < nr: o_i <- alpha_i o_i + sum_jj P[i, jj] v[j0 + jj], columns c0 .. c0+7 (4x8 tile). */
// @ts-ignore: decorator
@inline export function pv4x8(o: usize, ldoB: usize, alpha: usize, S: usize, v: usize, ldvB: usize, nk: i32): void {
  const o1 = o + ldoB, o2 = o1 + ldoB, o3 = o2 + ldoB;
  let al = v128.load32_splat(alpha);
  let c00 = f32x4.mul(al, v128.load(o)), c01 = f32x4.mul(al, v128.load(o, 16));
  al = v128.load32_splat(alpha, 4);
  let c10 = f32x4.mul(al, v128.load(o1)), c11 = f32x4.mul(al, v128.load(o1, 16));
  al = v128.load32_splat(alpha, 8);
  let c20 = f32x4.mul(al, v128.load(o2)), c21 = f32x4.mul(al, v128.load(o2, 16));
  al = v128.load32_splat(alpha, 12);
  let c30 = f32x4.mul(al, v128.load(o3)), c31 = f32x4.mul(al, v128.load(o3, 16));
  let p = S;
  for (let jj = 0; jj < nk; jj++) {
    const b0 = v128.load(v), b1 = v128.load(v, 16);
    let a = v128.load32_splat(p);
    c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
    a = v128.load32_splat(p + KBB);
    c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
    a = v128.load32_splat(p + 2 * KBB);
    c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
    a = v128.load32_splat(p + 3 * KBB);
    c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
    v += ldvB; p += 4;
  }
  v128.store(o, c00); v128.store(o, c01, 16);
  v128.store(o1, c10); v128.store(o1, c11, 16);
  v128.store(o2, c20); v128.store(o2, c21, 16);
  v128.store(o3, c30); v128.store(o3, c31, 16);
}

/** One row, columns c0 .. c0+7. */
// @ts-ignore: decorator
@inline export function pv1x8(o: usize, alpha: f32, S: usize, v: usize, ldvB: usize, nk: i32): void {
  const al = f32x4.splat(alpha);
  let c0 = f32x4.mul(al, v128.load(o)), c1 = f32x4.mul(al, v128.load(o, 16));
  let p = S;
  for (let jj = 0; jj < nk; jj++) {
    const a = v128.load32_splat(p);
    c0 = madd(a, v128.load(v), c0); c1 = madd(a, v128.load(v, 16), c1);
    v += ldvB; p += 4;
  }
  v128.store(o, c0); v128.store(o, c1, 16);
}

/** One row, one column (dv % 8 leftovers). */
// @ts-ignore: decorator
@inline export function pv1x1(o: usize, alpha: f32, S: usize, v: usize, ldvB: usize, nk: i32): void {
  let acc = alpha * load<f32>(o);
  let p = S;
  for (let jj = 0; jj < nk; jj++) {
    acc += load<f32>(p) * load<f32>(v);
    v += ldvB; p += 4;
  }
  store<f32>(o, acc);
}

/** o[r] /= l[r] for rows 0..R-1 (the softmax denominators accumulated by softmaxBlock). */
@inline export function normalizeRows(R: i32, o: usize, ldoB: usize, lArr: usize, dv: i32): void {
  for (let r = 0; r < R; r++) {
    const invs = <f32>1.0 / load<f32>(lArr + (<usize>r << 2));
    const inv = f32x4.splat(invs);
    const orow = o + <usize>r * ldoB;
    let c = 0;
    for (; c + 4 <= dv; c += 4) v128.store(orow + (<usize>c << 2), f32x4.mul(v128.load(orow + (<usize>c << 2)), inv));
    for (; c < dv; c++) store<f32>(orow + (<usize>c << 2), load<f32>(orow + (<usize>c << 2)) * invs);
  }
}

/**
 * Online softmax over one key block for score rows r0 .. r0+nr-1 (scores in S, KB floats a row):
 * scale, causal mask (row r sees keys < base + 1 + r / rowsPerTok), running max m and sum l per
 * row; S becomes exp(score - m) and alpha[i] the factor that rescales row i's accumulator.
 */
@inline export function softmaxBlock(nr: i32, r0: i32, rowsPerTok: i32, base: i32, j0: i32, nk: i32, S: usize, scale: f32, mArr: usize, lArr: usize, alpha: usize): void {
  const nk4 = (nk + 3) & ~3;
  const vscale = f32x4.splat(scale);
  const ninf = f32x4.splat(-Infinity);
  for (let i = 0; i < nr; i++) {
    const r = r0 + i;
    const Si = S + <usize>i * KBB;
    const lim = base + 1 + r / rowsPerTok; // row i sees keys < lim
    const valid = min(nk, max(0, lim - j0));
    for (let jj = valid; jj < nk4; jj++) store<f32>(Si + (<usize>jj << 2), -Infinity);
    let vm = ninf;
    for (let jj = 0; jj < nk4; jj += 4) {
      const x = f32x4.mul(v128.load(Si + (<usize>jj << 2)), vscale);
      v128.store(Si + (<usize>jj << 2), x);
      vm = f32x4.max(vm, x);
    }
    const mOld = load<f32>(mArr + (<usize>r << 2));
    const mNew = max(mOld, max(max(f32x4.extract_lane(vm, 0), f32x4.extract_lane(vm, 1)), max(f32x4.extract_lane(vm, 2), f32x4.extract_lane(vm, 3))));
    let a: f32 = 1;
    let sum: f32 = 0;
    if (mNew == -Infinity) {
      for (let jj = 0; jj < nk4; jj += 4) v128.store(Si + (<usize>jj << 2), f32x4.splat(0));
    } else {
      a = Mathf.exp(mOld - mNew);
      const vmn = f32x4.splat(mNew);
      let vs = f32x4.splat(0);
      for (let jj = 0; jj < nk4; jj += 4) {
        const e = vexp(f32x4.sub(v128.load(Si + (<usize>jj << 2)), vmn));
        v128.store(Si + (<usize>jj << 2), e);
        vs = f32x4.add(vs, e);
      }
      sum = hsum(vs);
      store<f32>(mArr + (<usize>r << 2), mNew);
    }
    store<f32>(lArr + (<usize>r << 2), load<f32>(lArr + (<usize>r << 2)) * a + sum);
    store<f32>(alpha + (<usize>i << 2), a);
  }
}

/** o[r0 .. r0+nr) <- alpha o + P V for one key block (V rows vj, ldvB bytes apart; dv columns). */
@inline export function accumulateBlock(nr: i32, orow: usize, ldoB: usize, alpha: usize, S: usize, vj: usize, ldvB: usize, nk: i32, dv: i32): void {
  const dv8 = dv & ~7;
  if (nr == 4) {
    let c = 0;
    for (; c < dv8; c += 8) pv4x8(orow + (<usize>c << 2), ldoB, alpha, S, vj + (<usize>c << 2), ldvB, nk);
    for (; c < dv; c++) {
      for (let i = 0; i < 4; i++) pv1x1(orow + <usize>i * ldoB + (<usize>c << 2), load<f32>(alpha + (<usize>i << 2)), S + <usize>i * KBB, vj + (<usize>c << 2), ldvB, nk);
    }
  } else {
    for (let i = 0; i < nr; i++) {
      const oi = orow + <usize>i * ldoB, ai = load<f32>(alpha + (<usize>i << 2)), Si = S + <usize>i * KBB;
      let c = 0;
      for (; c < dv8; c += 8) pv1x8(oi + (<usize>c << 2), ai, Si, vj + (<usize>c << 2), ldvB, nk);
      for (; c < dv; c++) pv1x1(oi + (<usize>c << 2), ai, Si, vj + (<usize>c << 2), ldvB, nk);
    }
  }
}

/**
 * The one loop (see the file comment). Rows r < R; o [R, dv] (row stride ldo floats) holds the
 * weighted sums, divided by l when `normalize`; m and l stay in scratch after the score block.
 * KEYS_CONTIG reads kA/ldkA, kB/ldkB, v/ldv; KEYS_RANGE the same with key jBegin first;
 * KEYS_PAGED reads pool (poolBytes long)/table in format fmt, its values being the keys' part A
 * (dv == dA), and needs jBegin % KB == 0; KEYS_SELECTED reads sel[jBegin .. jEnd) and the same
 * pool/table/fmt. `init` false continues the m, l (in scratch) and o of
 * the previous call on the same rows. `src` and `fmt` must be constants at every call site, so
 * each kernel gets a loop with its fetch folded in.
 */
// @ts-ignore: decorator
@inline export function attendCore(src: i32, fmt: i32, R: i32, rowsPerTok: i32, base: i32, jBegin: i32, jEnd: i32,
  qA: usize, ldqA: i32, qB: usize, ldqB: i32, dA: i32, dB: i32,
  kA: usize, ldkA: i32, kB: usize, ldkB: i32, v: usize, ldv: i32, dv: i32,
  pool: usize, poolBytes: usize, table: usize, blockBytes: usize, sel: usize,
  scale: f32, o: usize, ldo: i32, scratch: usize, init: bool, normalize: bool): void {
  const S = scratch;
  const mArr = S + (KBB << 2);
  const lArr = mArr + (<usize>R << 2);
  const alpha = lArr + (<usize>R << 2);
  const ldoB = <usize>ldo << 2;
  const ldqAB = <usize>ldqA << 2, ldqBB = <usize>ldqB << 2;
  // Key strides in bytes: f32 records are [c | k_pe] rows read in place; a dequantised tile is dense.
  // Selected keys are always gathered into the dense tile.
  const paged = src == KEYS_PAGED || src == KEYS_SELECTED;
  const bpt = paged ? <usize>codec_token_bytes(fmt, dA, dB) : 0;
  const stride: usize = blockBytes != 0 ? blockBytes : <usize>KB * bpt; // a block may hold more than its records (the indexer's keys follow them)
  const inPlace = src == KEYS_PAGED && fmt == FMT_F32;
  const ldkAB: usize = !paged ? <usize>ldkA << 2 : inPlace ? bpt : <usize>dA << 2;
  const ldkBB: usize = !paged ? <usize>ldkB << 2 : inPlace ? bpt : <usize>dB << 2;
  const ldvB: usize = !paged ? <usize>ldv << 2 : ldkAB;
  const tileA = (scratch + (<usize>attend_scratch_floats(R) << 2) + 15) & ~(<usize>15);
  const tileB = tileA + (<usize>(KB * dA) << 2);
  if (init) {
    for (let r = 0; r < R; r++) {
      store<f32>(mArr + (<usize>r << 2), -Infinity);
      store<f32>(lArr + (<usize>r << 2), 0);
      memory.fill(o + <usize>r * ldoB, 0, <usize>dv << 2);
    }
  }
  const T = min(jEnd, base + 1 + (R - 1) / rowsPerTok); // keys the last row sees, within the range
  for (let j0 = jBegin; j0 < T; j0 += KB) {
    const jMax = min(j0 + KB, T);
    // fetchBlock: where keys j0 .. jMax-1 and their values are.
    let kAj: usize, kBj: usize, vj: usize;
    let nValid = jMax - j0; // KEYS_SELECTED: the block's entries >= 0
    if (src == KEYS_CONTIG) {
      kAj = kA + <usize>j0 * ldkAB; kBj = kB + <usize>j0 * ldkBB; vj = v + <usize>j0 * ldvB;
    } else if (src == KEYS_RANGE) {
      const jr = <usize>(j0 - jBegin);
      kAj = kA + jr * ldkAB; kBj = kB + jr * ldkBB; vj = v + jr * ldvB;
    } else if (src == KEYS_PAGED) {
      const id = load<i32>(table + (<usize>(j0 / KB) << 2));
      assert(id >= 0 && <usize>(id + 1) * stride <= poolBytes); // the host checks it too; the asserting build proves the kernel reads inside its pool
      const rec = pool + <usize>id * stride;
      if (fmt == FMT_F32) {
        kAj = rec; kBj = rec + (<usize>dA << 2);
      } else {
        codec_dequant_tile(fmt, rec, jMax - j0, dA, dB, tileA, dA, tileB, dB);
        kAj = tileA; kBj = tileB;
      }
      vj = kAj;
    } else {
      nValid = 0;
      for (let j = j0; j < jMax; j++) {
        const t = load<i32>(sel + (<usize>j << 2));
        if (t < 0) continue;
        const id = load<i32>(table + (<usize>(t / KB) << 2));
        assert(id >= 0 && <usize>(id + 1) * stride <= poolBytes); // the host checks it too
        const rec = pool + <usize>id * stride + <usize>(t % KB) * bpt;
        codec_dequant_tile(fmt, rec, 1, dA, dB, tileA + ((<usize>(nValid * dA)) << 2), dA, tileB + ((<usize>(nValid * dB)) << 2), dB);
        nValid++;
      }
      kAj = tileA; kBj = tileB; vj = tileA;
      if (nValid == 0) continue;
    }
    for (let r0 = 0; r0 < R; r0 += 4) {
      const nr = min(4, R - r0);
      const limLast = base + 1 + (r0 + nr - 1) / rowsPerTok;
      if (limLast <= j0) continue;
      const nk = src == KEYS_SELECTED ? nValid : min(jMax, limLast) - j0;
      scorePart(nr, qA + <usize>r0 * ldqAB, ldqAB, kAj, ldkAB, dA, nk, S, false);
      if (dB > 0) scorePart(nr, qB + <usize>r0 * ldqBB, ldqBB, kBj, ldkBB, dB, nk, S, true);
      softmaxBlock(nr, r0, rowsPerTok, base, j0, nk, S, scale, mArr, lArr, alpha);
      accumulateBlock(nr, o + <usize>r0 * ldoB, ldoB, alpha, S, vj, ldvB, nk, dv); // o <- alpha o + P V
    }
  }
  if (normalize) normalizeRows(R, o, ldoB, lArr, dv);
}

/** attendCore over contiguous keys, every key of every row, normalised. o [R, dv] is overwritten. */
export function attend(R: i32, rowsPerTok: i32, base: i32,
  qA: usize, ldqA: i32, qB: usize, ldqB: i32, dA: i32, dB: i32,
  kA: usize, ldkA: i32, kB: usize, ldkB: i32, v: usize, ldv: i32, dv: i32,
  scale: f32, o: usize, ldo: i32, scratch: usize): void {
  attendCore(KEYS_CONTIG, FMT_F32, R, rowsPerTok, base, 0, base + 1 + (R - 1) / rowsPerTok,
    qA, ldqA, qB, ldqB, dA, dB, kA, ldkA, kB, ldkB, v, ldv, dv, 0, 0, 0, 0, 0, scale, o, ldo, scratch, true, true);
}
