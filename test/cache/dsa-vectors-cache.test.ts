// The V3.2 cache on DeepSeek's official vectors (vectors/deepseek-v3.2-dsa): fed each call's
// act_quant inputs as the files dump them (the latent's bf16(kv_norm(c)), the indexer's rotated
// key k_rot) and the roped k_pe, a LatentCache in fp8_e4m3_v32 with index keys holds exactly what
// model.py's buffers hold: kv_cache (the dequantised latent), indexer.k_cache and
// indexer.k_scale_cache bit for bit, every call's e4m3 codes and scales of the latent, and pe_cache
// rounded to bf16 (the 656-byte record keeps k_pe in bf16). The same against the float64 oracle's
// trace (ReferenceDsa), a separate implementation of act_quant.
import { readFileSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { LatentCache } from "../../src/cache/latent-cache.js";
import { loadCache, saveCache } from "../../src/cache/persist.js";
import { E4M3_VALUES } from "../../src/cache/scalar.js";
import { type DsaVectorCase, parseDsaVectorCaseText } from "../../src/io/mla-vectors-v2.js";
import { ReferenceDsa } from "../../src/reference/dsa/layer.js";
import { bf16Round } from "../../src/reference/dsa/quant.js";

const DIR = new URL("../../vectors/deepseek-v3.2-dsa/", import.meta.url);
const FILES = readdirSync(DIR).filter((f) => f.endsWith(".json")).sort();
const load = (f: string): DsaVectorCase => parseDsaVectorCaseText(readFileSync(new URL(f, DIR), "utf8"), f);

const bits = (a: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(a).buffer));

describe("the V3.2 cache on the official vectors", () => {
  it("holds six cases", () => expect(FILES.length).toBe(6));

  it.each(FILES)("%s: kv_cache, indexer.k_cache and k_scale_cache exactly as model.py's buffers; every call's codes and scales", (f) => {
    const c = load(f), cfg = c.config, B = c.batch;
    const C = cfg.kv_lora_rank, dr = cfg.qk_rope_head_dim, DI = cfg.index_head_dim, G = C / 128;
    const E = c.calls[c.calls.length - 1].endPos;
    const cache = new LatentCache(cfg, { format: "fp8_e4m3_v32", indexKeys: true });
    const oracle = new ReferenceDsa(cfg, c.weights);
    const pe = c.caches.pe_cache.data; // [B, E, dr]
    let end = 0;
    for (const call of c.calls) {
      const { startPos: p, seqlen: s } = call;
      expect(p).toBe(end); // one prefill, then decodes that follow it: the final pe_cache rows are each call's k_pe
      end = call.endPos;
      const { trace } = oracle.forwardTrace(call.input.data, { batch: B, seqlen: s, startPos: p });
      const lat = call.kv_quant.input_bf16.data, krot = call.indexer.k_rot.data;
      cache.writeBatch(
        Array.from({ length: B }, (_, b) => ({
          seq: b,
          startPos: p,
          c: lat.subarray(b * s * C, (b + 1) * s * C),
          kpe: pe.subarray((b * E + p) * dr, (b * E + p + s) * dr),
          indexK: krot.subarray(b * s * DI, (b + 1) * s * DI),
        })),
      );
      for (let b = 0; b < B; b++) {
        const recs = cache.readRecords(b, p, p + s), bpt = cache.layout.bytesPerToken, dv = new DataView(recs.buffer);
        const codes: number[] = [], scales: number[] = [];
        for (let t = 0; t < s; t++) {
          for (let i = 0; i < C; i++) codes.push(E4M3_VALUES[recs[t * bpt + i]]);
          for (let g = 0; g < G; g++) scales.push(dv.getFloat32(t * bpt + C + 4 * g, true));
        }
        // the official act_quant of the latent, per call
        expect(bits(codes)).toEqual(bits(call.kv_quant.fp8.data.subarray(b * s * C, (b + 1) * s * C)));
        expect(bits(scales)).toEqual(bits(call.kv_quant.scale.data.subarray(b * s * G, (b + 1) * s * G)));
        // the oracle's: dequantised latent, key codes and scales
        const rows = cache.read(b, p, p + s), keys = cache.readIndexKeys(b, p, p + s);
        const deq: number[] = [];
        for (let t = 0; t < s; t++) deq.push(...rows.subarray(t * (C + dr), t * (C + dr) + C));
        expect(bits(deq)).toEqual(bits(trace.kv.subarray(b * s * C, (b + 1) * s * C)));
        expect(bits(keys.values)).toEqual(bits(trace.indexer.k_fp8.subarray(b * s * DI, (b + 1) * s * DI)));
        expect(Array.from(keys.scales)).toEqual(Array.from(trace.indexer.k_scale.subarray(b * s, (b + 1) * s)));
      }
    }
    const check = (cc: LatentCache) => {
      const snap = cc.snapshot(B, E);
      expect(bits(snap.kv_cache.data)).toEqual(bits(c.caches.kv_cache.data));
      expect(bits(snap["indexer.k_cache"].data)).toEqual(bits(c.caches["indexer.k_cache"].data));
      expect(bits(snap["indexer.k_scale_cache"].data)).toEqual(bits(c.caches["indexer.k_scale_cache"].data));
      expect(snap["indexer.k_scale_cache"].shape).toEqual(c.caches["indexer.k_scale_cache"].shape);
      expect(bits(snap.pe_cache.data)).toEqual(bits(Array.from(pe, bf16Round)));
    };
    check(cache);
    check(loadCache(saveCache(cache), { config: cfg, format: "fp8_e4m3_v32", indexKeys: true }));
  });
});
