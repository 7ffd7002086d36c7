// Memory of one latent KV cache, computed from the config: bytes per token x tokens.
// Absorbed path (what the examples keep): per token and layer, the normalised latent c_KV (C)
// and the shared rope key k_pe (dr), float32 in the WASM backend: (C + dr) x 4 bytes.
// Naive path for contrast: per head k (dn + dr) and v (dv): H x (dn + dr + dv) x 4 bytes.
//   node examples/cache-memory.mjs        (after npm run build)
import { PRESETS, makeConfig } from "mlakit";
import { DEMO_CONFIG } from "./demo-layer.js";

const F32 = 4;
const MiB = 2 ** 20;
const rows = [["config", "C + dr", "B/token/layer", "naive B/token/layer", "layers", "B/token (model)", "4096 tokens, 1 layer", "max_seq_len, 1 layer"]];
const configs = [...Object.entries(PRESETS).map(([n, c]) => [n, makeConfig(c)]), ["examples' demo layer", DEMO_CONFIG]];
for (const [name, c] of configs) {
  const latent = (c.kv_lora_rank + c.qk_rope_head_dim) * F32;
  const naive = c.n_heads * (c.qk_nope_head_dim + c.qk_rope_head_dim + c.v_head_dim) * F32;
  rows.push([name, String(c.kv_lora_rank + c.qk_rope_head_dim), String(latent), String(naive), String(c.n_layers), String(latent * c.n_layers), `${((latent * 4096) / MiB).toFixed(1)} MiB`, `${((latent * c.max_seq_len) / MiB).toFixed(1)} MiB (${c.max_seq_len})`]);
}
const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const [i, r] of rows.entries()) {
  console.log("| " + r.map((c, j) => c.padEnd(w[j])).join(" | ") + " |");
  if (i === 0) console.log("|" + w.map((n) => "-".repeat(n + 2)).join("|") + "|");
}
