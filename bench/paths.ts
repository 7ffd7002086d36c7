// Decode attention of every path the seed text's claims are about, at DeepSeek-V3's and
// V2-Lite's geometry, beside the naive and absorbed figures of run.ts: MLA recompute (latents
// cached, K/V decompressed again inside the kernel), MHA, GQA and MQA of the same heads
// (src/analysis/work.ts baselineConfig: head width qk_nope_head_dim, v_head_dim), and the seed's
// per-head low-rank scheme (rank DEFAULT_SEED_RANK). Every figure's FLOPs and bytes are the cost
// model's for exactly what the kernel does (attentionCost), so % of peak / bandwidth and the
// report's measured / predicted compare like with like. Each kernel's output is checked against a
// float64 computation of two heads before it is timed.
//
// Recompute decompresses H (dn+dv) C multiply-adds per cached token and step: V3 at 16k is
// ~275 GFLOP per call (minutes over a timing plan), so it runs where one call takes under ~5 s
// here: V3 at 1k and 4k, V2-Lite at every context.
import { PRESETS, type MlaConfig } from "../src/config.js";
import { attentionCost } from "../src/analysis/cost.js";
import { DEFAULT_SEED_RANK, defaultGroups } from "../src/analysis/kv-cache.js";
import { type AnyPath, baselineConfig } from "../src/analysis/work.js";
import { fillUniform } from "./lib/data.js";
import { assertOk, checkCalDiff } from "./lib/check.js";
import { timeIt, type TimingPlan } from "./lib/timing.js";
import type { CoreModule } from "./lib/core.js";
import type { Isa } from "./lib/env.js";
import type { ProbeResult } from "./probe.js";
import { makeFigure, type Figure, type Group } from "./figures.js";
import { DECODE_S } from "./shapes.js";

export type TimedPath = "recompute" | "mha" | "gqa" | "mqa" | "seedPerHead";
const GROUP: Record<TimedPath, Group> = { recompute: "attn-recompute", mha: "attn-mha", gqa: "attn-gqa", mqa: "attn-mqa", seedPerHead: "attn-seed" };
const MODELS = [["V3", "deepseek-v3"], ["V2-Lite", "deepseek-v2-lite"]] as const;

/** Which (model, S) recompute is timed at (see the file comment). */
export function recomputeTimed(model: string, S: number): boolean {
  return model !== "V3" || S <= 4096;
}

const KB = 64;

/** float64 attention of query head h over keys/values given per key j by fetch (one head's key and value rows). */
export function attendHead64(q: Float32Array, qOff: number, d: number, dv: number, S: number, scale: number, key: (j: number, out: Float64Array) => void, val: (j: number, out: Float64Array) => void): Float64Array {
  const s = new Float64Array(S), k = new Float64Array(d), v = new Float64Array(dv), o = new Float64Array(dv);
  let m = -Infinity;
  for (let j = 0; j < S; j++) {
    key(j, k);
    let a = 0;
    for (let i = 0; i < d; i++) a += q[qOff + i] * k[i];
    s[j] = a * scale;
    m = Math.max(m, s[j]);
  }
  let l = 0;
  for (let j = 0; j < S; j++) {
    const p = Math.exp(s[j] - m);
    l += p;
    val(j, v);
    for (let i = 0; i < dv; i++) o[i] += p * v[i];
  }
  for (let i = 0; i < dv; i++) o[i] /= l;
  return o;
}

export async function runPathAttention(probe: ProbeResult, cores: Record<Isa, CoreModule>, isa: Isa, plan: TimingPlan, slowPlan: TimingPlan, flush: () => void, quick: boolean, log: (s: string) => void): Promise<Figure[]> {
  const out: Figure[] = [];
  const c = cores[isa], ex = c.ex, a = c.arena;
  for (const [model, preset] of MODELS) {
    const cfg: MlaConfig = { ...PRESETS[preset], max_batch_size: 1 };
    const { n_heads: H, kv_lora_rank: C, qk_nope_head_dim: dn, qk_rope_head_dim: dr, v_head_dim: dv } = cfg;
    for (const S of quick ? [1024] : DECODE_S) {
      const cases: TimedPath[] = [...(recomputeTimed(model, S) ? (["recompute"] as const) : []), "mha", "gqa", "mqa", "seedPerHead"];
      for (const path of cases) {
        a.reset();
        const heads = [0, H - 1];
        let run: () => void, o: number, check: string, impl: string, memoryBound: boolean;
        if (path === "recompute") {
          const qk = dn + dr, w = dn + dv, scale = 1 / Math.sqrt(qk);
          const blocks = Math.ceil(S / KB), bpt = C + dr;
          const pool = a.alloc(blocks * KB * bpt * 4);
          fillUniform(a.f32(pool, blocks * KB * bpt), S + 21);
          const table = a.alloc(blocks * 4);
          new Int32Array(ex.memory.buffer, table, blocks).set(Int32Array.from({ length: blocks }, (_, i) => i));
          const wkvb = fillUniform(new Float32Array(H * w * C), 31, Math.sqrt(3 / C));
          const per = ex.packed_size_8(w, C) * 4, wp = a.alloc(H * per), tmp = a.upload(wkvb);
          for (let h = 0; h < H; h++) ex.pack_nk_8(tmp + h * w * C * 4, C, w, C, wp + h * per);
          const qArr = fillUniform(new Float32Array(H * qk), S + 22, 0.3), q = a.upload(qArr);
          o = a.alloc(H * dv * 4);
          const scratch = a.alloc(ex.attn_recompute_scratch_floats(1, H, C, dr, dn, dv) * 4);
          run = () => void ex.attn_recompute_paged(0, 1, H, C, dr, dn, dv, S - 1, q, pool, blocks * KB * bpt * 4, table, scale, wp, o, scratch);
          run();
          const rec = a.f32(pool, blocks * KB * bpt).slice(0, S * bpt);
          const got = a.f32(o, H * dv);
          const want = new Float64Array(heads.length * dv), have = new Float64Array(heads.length * dv);
          heads.forEach((h, i) => {
            const kv = (j: number, part: number, n: number, outRow: Float64Array) => {
              for (let r = 0; r < n; r++) {
                let acc = 0;
                const wr = (h * w + part + r) * C;
                for (let x = 0; x < C; x++) acc += rec[j * bpt + x] * wkvb[wr + x];
                outRow[r] = acc;
              }
            };
            want.set(attendHead64(qArr, h * qk, qk, dv, S, scale, (j, k) => { kv(j, 0, dn, k); for (let x = 0; x < dr; x++) k[dn + x] = rec[j * bpt + C + x]; }, (j, v) => kv(j, dn, dv, v)), i * dv);
            have.set(got.subarray(h * dv, (h + 1) * dv), i * dv);
          });
          const chk = checkCalDiff(have, want, "o");
          assertOk(`core recompute ${model} S=${S}`, chk);
          check = chk.detail;
          impl = "core attn_recompute_paged (f32 pool)";
          memoryBound = false;
        } else {
          const G = path === "mha" || path === "seedPerHead" ? H : path === "mqa" ? 1 : defaultGroups(H);
          const b = baselineConfig(cfg, G), hd = b.head_dim, bv = b.v_head_dim, hpg = H / G, scale = 1 / Math.sqrt(hd);
          const r = DEFAULT_SEED_RANK;
          const qArr = fillUniform(new Float32Array(H * hd), S + 23, 0.3), q = a.upload(qArr);
          o = a.alloc(H * bv * 4);
          const got = () => a.f32(o, H * bv);
          if (path === "seedPerHead") {
            const lk = a.alloc(S * G * r * 4), lv = a.alloc(S * G * r * 4);
            fillUniform(a.f32(lk, S * G * r), S + 24);
            fillUniform(a.f32(lv, S * G * r), S + 25);
            const wdkA = fillUniform(new Float32Array(r * hd), 41, Math.sqrt(3 / r)), wdvA = fillUniform(new Float32Array(r * bv), 42, Math.sqrt(3 / r));
            const wdk = a.alloc(ex.packed_size_8(hd, r) * 4), wdv = a.alloc(ex.packed_size_8(bv, r) * 4);
            ex.pack_kn_8(a.upload(wdkA), hd, hd, r, wdk);
            ex.pack_kn_8(a.upload(wdvA), bv, bv, r, wdv);
            const scratch = a.alloc(ex.attn_seed_scratch_floats(1, H, G, hd, bv) * 4);
            run = () => void ex.attn_seed_lowrank(1, H, G, hd, bv, r, S - 1, q, lk, lv, wdk, wdv, scale, o, scratch);
            run();
            const lkA = a.f32(lk, S * G * r), lvA = a.f32(lv, S * G * r);
            const dec = (lat: Float32Array, W: Float32Array, n: number, g: number) => (j: number, outRow: Float64Array) => {
              for (let x = 0; x < n; x++) {
                let acc = 0;
                for (let i = 0; i < r; i++) acc += lat[(j * G + g) * r + i] * W[i * n + x];
                outRow[x] = acc;
              }
            };
            const want = new Float64Array(heads.length * bv), have = new Float64Array(heads.length * bv);
            heads.forEach((h, i) => {
              const g = Math.floor(h / hpg);
              want.set(attendHead64(qArr, h * hd, hd, bv, S, scale, dec(lkA, wdkA, hd, g), dec(lvA, wdvA, bv, g)), i * bv);
              have.set(got().subarray(h * bv, (h + 1) * bv), i * bv);
            });
            const chk = checkCalDiff(have, want, "o");
            assertOk(`core seed ${model} S=${S}`, chk);
            check = chk.detail;
            impl = `core attn_seed_lowrank (r ${r})`;
            memoryBound = false;
          } else {
            const k = a.alloc(S * G * hd * 4), v = a.alloc(S * G * bv * 4);
            fillUniform(a.f32(k, S * G * hd), S + 26);
            fillUniform(a.f32(v, S * G * bv), S + 27);
            const scratch = a.alloc(ex.attn_gqa_scratch_floats(1, H, G, hd, bv) * 4);
            run = () => void ex.attn_gqa(1, H, G, hd, bv, S - 1, q, k, v, scale, o, scratch);
            run();
            const kA = a.f32(k, S * G * hd), vA = a.f32(v, S * G * bv);
            const want = new Float64Array(heads.length * bv), have = new Float64Array(heads.length * bv);
            heads.forEach((h, i) => {
              const g = Math.floor(h / hpg);
              want.set(attendHead64(qArr, h * hd, hd, bv, S, scale, (j, row) => { for (let x = 0; x < hd; x++) row[x] = kA[(j * G + g) * hd + x]; }, (j, row) => { for (let x = 0; x < bv; x++) row[x] = vA[(j * G + g) * bv + x]; }), i * bv);
              have.set(got().subarray(h * bv, (h + 1) * bv), i * bv);
            });
            const chk = checkCalDiff(have, want, "o");
            assertOk(`core ${path} ${model} S=${S}`, chk);
            check = chk.detail;
            impl = `core attn_gqa (${G} kv heads)`;
            memoryBound = true;
          }
        }
        const cost = attentionCost(cfg, path as AnyPath, S, 1, { format: "f32", weightFormat: "f32" });
        const p = path === "recompute" ? slowPlan : plan;
        const t = timeIt(`${path} ${model} ${S} ${isa}`, run, p, memoryBound ? flush : undefined);
        const f = makeFigure(probe, {
          group: GROUP[path], model, what: `H=${H} S=${S}`, impl, isa, ms: t.medianMs, flop: cost.flops, bytes: cost.bytes, check,
          note: path === "recompute" || path === "seedPerHead" ? "the decompression of every cached token is inside the kernel" : undefined,
        });
        out.push(f);
        log(`${f.group} ${model} S=${S} ${isa}: ${f.ms.toFixed(2)} ms, ${f.gflops.toFixed(1)} GFLOP/s, ${f.gbs.toFixed(1)} GB/s (${f.pctPeak.toFixed(0)}% peak, ${f.pctBw.toFixed(0)}% BW)`);
      }
    }
  }
  a.reset();
  return out;
}
