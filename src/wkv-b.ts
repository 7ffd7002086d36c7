// wkv_b [H (dn + dv), C] split per head the way llama.cpp's deepseek2 graph uses it (and its
// converter writes it): attn_k_b [H, C, dn], each head's k rows transposed so q_nope x attn_k_b
// lands in the latent, and attn_v_b [H, dv, C], each head's v rows as they are.

/** wkv_b [H (dn + dv), C] -> attn_k_b [H, C, dn] and attn_v_b [H, dv, C]. */
export function splitWkvB(wkv_b: ArrayLike<number>, H: number, C: number, dn: number, dv: number): { kb: Float32Array; vb: Float32Array } {
  const kb = new Float32Array(H * C * dn), vb = new Float32Array(H * dv * C);
  for (let h = 0; h < H; h++) {
    const row0 = h * (dn + dv);
    for (let i = 0; i < dn; i++) for (let c = 0; c < C; c++) kb[(h * C + c) * dn + i] = wkv_b[(row0 + i) * C + c];
    for (let j = 0; j < dv * C; j++) vb[h * dv * C + j] = wkv_b[(row0 + dn) * C + j];
  }
  return { kb, vb };
}

/** attn_k_b [H, C, dn] and attn_v_b [H, dv, C] -> wkv_b [H (dn + dv), C]: splitWkvB's inverse. */
export function joinWkvB(kb: ArrayLike<number>, vb: ArrayLike<number>, H: number, C: number, dn: number, dv: number): Float32Array {
  const out = new Float32Array(H * (dn + dv) * C);
  for (let h = 0; h < H; h++) {
    const row0 = h * (dn + dv);
    for (let c = 0; c < C; c++) for (let i = 0; i < dn; i++) out[(row0 + i) * C + c] = kb[(h * C + c) * dn + i];
    for (let j = 0; j < dv * C; j++) out[(row0 + dn) * C + j] = vb[h * dv * C + j];
  }
  return out;
}
