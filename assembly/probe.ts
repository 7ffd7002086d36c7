// Machine probe: the limits every benchmark figure and the cost model's roofline are a fraction of.
// Part of the core (assembly/index.ts exports these as probe_*), so the package ships it in both
// builds: the relaxed build's madd is f32x4.relaxed_madd (FMA) where simd128's is mul + add.
// src/probe/probe.ts drives it (`mlakit probe`, the benchmarks' probe).
//
// Peak FLOP/s: 12 independent accumulator chains, so the loop is bound by the FP pipes'
// throughput, not by one chain's latency (FMA latency 4 x 2 pipes needs >= 8 chains on Zen 3).
// Read GB/s: unrolled v128 loads summed into 8 accumulators, so the adds never limit the loads.

import { madd } from "./common";

/** 64-byte aligned start of the scratch area, after the module's static data. */
function base(): usize {
  return (__heap_base + 63) & ~(<usize>63);
}

/** Grows memory so that [base, base + bytes) exists; returns base. */
export function scratch(bytes: usize): usize {
  const start = base();
  const need = start + bytes;
  const have = <usize>memory.size() << 16;
  if (need > have) {
    const pages = <i32>((need - have + 0xffff) >> 16);
    if (memory.grow(pages) < 0) unreachable();
  }
  return start;
}

/** 12 chains x iters of acc = acc * m + c: 12 * iters * 8 FLOP. Returns a lane sum so nothing is dead. */
export function peak(iters: i32): f32 {
  const m = f32x4.splat(0.999), c = f32x4.splat(0.001);
  let a0 = f32x4.splat(0.1), a1 = f32x4.splat(0.2), a2 = f32x4.splat(0.3), a3 = f32x4.splat(0.4);
  let a4 = f32x4.splat(0.5), a5 = f32x4.splat(0.6), a6 = f32x4.splat(0.7), a7 = f32x4.splat(0.8);
  let a8 = f32x4.splat(0.9), a9 = f32x4.splat(1.0), a10 = f32x4.splat(1.1), a11 = f32x4.splat(1.2);
  for (let i = 0; i < iters; i++) {
    a0 = madd(a0, m, c); a1 = madd(a1, m, c); a2 = madd(a2, m, c); a3 = madd(a3, m, c);
    a4 = madd(a4, m, c); a5 = madd(a5, m, c); a6 = madd(a6, m, c); a7 = madd(a7, m, c);
    a8 = madd(a8, m, c); a9 = madd(a9, m, c); a10 = madd(a10, m, c); a11 = madd(a11, m, c);
  }
  let s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  s = f32x4.add(s, f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11)));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
}

/** Reads [ptr, ptr + bytes) reps times with v128 loads (bytes a multiple of 128). Returns the sum. */
export function read(ptr: usize, bytes: usize, reps: i32): f32 {
  let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
  const end = ptr + bytes;
  for (let r = 0; r < reps; r++) {
    for (let p = ptr; p < end; p += 128) {
      s0 = f32x4.add(s0, v128.load(p));
      s1 = f32x4.add(s1, v128.load(p, 16));
      s2 = f32x4.add(s2, v128.load(p, 32));
      s3 = f32x4.add(s3, v128.load(p, 48));
      s4 = f32x4.add(s4, v128.load(p, 64));
      s5 = f32x4.add(s5, v128.load(p, 80));
      s6 = f32x4.add(s6, v128.load(p, 96));
      s7 = f32x4.add(s7, v128.load(p, 112));
    }
  }
  const s = f32x4.add(f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)), f32x4.add(f32x4.add(s4, s5), f32x4.add(s6, s7)));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
}

/**
 * The same read as 4 concurrent streams (the buffer's quarters, interleaved 64 bytes at a time):
 * one sequential stream leaves DRAM bandwidth unused on this machine (a GEMV walking several
 * rows at once beat it), so the probe reports the better of the two. bytes a multiple of 256.
 */
export function read4(ptr: usize, bytes: usize, reps: i32): f32 {
  let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
  const q = bytes >> 2;
  for (let r = 0; r < reps; r++) {
    for (let p = ptr; p < ptr + q; p += 64) {
      s0 = f32x4.add(s0, v128.load(p)); s1 = f32x4.add(s1, v128.load(p, 16));
      s0 = f32x4.add(s0, v128.load(p, 32)); s1 = f32x4.add(s1, v128.load(p, 48));
      const p1 = p + q;
      s2 = f32x4.add(s2, v128.load(p1)); s3 = f32x4.add(s3, v128.load(p1, 16));
      s2 = f32x4.add(s2, v128.load(p1, 32)); s3 = f32x4.add(s3, v128.load(p1, 48));
      const p2 = p1 + q;
      s4 = f32x4.add(s4, v128.load(p2)); s5 = f32x4.add(s5, v128.load(p2, 16));
      s4 = f32x4.add(s4, v128.load(p2, 32)); s5 = f32x4.add(s5, v128.load(p2, 48));
      const p3 = p2 + q;
      s6 = f32x4.add(s6, v128.load(p3)); s7 = f32x4.add(s7, v128.load(p3, 16));
      s6 = f32x4.add(s6, v128.load(p3, 32)); s7 = f32x4.add(s7, v128.load(p3, 48));
    }
  }
  const s = f32x4.add(f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)), f32x4.add(f32x4.add(s4, s5), f32x4.add(s6, s7)));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
}

/**
 * The same read as 8 concurrent streams (the buffer's eighths, 64 bytes at a time): the naive
 * decode kernel walks K and V four streams each, and on this machine 8 streams in flight reach
 * more DRAM bandwidth than 4 (a probe that stops at 4 is beaten by the kernel it bounds).
 * bytes a multiple of 512.
 */
export function read8(ptr: usize, bytes: usize, reps: i32): f32 {
  let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
  const q = bytes >> 3;
  for (let r = 0; r < reps; r++) {
    for (let p = ptr; p < ptr + q; p += 64) {
      const p1 = p + q, p2 = p1 + q, p3 = p2 + q, p4 = p3 + q, p5 = p4 + q, p6 = p5 + q, p7 = p6 + q;
      s0 = f32x4.add(s0, v128.load(p)); s0 = f32x4.add(s0, v128.load(p, 16)); s0 = f32x4.add(s0, v128.load(p, 32)); s0 = f32x4.add(s0, v128.load(p, 48));
      s1 = f32x4.add(s1, v128.load(p1)); s1 = f32x4.add(s1, v128.load(p1, 16)); s1 = f32x4.add(s1, v128.load(p1, 32)); s1 = f32x4.add(s1, v128.load(p1, 48));
      s2 = f32x4.add(s2, v128.load(p2)); s2 = f32x4.add(s2, v128.load(p2, 16)); s2 = f32x4.add(s2, v128.load(p2, 32)); s2 = f32x4.add(s2, v128.load(p2, 48));
      s3 = f32x4.add(s3, v128.load(p3)); s3 = f32x4.add(s3, v128.load(p3, 16)); s3 = f32x4.add(s3, v128.load(p3, 32)); s3 = f32x4.add(s3, v128.load(p3, 48));
      s4 = f32x4.add(s4, v128.load(p4)); s4 = f32x4.add(s4, v128.load(p4, 16)); s4 = f32x4.add(s4, v128.load(p4, 32)); s4 = f32x4.add(s4, v128.load(p4, 48));
      s5 = f32x4.add(s5, v128.load(p5)); s5 = f32x4.add(s5, v128.load(p5, 16)); s5 = f32x4.add(s5, v128.load(p5, 32)); s5 = f32x4.add(s5, v128.load(p5, 48));
      s6 = f32x4.add(s6, v128.load(p6)); s6 = f32x4.add(s6, v128.load(p6, 16)); s6 = f32x4.add(s6, v128.load(p6, 32)); s6 = f32x4.add(s6, v128.load(p6, 48));
      s7 = f32x4.add(s7, v128.load(p7)); s7 = f32x4.add(s7, v128.load(p7, 16)); s7 = f32x4.add(s7, v128.load(p7, 32)); s7 = f32x4.add(s7, v128.load(p7, 48));
    }
  }
  const s = f32x4.add(f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)), f32x4.add(f32x4.add(s4, s5), f32x4.add(s6, s7)));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
}

/** Fills [ptr, ptr + n*4) with a small pattern so reads touch real, committed pages. */
export function fill(ptr: usize, n: usize): void {
  for (let i: usize = 0; i < n; i++) store<f32>(ptr + (i << 2), <f32>(i & 7) * 0.125);
}

/** 1 if this build uses relaxed_madd, else 0. */
export function relaxed(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}
