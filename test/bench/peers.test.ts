// The peers compute what the bench says they compute: the hand-written ONNX MatMul model and the
// tfjs matMul on a pre-transposed W both give y = x W^T (checked by the bench's own gate).
import { describe, expect, it } from "vitest";
import { OrtLinear, matMulModel } from "../../bench/peers/ort.js";
import { TfjsLinear, tfjsReady, transpose } from "../../bench/peers/tfjs.js";
import { checkLinear } from "../../bench/lib/check.js";
import { fillUniform } from "../../bench/lib/data.js";

const M = 3, N = 5, K = 7;
const x = fillUniform(new Float32Array(M * K), 1), w = fillUniform(new Float32Array(N * K), 2);

describe("bench peers", () => {
  it("transpose is [R, C] -> [C, R] across block edges", () => {
    const R = 70, C = 65, a = fillUniform(new Float32Array(R * C), 3), t = transpose(a, R, C);
    for (const [r, c] of [[0, 0], [69, 64], [63, 64], [64, 1]]) expect(t[c * R + r]).toBe(a[r * C + c]);
  });
  it("the ONNX model bytes name a MatMul and carry B's bytes", () => {
    const bytes = matMulModel(K, N, transpose(w, N, K));
    const text = new TextDecoder("latin1").decode(bytes);
    expect(text).toContain("MatMul");
    expect(bytes.length).toBeGreaterThan(K * N * 4);
  });
  it("onnxruntime-web runs it as y = x W^T, for any M", async () => {
    const ort = await OrtLinear.create(transpose(w, N, K), K, N);
    for (const m of [1, M]) {
      ort.setInput(x.subarray(0, m * K), m);
      const r = checkLinear(await ort.run(), x, w, m, N, K, m * N);
      expect(r.ok, r.detail).toBe(true);
    }
    await ort.dispose();
  });
  it("tfjs-wasm matMul on W^T gives y = x W^T", async () => {
    await tfjsReady();
    const t = new TfjsLinear(transpose(w, N, K), N, K);
    t.setInput(x, M);
    const r = checkLinear(t.output(), x, w, M, N, K, M * N);
    expect(r.ok, r.detail).toBe(true);
    t.dispose();
  });
});
