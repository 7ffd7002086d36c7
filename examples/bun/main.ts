// Bun: one session of the example layer — each token appends (C + dr) numbers to the latent
// cache and yields the next attention output.
//   bun examples/bun/main.ts [tokens] [--json]
// ("mlakit" resolves to this package's browser-safe entry via package.json "exports".)
import { createWasmBackendFromBytes } from "mlakit";
import { DEMO_CONFIG, Sessions, demoWeights, latentCacheBytes, tokenVector } from "../demo-layer.js";

const args = Bun.argv.slice(2);
const asJson = args.includes("--json");
const tokens = (args.find((a) => !a.startsWith("--")) ?? "3,1,4,1,5,9,2,6").split(",").map(Number);
// The two WASM builds (npm run build); the loader takes relaxed SIMD where the runtime validates it.
const read = async (name: string) => new Uint8Array(await Bun.file(new URL(`../../build/${name}`, import.meta.url)).arrayBuffer());
const backend = await createWasmBackendFromBytes({ simd128: await read("mla-simd128.wasm"), relaxed: await read("mla-relaxed.wasm") });
const sessions = new Sessions(backend, demoWeights(), { maxSessions: 1 });

const steps = [];
for (const t of tokens) steps.push(await sessions.step("bun", tokenVector(t)));
const last = steps[steps.length - 1];
const perSessionAtMax = latentCacheBytes(DEMO_CONFIG, DEMO_CONFIG.max_seq_len, last.bytesPerToken / (DEMO_CONFIG.kv_lora_rank + DEMO_CONFIG.qk_rope_head_dim));
if (asJson) {
  console.log(JSON.stringify({ runtime: `bun ${Bun.version}`, backend: backend.name, build: backend.build, tokens, outputs: steps.map((s) => s.output), bytesPerToken: last.bytesPerToken, cacheBytes: last.cacheBytes }));
} else {
  for (const s of steps) console.log(`position ${s.position}: output[0..3] = ${s.output.slice(0, 4).map((v) => v.toFixed(5)).join(", ")}  cache ${s.cacheBytes} B`);
  console.log(`bun ${Bun.version}, backend ${backend.name} (${backend.build}): ${last.bytesPerToken} B per token; ${(perSessionAtMax / 2 ** 20).toFixed(1)} MiB at max_seq_len ${DEMO_CONFIG.max_seq_len}`);
  sessions.end("bun");
}
