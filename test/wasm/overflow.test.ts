// Issue 13 item 6: finite inputs whose float32 computation overflows. Every WASM layer kind
// returned non-finite (or silently zero) output for x around 1e19, well inside float32's range:
// the RMSNorm before the latent (and q_norm) squares x, and 1e19^2 x C overflows; at 1e38 the
// cache took the bad latents and later ordinary steps came out NaN. Now a call whose result is
// not finite throws NonFiniteError naming the stage that overflowed (query, latent, attention,
// output) and commits nothing: no cache change, the next ordinary step as on a fresh layer.
import { describe, expect, it } from "vitest";
import { type MlaConfig, makeConfig } from "../../src/config.js";
import { NonFiniteError } from "../../src/errors.js";
import type { StorageFormat } from "../../src/cache/layout.js";
import { type MlaWeights, Rng, randomMlaWeights } from "../../src/weights.js";
import { createWasmBackend } from "../../src/wasm/node.js";
import type { WasmMla, WasmMlaOptions } from "../../src/wasm/mla-layer.js";
import type { WasmPagedCache } from "../../src/wasm/paged-cache.js";
import { thrown } from "../reference/error-helpers.js";

const base = { dim: 32, n_heads: 2, kv_lora_rank: 16, qk_nope_head_dim: 8, qk_rope_head_dim: 4, v_head_dim: 8, max_seq_len: 256, original_seq_len: 256, max_batch_size: 2 };
const CONFIGS: Record<string, MlaConfig> = { "Q=0": makeConfig({ ...base, q_lora_rank: 0 }), "Q=12": makeConfig({ ...base, q_lora_rank: 12 }) };
const KINDS: { name: string; options: WasmMlaOptions }[] = [
  { name: "naive", options: { path: "naive" } },
  ...(["f32", "bf16", "f16", "int8", "fp8_e4m3"] as StorageFormat[]).map((f) => ({ name: `absorbed ${f}`, options: { path: "absorbed" as const, cacheFormat: f } })),
];

/** Everything a failed call must leave as it was. */
function state(layer: WasmMla, rows: number) {
  const snap = layer.cache.snapshot(rows, layer.cfg.max_seq_len);
  const out: Record<string, unknown> = { lengths: Array.from({ length: rows }, (_, b) => layer.cache.length(b)), bytes: layer.cache.bytesInUse(), snap, arena: layer.kernels.arena.bytesInUse() };
  if (layer.path === "absorbed") {
    const lat = (layer.cache as WasmPagedCache).latent;
    out.records = Array.from({ length: rows }, (_, b) => lat.readRecords(b));
    out.tables = Array.from({ length: rows }, (_, b) => Array.from(lat.blockTable(b)));
    out.blocks = lat.blocksInUse();
  }
  return out;
}

async function layerOf(cfg: MlaConfig, w: MlaWeights, options: WasmMlaOptions): Promise<WasmMla> {
  return (await createWasmBackend({ build: "simd128" })).createMla(cfg, w, { path: options.path ?? "absorbed", ...options });
}

describe("a call whose float32 result overflows throws NonFiniteError and commits nothing", () => {
  for (const [cname, cfg] of Object.entries(CONFIGS)) {
    const w = randomMlaWeights(cfg, new Rng(1));
    for (const kind of KINDS) {
      it(`${cname}, ${kind.name}: x ~ 1e19 .. 1e38 in one token of a rollback call, then ordinary steps as on a fresh layer`, async () => {
        for (const mag of [1e19, 1e20, 1e30, 1e38]) {
          const rng = new Rng(5);
          const x0 = rng.normalArray(2 * 20 * cfg.dim);
          const layer = await layerOf(cfg, w, kind.options);
          layer.forward(x0, { batch: 2, seqlen: 20, startPos: 0 });
          const before = state(layer, 2);
          const x = rng.normalArray(2 * 6 * cfg.dim);
          for (let i = 0; i < cfg.dim; i++) x[(6 + 3) * cfg.dim + i] = (i % 2 ? -1 : 1) * mag; // row 1, token 3
          const err = thrown(() => layer.forward(x, { batch: 2, seqlen: 6, startPos: 16 }));
          if (kind.options.cacheFormat === "f16" && !(err instanceof NonFiniteError)) {
            expect((err as Error).name).toBe("CacheError"); // the format's range is refused first
          } else {
            expect(err, `magnitude ${mag}`).toBeInstanceOf(NonFiniteError);
            expect((err as NonFiniteError).field).toMatch(/^(query|latent|attention|output)\b/);
            expect((err as NonFiniteError).field).toMatch(/\[1, 3\b/); // batch row 1, token 3
          }
          expect(state(layer, 2)).toEqual(before);
          // ordinary steps afterwards: exactly what a layer that never saw the bad call gives
          const fresh = await layerOf(cfg, w, kind.options);
          fresh.forward(x0, { batch: 2, seqlen: 20, startPos: 0 });
          for (let t = 20; t < 23; t++) {
            const xt = rng.normalArray(2 * cfg.dim);
            const y = layer.forward(xt, { batch: 2, seqlen: 1, startPos: t });
            expect(y.every(Number.isFinite)).toBe(true);
            expect(y).toEqual(fresh.forward(xt, { batch: 2, seqlen: 1, startPos: t }));
          }
          expect(state(layer, 2)).toEqual(state(fresh, 2));
        }
      });
    }
  }

  it("names the stage: query (q_norm input), latent (kv_norm input), attention (scores), output (wo)", async () => {
    const cfgQ = CONFIGS["Q=12"], cfg0 = CONFIGS["Q=0"];
    const rng = new Rng(9);
    const stageOf = async (cfg: MlaConfig, w: MlaWeights, options: WasmMlaOptions, x: Float32Array): Promise<string> => {
      const layer = await layerOf(cfg, w, options);
      layer.forward(rng.normalArray(cfg.dim * 4), { batch: 1, seqlen: 4, startPos: 0 });
      const before = state(layer, 1);
      const err = thrown(() => layer.forward(x, { batch: 1, seqlen: 2, startPos: 4 }));
      expect(err).toBeInstanceOf(NonFiniteError);
      expect(state(layer, 1)).toEqual(before);
      return (err as NonFiniteError).field.split(/[: ]/)[0];
    };
    const hot = (cfg: MlaConfig, v: number) => {
      const x = rng.normalArray(2 * cfg.dim);
      x.fill(v, cfg.dim);
      return x;
    };
    for (const path of ["naive", "absorbed"] as const) {
      const opt = { path };
      expect(await stageOf(cfgQ, randomMlaWeights(cfgQ, new Rng(2)), opt, hot(cfgQ, 1e19))).toBe("query");
      expect(await stageOf(cfg0, randomMlaWeights(cfg0, new Rng(2)), opt, hot(cfg0, 1e19))).toBe("latent");
      // scores overflow: q scaled up by the weights, latents and q still finite
      const wq = randomMlaWeights(cfg0, new Rng(2));
      wq.wq = Float32Array.from(wq.wq!, (v) => v * 1e33);
      expect(await stageOf(cfg0, wq, opt, hot(cfg0, 1e4))).toBe("attention");
      // output projection overflow: everything before it finite
      const wo = randomMlaWeights(cfg0, new Rng(2));
      wo.wo = Float32Array.from(wo.wo, (v) => Math.sign(v) * 3e38);
      const layer = await layerOf(cfg0, wo, opt);
      const err = thrown(() => layer.forward(rng.normalArray(cfg0.dim * 3), { batch: 1, seqlen: 3, startPos: 0 }));
      expect(err).toBeInstanceOf(NonFiniteError);
      expect((err as NonFiniteError).field).toMatch(/^output/);
      expect(layer.cache.length(0)).toBe(0);
      expect(layer.cache.bytesInUse()).toBe(0);
    }
  });

  it("an overflow in a later chunk of a long rollback call undoes the chunks already stored", async () => {
    const cfg = CONFIGS["Q=0"];
    const w = randomMlaWeights(cfg, new Rng(1));
    for (const kind of KINDS) {
      const rng = new Rng(3);
      const layer = await layerOf(cfg, w, { ...kind.options, maxChunkTokens: 4 });
      const x0 = rng.normalArray(2 * 70 * cfg.dim);
      layer.forward(x0, { batch: 2, seqlen: 70, startPos: 0 });
      const before = state(layer, 2);
      const x = rng.normalArray(2 * 30 * cfg.dim);
      x.fill(1e20, (30 + 25) * cfg.dim, (30 + 26) * cfg.dim); // row 1, token 25: the seventh chunk
      const err = thrown(() => layer.forward(x, { batch: 2, seqlen: 30, startPos: 50 }));
      expect(err, kind.name).toBeInstanceOf(kind.options.cacheFormat === "f16" ? Error : NonFiniteError);
      expect(state(layer, 2), kind.name).toEqual(before);
    }
  });
});
