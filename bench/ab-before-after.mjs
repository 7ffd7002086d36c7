// Before/after of the hot kernels across a code change, on the same machine in the same minute:
// builds the core of git revision REV (default: the commit before the one-layer redesign) into a
// temporary directory, loads it beside build/mla-relaxed.wasm, and times both interleaved.
//   npm run -s build:as && flock /tmp/mlakit-heavy.lock node bench/ab-before-after.mjs [REV]
// The old absorbed kernel is attn_absorbed_fused (contiguous rows); the new one attn_absorbed_paged (f32 pool).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
const REV = process.argv[2] ?? "9fb3574";
const root = join(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "mlakit-ab-"));
execFileSync("sh", ["-c", `git -C "${root}" archive ${REV} assembly asconfig.json | tar -x -C "${dir}"`]);
execFileSync(join(root, "node_modules", ".bin", "asc"), ["--config", "asconfig.json", "--target", "relaxed"], { cwd: dir, stdio: "inherit" });
setFlagsFromString("--experimental-wasm-relaxed-simd");
const load = (p) => new WebAssembly.Instance(new WebAssembly.Module(readFileSync(p)), {}).exports;
const mods = { old: load(join(dir, "build", "mla-relaxed.wasm")), new: load(join(root, "build", "mla-relaxed.wasm")) };
const M = 64, N = 1536, K = 7168;
function setup(ex) {
  const mem = ex.memory; const base = (ex.heap_base() + 63) & ~63;
  const need = base + 4 * (ex.packed_size_8(N, K) + M * K + M * N + N * K) + 65536;
  if (mem.buffer.byteLength < need) mem.grow(Math.ceil((need - mem.buffer.byteLength) / 65536));
  const f = new Float32Array(mem.buffer);
  const w = base, wp = w + 4 * N * K, x = wp + 4 * ex.packed_size_8(N, K), y = x + 4 * M * K;
  for (let i = 0; i < N * K; i++) f[(w >> 2) + i] = Math.sin(i);
  for (let i = 0; i < M * K; i++) f[(x >> 2) + i] = Math.cos(i);
  ex.pack_nk_8(w, K, N, K, wp);
  return () => ex.gemm_4x8(M, N, K, x, K, wp, y, N);
}
const runs = { old: setup(mods.old), new: setup(mods.new) };
const t = { old: [], new: [] };
for (let r = 0; r < 12; r++) for (const k of ["old", "new"]) { const t0 = performance.now(); runs[k](); t[k].push(performance.now() - t0); }
const med = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
console.log(`gemm 64x1536x7168 relaxed median ms: old (${REV})`, med(t.old).toFixed(2), "new", med(t.new).toFixed(2), "new/old", (med(t.new) / med(t.old)).toFixed(3));

// absorbed decode attention, V3 H 128, S 4096: old attn_absorbed_fused (contiguous rows) vs new attn_absorbed_paged (f32 pool, blocks in order)
const H = 128, C = 512, dr = 64, dn = 128, dv = 128, S = 4096, qk = dn + dr;
function attnSetup(ex, paged) {
  const mem = ex.memory; const base = (ex.heap_base() + 63) & ~63;
  const per = ex.packed_size_8(dv, C);
  const scratchF = paged ? ex.attend_paged_scratch_floats(H, C, dr) : ex.attend_scratch_floats(H);
  const bytes = 4 * (S * (C + dr) + H * C + H * qk + H * per + H * C + H * dv + scratchF + 64) + 4 * 64 + 1024;
  const need = base + bytes + 65536;
  if (mem.buffer.byteLength < need) mem.grow(Math.ceil((need - mem.buffer.byteLength) / 65536));
  let p = base; const take = (n) => { const r = p; p += 4 * n; p = (p + 63) & ~63; return r; };
  const pool = take(S * (C + dr)), qabs = take(H * C), q = take(H * qk), wuv = take(H * per), olat = take(H * C), o = take(H * dv), scratch = take(scratchF), table = take(64);
  const f = new Float32Array(mem.buffer), i32 = new Int32Array(mem.buffer);
  for (let i = 0; i < S * (C + dr); i++) f[(pool >> 2) + i] = Math.sin(i * 0.37) * 0.5;
  for (let i = 0; i < H * C; i++) f[(qabs >> 2) + i] = Math.cos(i * 0.11) * 0.05;
  for (let i = 0; i < H * qk; i++) f[(q >> 2) + i] = Math.cos(i * 0.13) * 0.05;
  for (let i = 0; i < H * per; i++) f[(wuv >> 2) + i] = Math.sin(i * 0.7) * 0.04;
  for (let k = 0; k < 64; k++) i32[(table >> 2) + k] = k;
  if (paged) return () => ex.attn_absorbed_paged(0, 1, H, C, dr, dn, dv, S - 1, qabs, q, pool, S * (C + dr) * 4, table, 0.07, wuv, olat, o, scratch);
  // old: contiguous kv [S, C] and pe [S, dr] rows; reuse the pool bytes as kv (values do not matter for time)
  return () => ex.attn_absorbed_fused(1, H, C, dr, dn, dv, S - 1, qabs, q, pool, pool + 4 * S * C, 0.07, wuv, olat, o, scratch);
}
const aruns = { old: attnSetup(mods.old, false), new: attnSetup(mods.new, true) };
const at = { old: [], new: [] };
for (let r = 0; r < 10; r++) for (const k of ["old", "new"]) { const t0 = performance.now(); aruns[k](); at[k].push(performance.now() - t0); }
console.log("absorbed attention V3 H128 S4096 relaxed median ms: old", med(at.old).toFixed(2), "new", med(at.new).toFixed(2), "new/old", (med(at.new) / med(at.old)).toFixed(3));
