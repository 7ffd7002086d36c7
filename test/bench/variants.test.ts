// Correctness sweep of every numbered kernel variant (assembly/variants/, llm.c dev/cuda style), in
// both builds, at the edge sizes of bench/variants.ts (rows < tile, one row, odd K, lengths that
// are not multiples of any tile, one head, key counts across block boundaries). No timing: this is
// the same check `npm run bench:variants` runs before it times anything (checkEdges, with the
// comparisons of bench/lib/check.ts), so a variant that is wrong fails `npm test` and never gets
// to produce a figure. Outputs are NaN-filled before each call (bench/lib/kernels.ts) and every
// output element of an edge case is compared, so an element a variant does not write shows.
// The .wasm files are the bench's own (build/variants/); `npm test`'s pretest builds them and
// beforeAll rebuilds whichever is stale (bench/build-wasm.mjs tracks each module's sources).
//
// Tolerances, u = 2^-24 (float32 unit roundoff):
//
// Linear (gemm, gemv): y = sum_k x_k w_k, K terms, float32 inputs (so the float64 reference is
// exact up to 2^-53). In any summation order, with or without FMA, each term passes through at
// most K roundings, so |y32 - y64| <= gamma_K * sum_k |x_k w_k|, gamma_K = K u / (1 - K u)
// (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., eq. 3.5). checkLinear accepts
// |y32 - y64| <= 8 sqrt(K) u * sum |x_k w_k|: for K <= 63 that is >= gamma_K (8 sqrt(K) >= K / (1 -
// K u)), a rigorous bound; for the K = 129 and 130 cases it is Higham & Mary's probabilistic bound
// (lambda = 8: exceeded with probability <= 2K e^-32 ~ 3e-12 per element). The data are seeded, so
// the result is reproducible, not flaky. Measured: worst |error| / tolerance 0.004-0.05.
//
// Attention (attn_absorbed, attn_naive): o_c = sum_t P_t v_tc, P = softmax(scale * q.k_t), S keys of
// D floats. To first order each unnormalised weight carries a relative error
//   a_t <= Ds + eta,  Ds = scale * (eps_t + max_t eps_t) + 3u (|scale s_t| + |m|),
//   eps_t = gamma_D * sum_d |q_d k_td| (the score dot product, as above),
//   eta <= 16u (vexp: Taylor truncation 6e-9 plus ~8 roundings in the polynomial and 2^n scaling),
// the same weights sum to l (gamma_S) and weight the values (gamma_{S+1}), the online rescales add
// 2u per key block and the final 1/l 2u, so |o32_c - o_c| <= delta * sum_t P_t |v_tc| with
//   delta = 2 max_t a_t + 2 gamma_{S+1} + (2 blocks + 2) u.
// The check is FlashMLA's cal_diff = |o32 - o|^2 / (|o32|^2 + |o|^2) <= CAL_DIFF_MAX = 1e-8, and
// cal_diff <= delta^2 * sum_c (sum_t P_t |v_tc|)^2 / |o|^2. Evaluated on the edge cases' data that
// bound is 6e-12, 4e-11, 2e-9 (absorbed H1 S1, H3 S5, H9 S37) and 7e-12, 5e-11, 2e-9, 2e-10 (naive):
// below the bar, so there the bar cannot reject a correct kernel. At absorbed H16 S300 C64 it is
// 4e-7: the worst case has all ~300 rounding errors of a sum aligned with the signs of v, against
// an |o| that averaging 300 random values makes ~sqrt(300) times smaller than sum P |v|. Measured
// there: 4e-14 to 7e-14 in every variant and build (others: <= 1.3e-14), five orders below the bar,
// while a wrong key, block, scale or normalisation moves cal_diff to >= 1e-4.
import { beforeAll, describe, expect, it } from "vitest";
import { FAMILIES, variantNames, checkEdges } from "../../bench/variants.js";
import { loadVariant } from "../../bench/lib/kernels.js";
import { availableIsas } from "../../bench/lib/env.js";
import { buildBenchWasm } from "./bench-wasm.js";

beforeAll(async () => {
  await buildBenchWasm();
}, 300_000);

describe.each(FAMILIES)("%s variants", (family) => {
  const names = variantNames(family);

  it("exist", () => expect(names.length).toBeGreaterThan(0));

  describe.each(names)("%s", (name) => {
    it.each(availableIsas())("%s build agrees with float64 at every edge size", async (isa) => {
      const m = await loadVariant(name, isa);
      const failed = checkEdges(family, { variant: m })
        .filter((c) => !c.result.ok)
        .map(({ label, result: { detail } }) => (detail.startsWith(label) ? detail : `${label}: ${detail}`));
      expect(failed).toEqual([]);
    });
  });
});
