#!/usr/bin/env python3
"""Check a PyTorch MLA layer against mla-vectors/1 cases.

Reads the official DeepSeek-V3 vectors (vectors/deepseek-v3-mla/) or cases written by
`mlakit vectors generate` (inline weights, or weights in a .safetensors file the JSON names in
"weights_file"), runs every call through the naive and the absorbed path of an MLA, and compares
every output, both caches and the RoPE table with the stored numbers.

    python3 examples/python/check_mla.py vectors/deepseek-v3-mla            # the reference MLA below
    python3 examples/python/check_mla.py my-case.json --impl mypkg.mla:make  # your own implementation

--impl module:function names a callable make(args, weights, path) -> layer, where args is the
case's "args" dict (official ModelArgs names, plus "rope_layout" when it is "half"), weights maps
state_dict names ("wq_a.weight", ...) to float32 tensors, path is "naive" or "absorb", and the
layer is called as layer(x, start_pos) -> y [B, s, dim] and has layer.caches() -> {official
buffer name: tensor [B, end_pos, ...]}. Exit 0: all within --atol (default 1e-4 absolute, the
bound mlakit uses for the official set); 1: a mismatch; 2: a file it cannot read.

Needs PyTorch and numpy (Debian: apt install python3-torch). Not run by mlakit's CI.
"""
import argparse
import importlib
import json
import math
import os
import struct
import sys

import numpy as np
import torch

# ------------------------------------------------------------------------------------------------
# Reading cases


def tensor(entry):
    return torch.from_numpy(np.asarray(entry["data"], dtype=np.float32).reshape(entry["shape"]))


def _e4m3_table():
    out = np.empty(256, dtype=np.float32)
    for b in range(256):
        s = -1.0 if b & 0x80 else 1.0
        e, m = (b >> 3) & 0xF, b & 7
        out[b] = np.nan if (e == 15 and m == 7) else s * (m * 2.0**-9 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7))
    return out


def read_safetensors(path, names):
    """Read only the named tensors: 8-byte LE header length, JSON header, then byte ranges."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > 100_000_000:
            raise ValueError(f"{path}: header length {n} is above the format's 100 MB cap")
        header = json.loads(f.read(n))
        out = {}
        for name in names:
            h = header[name]
            begin, end = h["data_offsets"]
            f.seek(8 + n + begin)
            raw = f.read(end - begin)
            dt = h["dtype"]
            if dt == "F32":
                a = np.frombuffer(raw, "<f4")
            elif dt == "F16":
                a = np.frombuffer(raw, "<f2").astype(np.float32)
            elif dt == "BF16":
                a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
            elif dt == "F8_E4M3":
                a = _e4m3_table()[np.frombuffer(raw, np.uint8)]
            else:
                raise ValueError(f"{path}: {name} has dtype {dt}; weights must be F32, F16, BF16 or F8_E4M3")
            out[name] = torch.from_numpy(a.astype(np.float32).reshape(h["shape"]))
        return out


def load_case(path):
    with open(path) as f:
        case = json.load(f)
    if case.get("format") != "mla-vectors/1":
        raise ValueError(f'{path}: format {case.get("format")!r}, expected "mla-vectors/1"')
    t = case["tensors"]
    if "weights_file" in case:
        weights = read_safetensors(os.path.join(os.path.dirname(path), case["weights_file"]), case["weights"])
    else:
        weights = {n: tensor(t[n]) for n in case["weights"]}
    return case, weights


# ------------------------------------------------------------------------------------------------
# A reference MLA in PyTorch (DeepSeek-V3 inference/model.py semantics; shapes in comments).
# B batch, s new tokens, T cached tokens, H heads, D dim, C kv_lora_rank, dn/dr/dv head dims.


def yarn_freqs(a):
    dr, theta = a["qk_rope_head_dim"], a["rope_theta"]
    f = 1.0 / theta ** (torch.arange(0, dr, 2, dtype=torch.float64) / dr)
    if a["max_seq_len"] > a["original_seq_len"]:
        corr = lambda r: dr * math.log(a["original_seq_len"] / (r * 2 * math.pi)) / (2 * math.log(theta))
        low, high = max(math.floor(corr(a["beta_fast"])), 0), min(math.ceil(corr(a["beta_slow"])), dr - 1)
        if low == high:
            high += 0.001
        smooth = 1 - torch.clamp((torch.arange(dr // 2, dtype=torch.float64) - low) / (high - low), 0, 1)
        f = f / a["rope_factor"] * (1 - smooth) + f * smooth
    return f  # [dr/2]


def rope(x, cos, sin, layout):
    """x [..., s, dr] rotated per position; cos/sin [s, dr/2] broadcast over heads by the caller."""
    if layout == "interleaved":
        a, b = x[..., 0::2], x[..., 1::2]
        return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)
    h = x.shape[-1] // 2
    a, b = x[..., :h], x[..., h:]
    return torch.cat((a * cos - b * sin, a * sin + b * cos), dim=-1)


class TorchMla:
    def __init__(self, args, weights, path, dtype=torch.float64):
        self.a, self.path, self.dt = args, path, dtype
        self.w = {k[: -len(".weight")]: v.to(dtype) for k, v in weights.items()}
        self.layout = args.get("rope_layout", "interleaved")
        dn, dr = args["qk_nope_head_dim"], args["qk_rope_head_dim"]
        self.scale = (dn + dr) ** -0.5
        if args["max_seq_len"] > args["original_seq_len"]:
            m = 0.1 * args["mscale"] * math.log(args["rope_factor"]) + 1.0
            self.scale *= m * m
        self.freqs = yarn_freqs(args)
        self.buf = {}

    def rms(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w

    def _write(self, name, start, val):
        B = val.shape[0]
        cur = self.buf.get(name)
        end = start + val.shape[1]
        if cur is None or cur.shape[1] < end:
            grown = torch.zeros((B, end) + tuple(val.shape[2:]), dtype=self.dt)
            if cur is not None:
                grown[:, : cur.shape[1]] = cur
            cur = grown
        cur = cur[:, :end].clone()  # positions >= end are dropped (rollback semantics)
        cur[:, start:end] = val
        self.buf[name] = cur
        return cur

    def __call__(self, x, start_pos):
        a, w = self.a, self.w
        B, s, _ = x.shape
        H, C = a["n_heads"], a["kv_lora_rank"]
        dn, dr, dv = a["qk_nope_head_dim"], a["qk_rope_head_dim"], a["v_head_dim"]
        x = x.to(self.dt)
        end = start_pos + s
        ang = torch.arange(start_pos, end, dtype=torch.float64)[:, None] * self.freqs[None, :]
        cos, sin = ang.cos().to(self.dt), ang.sin().to(self.dt)  # [s, dr/2]
        q = x @ w["wq"].T if a["q_lora_rank"] == 0 else self.rms(x @ w["wq_a"].T, w["q_norm"]) @ w["wq_b"].T
        q = q.view(B, s, H, dn + dr)
        q_nope, q_pe = q[..., :dn], rope(q[..., dn:].transpose(1, 2), cos, sin, self.layout).transpose(1, 2)
        kv = x @ w["wkv_a"].T  # [B, s, C+dr]
        c = self.rms(kv[..., :C], w["kv_norm"])
        k_pe = rope(kv[..., C:], cos, sin, self.layout)  # [B, s, dr], one key for all heads
        mask = torch.arange(end)[None, :] > (start_pos + torch.arange(s))[:, None]  # [s, T] causal
        if self.path == "naive":
            kvb = (c @ w["wkv_b"].T).view(B, s, H, dn + dv)
            k = torch.cat((kvb[..., :dn], k_pe[:, :, None, :].expand(B, s, H, dr)), dim=-1)
            kc, vc = self._write("k_cache", start_pos, k), self._write("v_cache", start_pos, kvb[..., dn:])
            scores = torch.einsum("bshd,bthd->bsht", torch.cat((q_nope, q_pe), -1), kc) * self.scale
            p = scores.masked_fill(mask[None, :, None, :], float("-inf")).softmax(-1)
            o = torch.einsum("bsht,bthd->bshd", p, vc)
        else:
            W = w["wkv_b"].view(H, dn + dv, C)
            q_abs = torch.einsum("bshd,hdc->bshc", q_nope, W[:, :dn])
            kvc, pec = self._write("kv_cache", start_pos, c), self._write("pe_cache", start_pos, k_pe)
            scores = (torch.einsum("bshc,btc->bsht", q_abs, kvc) + torch.einsum("bshr,btr->bsht", q_pe, pec)) * self.scale
            p = scores.masked_fill(mask[None, :, None, :], float("-inf")).softmax(-1)
            o = torch.einsum("bshc,hdc->bshd", torch.einsum("bsht,btc->bshc", p, kvc), W[:, dn:])
        return o.flatten(2) @ w["wo"].T  # [B, s, D]

    def caches(self):
        return self.buf


def make_reference(args, weights, path):
    return TorchMla(args, weights, path)


# ------------------------------------------------------------------------------------------------
# Checking


def check(path, make, atol):
    case, weights = load_case(path)
    t, args = case["tensors"], dict(case["args"])
    errors = {}
    for impl, out_key, cache_key in (("naive", "output_naive", "naive"), ("absorb", "output_absorb", "absorb")):
        layer = make(args, weights, impl)
        worst = 0.0
        for call in case["calls"]:
            y = layer(tensor(t[call["input"]]), call["start_pos"])
            worst = max(worst, (y.double() - tensor(t[call[out_key]]).double()).abs().max().item())
        errors[impl] = worst
        got = layer.caches()
        errors[impl + " cache"] = max((got[n][:, : case["derived"]["end_pos"]].double() - tensor(t[ref]).double()).abs().max().item() for n, ref in case["caches"][cache_key].items())
    f = yarn_freqs(args)
    ang = torch.arange(case["derived"]["end_pos"], dtype=torch.float64)[:, None] * f[None, :]
    errors["freqs"] = max((ang.cos() - tensor(t[case["freqs"]["cos"]]).double()).abs().max().item(), (ang.sin() - tensor(t[case["freqs"]["sin"]]).double()).abs().max().item())
    ok = all(e <= atol for e in errors.values())
    print(f'{"pass" if ok else "FAIL"}  {case["name"]:34s} ' + "  ".join(f"{k} {v:.2e}" for k, v in errors.items()))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("path", help="a case JSON or a directory of them")
    ap.add_argument("--impl", help="module:function building your MLA (see the docstring)")
    ap.add_argument("--atol", type=float, default=1e-4)
    opts = ap.parse_args()
    make = make_reference
    if opts.impl:
        mod, fn = opts.impl.split(":")
        make = getattr(importlib.import_module(mod), fn)
    files = [opts.path] if os.path.isfile(opts.path) else sorted(os.path.join(opts.path, f) for f in os.listdir(opts.path) if f.endswith(".json"))
    try:
        results = [check(f, make, opts.atol) for f in files]
    except (ValueError, KeyError, json.JSONDecodeError, OSError) as e:
        print(f"check_mla: cannot read a case: {e!r}", file=sys.stderr)
        return 2
    print(f'{"PASS" if all(results) else "FAIL"}: {sum(results)}/{len(results)} cases within {opts.atol}')
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
