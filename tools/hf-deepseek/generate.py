#!/usr/bin/env python3
"""Golden vectors from Hugging Face transformers' own DeepSeek attention code (hf-deepseek-vectors/1).

    python3 tools/hf-deepseek/generate.py --transformers-src DIR --out vectors/hf-deepseek [--case NAME ...]

DIR is a checkout of huggingface/transformers at the commit below (or any directory holding the three
files below, either at their repository paths or side by side). No transformers code is part of this
repository: this harness reads the three files at run time, refuses them unless their sha256 is the
one it was written against, takes the top-level definitions it needs out of them with `ast`, and
executes those definitions UNMODIFIED (compiled from the files' own syntax trees, line numbers kept)
in namespaces that provide small shims for the transformers internals they name (listed in SHIMS
and recorded in every case). Import statements of the files are not executed (the names they bind
are provided by the shims); nothing else of the files is changed.

Per case it writes DIR_OUT/NAME/{config.json, model.safetensors, case.json}: a one-layer Hugging Face
config, the attention weights under their Hugging Face names (float32), and the calls (a causal
prefill, then single-token decodes through the cache) with inputs and outputs of the attention module
(o_proj applied), plus what transformers derived (attention_factor, softmax scale, inv_freq, ...).
Needs Debian's python3-torch (1.13) and numpy; computes with the module converted to float64.
"""
import argparse
import ast
import copy
import hashlib
import json
import math
import os
import platform
import struct
import sys
import warnings
from collections.abc import Callable
from functools import wraps
from typing import Optional, TypedDict

import numpy as np
import torch

FORMAT = "hf-deepseek-vectors/1"

# ------------------------------------------------------------------------------------------------
# What this harness was written against. Change nothing here without regenerating every case.

TRANSFORMERS = {
    "repository": "huggingface/transformers",
    "commit": "decba1d2ea4ed3cbf0495d1828abad4b2dba1846",
    "commit_date": "2026-08-19",
    "commit_subject": "Enable mlinter findings artifact for inline PR reviews (#48117)",
    "note": "main after PR #47435 (4a1c4b1a69d8e1353676d10ee11681da65bbe918, 2026-07-20, 'Fix yarn `mscale_all_dim` "
    "for DeepSeek v2 and Mistral 4'), so DeepseekV2Attention has the mscale_all_dim softmax scale (yarn_apply_mscale)",
}

ROPE = "src/transformers/modeling_rope_utils.py"
V2 = "src/transformers/models/deepseek_v2/modeling_deepseek_v2.py"
V3 = "src/transformers/models/deepseek_v3/modeling_deepseek_v3.py"

FILES = {
    ROPE: "56fe0e57136198248913418b759a40986870fe1048a564dc32c675690a57d9df",
    V2: "67751f604893c91bd495a34ce793ae91ded856c2f680325544d6a316000eba84",
    V3: "ad60b03764c830670c7f428d00b0e5f4a3131474bcb80873a17875e59b1896c5",
}

# Top-level definitions executed from each file (everything else in the files is not run).
DEFINITIONS = {
    ROPE: [
        "dynamic_rope_update",
        "_compute_linear_scaling_rope_parameters",
        "_compute_proportional_rope_parameters",
        "_compute_dynamic_ntk_parameters",
        "_compute_yarn_parameters",
        "_compute_longrope_parameters",
        "_compute_llama3_parameters",
        "ROPE_INIT_FUNCTIONS",
        "RotaryEmbeddingConfigMixin",
    ],
    V3: [
        "DeepseekV3RMSNorm",
        "DeepseekV3RotaryEmbedding",
        "repeat_kv",
        "eager_attention_forward",
        "yarn_get_mscale",
        "yarn_apply_mscale",
        "rotate_half",
        "apply_rotary_pos_emb",
        "apply_rotary_pos_emb_interleave",
        "DeepseekV3Attention",
    ],
    V2: [
        "DeepseekV2RMSNorm",
        "DeepseekV2RotaryEmbedding",
        "repeat_kv",
        "eager_attention_forward",
        "apply_rotary_emb",
        "yarn_get_mscale",
        "yarn_apply_mscale",
        "DeepseekV2Attention",
    ],
}

# Every stand-in for something the executed definitions reference (the "every edit" record).
SHIMS = [
    "imports: the files' import statements are not executed; their names are bound to: math, warnings, "
    "collections.abc.Callable, functools.wraps, typing.Optional/TypedDict, torch, torch.nn.functional as F (real), "
    "and the stand-ins below",
    "nn: torch.nn plus nn.Buffer(t, persistent=False) -> t (torch 1.13 has no nn.Buffer; the rotary modules keep "
    "inv_freq as a plain attribute instead of a buffer; their forward casts it to float32 itself, as it would a buffer)",
    "maybe_autocast(device_type, enabled) -> torch.autocast(device_type=..., enabled=...) (transformers.utils.generic)",
    "deprecate_kwarg(...) -> identity decorator (transformers.utils.deprecation; only warns about the unused `device` kwarg)",
    "use_kernel_forward_from_hub(name) -> identity decorator (no hub kernels: the modules' own forward runs)",
    "ALL_ATTENTION_FUNCTIONS.get_interface('eager', default) -> default, i.e. the file's own eager_attention_forward "
    "(config._attn_implementation = 'eager'; any other implementation is refused)",
    "Cache: a minimal cache whose update(k, v, layer_idx) concatenates along dim -2 and returns the whole layer "
    "(transformers' DynamicLayer.update semantics); the attention caches the compressed latent (kv_a_layernorm(c_kv)) "
    "and the roped k_pe through it",
    "logger (transformers.utils.logging.get_logger): a logger with warning/warning_once/info that records messages "
    "into case.json ('transformers_warnings')",
    "Unpack, TransformersKwargs, FlashAttentionKwargs: annotation-only placeholders",
    "DeepseekV3Config / DeepseekV2Config: a config object subclassing the file's own RotaryEmbeddingConfigMixin; "
    "it sets the config.json fields the attention reads (hidden_size, num_attention_heads, num_key_value_heads "
    "[default num_attention_heads], q_lora_rank [null = no q compression], kv_lora_rank, qk_nope_head_dim, "
    "qk_rope_head_dim, v_head_dim, max_position_embeddings, attention_bias [false], attention_dropout [0], "
    "rope_parameters [config.json's, default null], rope_interleave [deepseek_v3 only, default true]), then does "
    "what configuration_deepseek_v{2,3}.py __post_init__ does (qk_head_dim = qk_nope_head_dim + qk_rope_head_dim, "
    "head_dim = qk_rope_head_dim) and what PreTrainedConfig.__post_init__ does with RoPE: "
    "convert_rope_params_to_dict(rope_scaling=..., rope_theta=...) with config.json's values, then validate_rope() "
    "(both the mixin's own code); _attn_implementation = 'eager'",
    "position ids: arange(startPos, startPos + seqlen)[None] (DeepseekV3Model/DeepseekV2Model with a cache); "
    "rotary_emb(x, position_ids) gives position_embeddings",
    "attention_mask: additive [B, 1, s, startPos + s] mask, 0 where key j <= startPos + i, else "
    "torch.finfo(float64).min (what create_causal_mask gives the eager path; all zeros for a one-token decode)",
    "dtype: module.double() after construction; weights and inputs are float32 values held in float64. "
    "transformers itself computes some parts in float32 whatever the module dtype (RMSNorm upcasts/downcasts "
    "through float32, rotary tables and V2's complex rotation are float32, eager softmax is float32), so outputs "
    "carry float32-level rounding (~1e-7 relative)",
]

# ------------------------------------------------------------------------------------------------
# Loading transformers' files


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def locate(src_dir, relpath):
    for cand in (os.path.join(src_dir, relpath), os.path.join(src_dir, os.path.basename(relpath))):
        if os.path.isfile(cand):
            return cand
    raise SystemExit(f"generate.py: {relpath} not found under {src_dir} (give a transformers checkout at {TRANSFORMERS['commit']})")


def check_files(src_dir):
    paths, bad = {}, []
    for rel, want in FILES.items():
        p = locate(src_dir, rel)
        got = sha256_file(p)
        if got != want:
            bad.append(f"  {rel}\n    expected sha256 {want}\n    found    sha256 {got}  ({p})")
        paths[rel] = p
    if bad:
        print("generate.py: refusing to run: these files are not the ones this harness was written against "
              f"(transformers {TRANSFORMERS['commit']}):\n" + "\n".join(bad), file=sys.stderr)
        sys.exit(3)
    return paths


def definition_nodes(path, names):
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=path)
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            key = node.name
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            key = node.target.id
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            key = node.targets[0].id
        else:
            continue
        if key in names:
            found[key] = node
    missing = [n for n in names if n not in found]
    if missing:
        raise SystemExit(f"generate.py: {path} has no top-level {missing}")
    return [found[n] for n in names]


def exec_definitions(path, names, namespace):
    """Compile and run the named top-level definitions of `path`, in file order as given, unmodified."""
    for node in definition_nodes(path, names):
        module = ast.Module(body=[node], type_ignores=[])
        exec(compile(module, path, "exec"), namespace)
    return namespace


class RecordingLogger:
    def __init__(self):
        self.messages = []

    def warning(self, msg, *a, **k):
        self.messages.append(str(msg))

    warning_once = warning
    warn = warning

    def info(self, msg, *a, **k):
        pass

    debug = info


class _NN:
    """torch.nn plus nn.Buffer (torch >= 2.5), which torch 1.13 lacks."""

    def __getattr__(self, name):
        return getattr(torch.nn, name)

    @staticmethod
    def Buffer(data, persistent=True):
        return data


def _identity_decorator_factory(*args, **kwargs):
    def deco(fn):
        return fn

    return deco


class _AttentionFunctions:
    @staticmethod
    def get_interface(implementation, default):
        if implementation != "eager":
            raise RuntimeError(f"only eager attention is shimmed, config asks for {implementation!r}")
        return default


class _Placeholder:
    def __class_getitem__(cls, item):
        return cls


class MinimalCache:
    """DynamicCache stand-in: per layer, update() concatenates along dim -2 and returns the whole layer."""

    def __init__(self):
        self.layers = {}

    def update(self, key_states, value_states, layer_idx, cache_kwargs=None):
        if layer_idx in self.layers:
            k, v = self.layers[layer_idx]
            key_states = torch.cat([k, key_states], dim=-2)
            value_states = torch.cat([v, value_states], dim=-2)
        self.layers[layer_idx] = (key_states, value_states)
        return key_states, value_states

    def get_seq_length(self, layer_idx=0):
        return 0 if layer_idx not in self.layers else self.layers[layer_idx][0].shape[-2]


def load_transformers(src_dir):
    paths = check_files(src_dir)
    logger = RecordingLogger()
    rope_ns = {"__name__": "transformers.modeling_rope_utils", "math": math, "warnings": warnings, "Callable": Callable,
               "wraps": wraps, "Optional": Optional, "TypedDict": TypedDict, "torch": torch, "logger": logger}
    exec_definitions(paths[ROPE], DEFINITIONS[ROPE], rope_ns)
    Mixin = rope_ns["RotaryEmbeddingConfigMixin"]

    def config_class(model_type):
        class HfDeepseekConfig(Mixin):
            def __init__(self, d):
                self.model_type = model_type
                self.hidden_size = d["hidden_size"]
                self.num_attention_heads = d["num_attention_heads"]
                self.num_key_value_heads = d.get("num_key_value_heads") or d["num_attention_heads"]
                self.q_lora_rank = d.get("q_lora_rank")
                self.kv_lora_rank = d["kv_lora_rank"]
                self.qk_nope_head_dim = d["qk_nope_head_dim"]
                self.qk_rope_head_dim = d["qk_rope_head_dim"]
                self.v_head_dim = d["v_head_dim"]
                self.max_position_embeddings = d["max_position_embeddings"]
                self.rms_norm_eps = d.get("rms_norm_eps", 1e-6)
                self.attention_bias = d.get("attention_bias", False)
                self.attention_dropout = d.get("attention_dropout", 0.0)
                self.rope_parameters = copy.deepcopy(d.get("rope_parameters"))
                if model_type == "deepseek_v3":
                    self.rope_interleave = d.get("rope_interleave", True)
                # configuration_deepseek_v{2,3}.py __post_init__
                self.qk_head_dim = self.qk_nope_head_dim + self.qk_rope_head_dim
                self.head_dim = self.qk_rope_head_dim
                # PreTrainedConfig.__post_init__: legacy RoPE keys of config.json are kwargs there
                kwargs = {k: copy.deepcopy(d[k]) for k in ("rope_scaling", "rope_theta") if k in d}
                self.convert_rope_params_to_dict(**kwargs)
                self._attn_implementation = "eager"
                self.validate_rope()

        HfDeepseekConfig.__name__ = "DeepseekV3Config" if model_type == "deepseek_v3" else "DeepseekV2Config"
        return HfDeepseekConfig

    common = {"math": math, "torch": torch, "F": torch.nn.functional, "nn": _NN(), "Callable": Callable,
              "Cache": MinimalCache, "ROPE_INIT_FUNCTIONS": rope_ns["ROPE_INIT_FUNCTIONS"],
              "dynamic_rope_update": rope_ns["dynamic_rope_update"], "ALL_ATTENTION_FUNCTIONS": _AttentionFunctions(),
              "use_kernel_forward_from_hub": _identity_decorator_factory, "deprecate_kwarg": _identity_decorator_factory,
              "maybe_autocast": lambda device_type, enabled=True, **kw: torch.autocast(device_type=device_type, enabled=enabled),
              "Unpack": _Placeholder, "TransformersKwargs": _Placeholder, "FlashAttentionKwargs": _Placeholder}
    v3_cfg, v2_cfg = config_class("deepseek_v3"), config_class("deepseek_v2")
    v3_ns = exec_definitions(paths[V3], DEFINITIONS[V3], dict(common, __name__="transformers.models.deepseek_v3.modeling_deepseek_v3", DeepseekV3Config=v3_cfg))
    v2_ns = exec_definitions(paths[V2], DEFINITIONS[V2], dict(common, __name__="transformers.models.deepseek_v2.modeling_deepseek_v2", DeepseekV2Config=v2_cfg))
    return {
        "logger": logger,
        "rope_ns": rope_ns,
        "deepseek_v3": {"config": v3_cfg, "attention": v3_ns["DeepseekV3Attention"], "rotary": v3_ns["DeepseekV3RotaryEmbedding"]},
        "deepseek_v2": {"config": v2_cfg, "attention": v2_ns["DeepseekV2Attention"], "rotary": v2_ns["DeepseekV2RotaryEmbedding"]},
        "paths": paths,
    }


# ------------------------------------------------------------------------------------------------
# Cases. model_type kimi_k2 is no transformers model type: Kimi K2 checkpoints name remote code, and
# transformers' own Kimi_K25Config (models/kimi_k25) maps a text_config of model_type "kimi_k2" to
# "deepseek_v3", so such a config runs DeepseekV3Attention.

V3_RELEASE_YARN = {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096, "beta_fast": 32, "beta_slow": 1,
                   "mscale": 1.0, "mscale_all_dim": 1.0}


def hf(model_type, hidden, heads, q_lora, kv_lora, nope, rope, v, max_pos, theta, rope_scaling, interleave=None, extra=None):
    d = {"architectures": [{"deepseek_v2": "DeepseekV2ForCausalLM", "kimi_k2": "DeepseekV3ForCausalLM"}.get(model_type, "DeepseekV3ForCausalLM")],
         "model_type": model_type, "hidden_size": hidden, "num_attention_heads": heads, "num_key_value_heads": heads,
         "q_lora_rank": q_lora, "kv_lora_rank": kv_lora, "qk_nope_head_dim": nope, "qk_rope_head_dim": rope, "v_head_dim": v,
         "max_position_embeddings": max_pos, "rope_theta": theta, "rope_scaling": rope_scaling, "num_hidden_layers": 1,
         "rms_norm_eps": 1e-6, "attention_bias": False}
    if interleave is not None:
        d["rope_interleave"] = interleave
    if extra:
        d.update(extra)
    return d


def Y(**kw):
    return dict({"rope_type": "yarn"}, **kw)


CASES = [
    ("v3-plain-interleave", "rope_scaling null, V3 interleaved pairs, q-LoRA: the baseline (no YaRN anywhere)",
     hf("deepseek_v3", 48, 3, 24, 16, 16, 8, 16, 256, 10000.0, None, True)),
    ("v3-plain-half-noqlora", "rope_scaling null, rope_interleave false (rotate_half pairs (i, i+dr/2)), q_lora_rank null",
     hf("deepseek_v3", 32, 2, None, 16, 8, 8, 8, 256, 10000.0, None, False)),
    ("v3-yarn-no-mscale", "yarn without mscale keys: cos/sin scaled by get_mscale(factor) = 0.1 ln(factor) + 1; plain softmax scale",
     hf("deepseek_v3", 48, 3, None, 16, 16, 8, 16, 512, 1000.0, Y(factor=4.0, original_max_position_embeddings=128), True)),
    ("v3-yarn-mscale-only", "yarn with mscale only: cos/sin by get_mscale(factor) (the ratio needs both keys); no softmax mscale",
     hf("deepseek_v3", 48, 3, 24, 16, 16, 8, 16, 512, 1000.0, Y(factor=4.0, original_max_position_embeddings=128, mscale=1.0), True)),
    ("v3-yarn-mscale-all-dim-only", "yarn with mscale_all_dim only: cos/sin by get_mscale(factor) AND softmax by get_mscale(factor, mscale_all_dim)^2",
     hf("deepseek_v3", 48, 3, 24, 16, 16, 8, 16, 512, 1000.0, Y(factor=4.0, original_max_position_embeddings=128, mscale_all_dim=0.8), True)),
    ("v3-yarn-release", "DeepSeek-V3's released rope_scaling (type yarn, factor 40, 4096, beta 32/1, mscale 1 = mscale_all_dim 1): cos/sin factor 1, softmax m^2",
     hf("deepseek_v3", 48, 3, 24, 16, 16, 8, 16, 163840, 10000.0, dict(V3_RELEASE_YARN), True)),
    ("v3-yarn-unequal", "mscale 1.0, mscale_all_dim 0.707: cos/sin by get_mscale(f, 1)/get_mscale(f, 0.707) != 1, softmax by get_mscale(f, 0.707)^2",
     hf("deepseek_v3", 48, 3, 24, 16, 16, 8, 16, 163840, 10000.0, Y(factor=40, original_max_position_embeddings=4096, beta_fast=32, beta_slow=1, mscale=1.0, mscale_all_dim=0.707), True)),
    ("v3-yarn-zeros", "mscale 0, mscale_all_dim 0: zeros are falsy, so cos/sin get get_mscale(factor) (not 1) and the softmax scale stays plain",
     hf("deepseek_v3", 48, 3, 24, 16, 16, 8, 16, 2048, 10000.0, Y(factor=8.0, original_max_position_embeddings=256, mscale=0, mscale_all_dim=0), True)),
    ("v3-yarn-attention-factor", "explicit attention_factor 1.25 wins over mscale/mscale_all_dim for cos/sin; the softmax still uses mscale_all_dim",
     hf("deepseek_v3", 48, 3, 24, 16, 16, 8, 16, 2048, 10000.0, Y(factor=8.0, original_max_position_embeddings=256, attention_factor=1.25, mscale=1.0, mscale_all_dim=1.0), True)),
    ("v3-yarn-factor-null", "factor null: transformers uses max_position_embeddings / original_max_position_embeddings (1024/128 = 8); no mscale_all_dim",
     hf("deepseek_v3", 48, 3, 24, 16, 16, 8, 16, 1024, 1000.0, Y(factor=None, original_max_position_embeddings=128, mscale=1.0), True)),
    ("v3-yarn-truncate-false", "truncate false: the correction range keeps its fractional bounds (no floor/ceil)",
     hf("deepseek_v3", 48, 3, 24, 16, 16, 8, 16, 4096, 1000.0, Y(factor=16.0, original_max_position_embeddings=256, truncate=False, mscale=1.0, mscale_all_dim=1.0), True)),
    ("v3-yarn-beta", "beta_fast 8 / beta_slow 2 given (other yarn cases default them to 32/1 by `or`)",
     hf("deepseek_v3", 48, 3, 24, 16, 16, 8, 16, 4096, 1000.0, Y(factor=16.0, original_max_position_embeddings=256, beta_fast=8, beta_slow=2, mscale=1.0, mscale_all_dim=1.0), True)),
    ("v3-yarn-max-le-original", "max_position_embeddings 64 <= original_max_position_embeddings 128: transformers still applies YaRN (DeepSeek's model.py would not)",
     hf("deepseek_v3", 48, 3, 24, 16, 16, 8, 16, 64, 1000.0, Y(factor=4.0, original_max_position_embeddings=128, mscale=1.0, mscale_all_dim=1.0), True)),
    ("v3-yarn-type-key-half", "legacy key 'type': 'yarn' (instead of rope_type), rope_interleave false, mscale 0.707 both",
     hf("deepseek_v3", 48, 3, 24, 16, 16, 8, 16, 16384, 10000.0, {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096, "mscale": 0.707, "mscale_all_dim": 0.707}, False)),
    ("v3-rope-parameters-key", "transformers v5 style: YaRN under 'rope_parameters' (with rope_theta inside), no 'rope_scaling' key",
     dict((k, v) for k, v in hf("deepseek_v3", 48, 3, 24, 16, 16, 8, 16, 8192, 10000.0, None, True).items() if k not in ("rope_scaling", "rope_theta")) |
     {"rope_parameters": {"rope_type": "yarn", "rope_theta": 5000.0, "factor": 8.0, "original_max_position_embeddings": 1024, "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0}}),
    ("v2-plain", "deepseek_v2, rope_scaling null, q-LoRA: V2's complex rotation of pairs (2i, 2i+1)",
     hf("deepseek_v2", 48, 3, 24, 16, 16, 8, 16, 256, 10000.0, None)),
    ("v2-lite-yarn", "DeepSeek-V2-Lite's rope_scaling (yarn, factor 40, 4096, beta 32/1, mscale 0.707 = mscale_all_dim 0.707), q_lora_rank null: softmax m^2 since PR #47435",
     hf("deepseek_v2", 32, 2, None, 16, 16, 8, 16, 163840, 10000.0, {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096, "beta_fast": 32, "beta_slow": 1, "mscale": 0.707, "mscale_all_dim": 0.707})),
    ("v2-interleave-false-ignored", "deepseek_v2 with rope_interleave false: DeepseekV2Attention never reads it, still pairs (2i, 2i+1); rope_scaling null",
     hf("deepseek_v2", 32, 2, None, 16, 8, 8, 8, 256, 10000.0, None, False)),
    ("v2-yarn-unequal", "deepseek_v2, mscale 1.0 / mscale_all_dim 0.707, q-LoRA: cos/sin by the ratio, softmax by get_mscale(f, 0.707)^2",
     hf("deepseek_v2", 48, 3, 24, 16, 16, 8, 16, 16384, 10000.0, Y(factor=16.0, original_max_position_embeddings=1024, mscale=1.0, mscale_all_dim=0.707))),
    ("kimi-k2-style", "model_type kimi_k2 (runs DeepseekV3Attention): Kimi K2's rope (theta 50000, yarn factor 32, 4096, beta_fast 1 = beta_slow 1, mscale 1 = mscale_all_dim 1)",
     hf("kimi_k2", 48, 3, 24, 16, 16, 8, 16, 131072, 50000.0, {"type": "yarn", "factor": 32.0, "original_max_position_embeddings": 4096, "beta_fast": 1.0, "beta_slow": 1.0, "mscale": 1.0, "mscale_all_dim": 1.0}, True)),
    ("v3-real-geometry", "DeepSeek-V3's head geometry (kv_lora_rank 512, rope 64, nope 128, v 128; 2 heads, hidden 64, q_lora_rank 32) with its released YaRN (factor 40)",
     hf("deepseek_v3", 64, 2, 32, 512, 128, 64, 128, 163840, 10000.0, dict(V3_RELEASE_YARN), True)),
]

# Configs transformers refuses (no vectors; case.json records the error).
ERROR_CASES = [
    ("error-v3-yarn-factor-absent", "yarn without a 'factor' key: validate_rope raises KeyError (factor is a required key)",
     hf("deepseek_v3", 48, 3, 24, 16, 16, 8, 16, 1024, 1000.0, Y(original_max_position_embeddings=128, mscale=1.0), True)),
    ("error-v3-yarn-factor-null-mscale-all-dim", "factor null with mscale_all_dim set: yarn_apply_mscale calls yarn_get_mscale(None, ...) and fails",
     hf("deepseek_v3", 48, 3, 24, 16, 16, 8, 16, 1024, 1000.0, Y(factor=None, original_max_position_embeddings=128, mscale=1.0, mscale_all_dim=1.0), True)),
]

SCHEDULE = {"default": (2, 6, 3), "v3-real-geometry": (1, 5, 2)}  # batch, prefill length, decodes

# ------------------------------------------------------------------------------------------------
# Numbers and files


def f32_str(v):
    """Shortest decimal that gives back the float32 v after parse-to-double + round-to-float32."""
    v = np.float32(v)
    if not np.isfinite(v):
        raise ValueError(f"non-finite value {v}")
    a = abs(float(v))
    s = np.format_float_scientific(v, unique=True, trim="-") if (a != 0 and (a < 1e-4 or a >= 1e16)) else np.format_float_positional(v, unique=True, trim="-")
    if s.endswith("."):
        s = s[:-1]
    if np.float32(float(s)).tobytes() != v.tobytes():
        s = repr(float(v))
        assert np.float32(float(s)).tobytes() == v.tobytes()
    return s


class Raw:
    def __init__(self, text):
        self.text = text


def tensor_json(t):
    a = t.detach().to(torch.float64).numpy().astype(np.float32)
    return {"shape": list(a.shape), "dtype": "float32", "data": Raw("[" + ",".join(f32_str(x) for x in a.reshape(-1)) + "]")}


def dump(obj, indent=0):
    pad, pad1 = " " * indent, " " * (indent + 1)
    if isinstance(obj, Raw):
        return obj.text
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        inner = ",\n".join(f"{pad1}{json.dumps(str(k))}: {dump(v, indent + 1)}" for k, v in obj.items())
        return "{\n" + inner + "\n" + pad + "}"
    if isinstance(obj, (list, tuple)):
        if all(isinstance(x, (int, float, str, bool, type(None))) for x in obj):
            return json.dumps(list(obj))
        return "[\n" + ",\n".join(pad1 + dump(x, indent + 1) for x in obj) + "\n" + pad + "]"
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError("non-finite number in case.json")
    return json.dumps(obj)


def write_safetensors(path, tensors, metadata):
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name, t in tensors.items():
        b = np.ascontiguousarray(t.detach().to(torch.float64).numpy().astype("<f4")).tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ------------------------------------------------------------------------------------------------
# Running one case


def causal_mask(batch, start, seqlen):
    T = start + seqlen
    allowed = torch.arange(T)[None, :] <= (start + torch.arange(seqlen))[:, None]
    m = torch.zeros(seqlen, T, dtype=torch.float64).masked_fill(~allowed, torch.finfo(torch.float64).min)
    return m[None, None].expand(batch, 1, seqlen, T)


def correction_range(rp, dim):
    """Re-statement of _compute_yarn_parameters' correction range (for the record only; checked against inv_freq)."""
    base, orig = rp["rope_theta"], rp["original_max_position_embeddings"]
    bf, bs = rp.get("beta_fast") or 32, rp.get("beta_slow") or 1
    corr = lambda r: (dim * math.log(orig / (r * 2 * math.pi))) / (2 * math.log(base))
    low, high = corr(bf), corr(bs)
    if rp.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    return max(low, 0), min(high, dim - 1)


def run_case(T, name, desc, cfg_json, seed, out_dir):
    model_type = cfg_json["model_type"]
    hf_type = "deepseek_v3" if model_type in ("deepseek_v3", "kimi_k2") else "deepseek_v2"
    impl = T[hf_type]
    T["logger"].messages.clear()
    config = impl["config"](cfg_json)
    attn = impl["attention"](config, layer_idx=0)
    rotary = impl["rotary"](config)
    attn.double()
    attn.eval()

    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, p in attn.state_dict().items():
        if key.endswith("layernorm.weight"):
            w = 0.6 + 0.8 * torch.rand(p.shape, generator=g, dtype=torch.float64)
        else:
            w = torch.randn(p.shape, generator=g, dtype=torch.float64) / math.sqrt(p.shape[1])
        state[key] = w.to(torch.float32).to(torch.float64)
    attn.load_state_dict(state, strict=True)

    B, s0, nd = SCHEDULE.get(name, SCHEDULE["default"])
    D = cfg_json["hidden_size"]
    schedule = [(0, s0)] + [(s0 + i, 1) for i in range(nd)]
    cache, calls, outs, ins = MinimalCache(), [], [], []
    with torch.no_grad():
        for start, s in schedule:
            x = torch.randn(B, s, D, generator=g, dtype=torch.float64).to(torch.float32).to(torch.float64)
            pos = torch.arange(start, start + s)[None, :]
            pe = rotary(x, pos)
            y, _ = attn(hidden_states=x, position_embeddings=pe, attention_mask=causal_mask(B, start, s), past_key_values=cache)
            ins.append(x)
            outs.append(y)
            calls.append({"startPos": start, "seqlen": s, "mask": "causal" if s > 1 else None, "input": tensor_json(x), "output": tensor_json(y)})
        # Self-check of the cache shim: one prefill of every token equals the prefill + decodes.
        xs = torch.cat(ins, dim=1)
        total = xs.shape[1]
        y_all, _ = attn(hidden_states=xs, position_embeddings=rotary(xs, torch.arange(total)[None, :]),
                        attention_mask=causal_mask(B, 0, total), past_key_values=MinimalCache())
        one_shot = (y_all - torch.cat(outs, dim=1)).abs().max().item()

    rp = config.rope_parameters
    yarn = rp.get("rope_type") == "yarn"
    inv = rotary.inv_freq.detach().to(torch.float32)
    derived = {
        "hf_class": impl["attention"].__name__,
        "hf_model_type_run": hf_type,
        "rope_parameters": rp,
        "rope_type": rp.get("rope_type"),
        "yarn": yarn,
        "rope_layout": ("pairs (2i, 2i+1): apply_rotary_emb, complex multiply" if hf_type == "deepseek_v2" else
                        "pairs (2i, 2i+1): apply_rotary_pos_emb_interleave" if config.rope_interleave else
                        "halves (i, i + dr/2): apply_rotary_pos_emb / rotate_half"),
        "attention_factor": float(rotary.attention_scaling),
        "softmax_scale": float(attn.scaling),
        "softmax_scale_plain": float(config.qk_head_dim ** -0.5),
        "qk_head_dim": config.qk_head_dim,
        "inv_freq": [float(v) for v in inv.numpy()],
        "inv_freq_default": [float(v) for v in (1.0 / (rp["rope_theta"] ** (torch.arange(0, config.qk_rope_head_dim, 2, dtype=torch.float) / config.qk_rope_head_dim))).numpy()],
    }
    if yarn:
        low, high = correction_range(rp, config.qk_rope_head_dim)
        factor = rp["factor"] if rp.get("factor") is not None else config.max_position_embeddings / rp["original_max_position_embeddings"]
        d = config.qk_rope_head_dim
        hi = high + 0.001 if low == high else high
        ramp = torch.clamp((torch.arange(d // 2, dtype=torch.float32) - low) / (hi - low), 0, 1)
        pos_freqs = rp["rope_theta"] ** (torch.arange(0, d, 2).to(dtype=torch.float) / d)
        extra = 1 - ramp.to(dtype=torch.float)
        again = (1.0 / (factor * pos_freqs)) * (1 - extra) + (1.0 / pos_freqs) * extra
        derived["yarn_factor_used"] = float(factor)
        derived["correction_range"] = {"low": low, "high": high, "note": "re-stated from _compute_yarn_parameters; reproduces inv_freq: "
                                       + str(bool(torch.equal(again, inv)))}
    case = {
        "format": FORMAT,
        "name": name,
        "description": desc,
        "provenance": {
            "transformers": TRANSFORMERS,
            "files": {rel: {"sha256": FILES[rel], "definitions_run": DEFINITIONS[rel]} for rel in FILES},
            "shims": SHIMS,
            "runtime": {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__},
            "generator": "tools/hf-deepseek/generate.py",
            "seed": seed,
        },
        "config_file": "config.json",
        "weights_file": "model.safetensors",
        "weights": [f"model.layers.0.self_attn.{k}" for k in state],
        "batch_size": B,
        "generation": "weights: Linear ~ N(0, 1/fan_in), RMSNorm weights ~ U(0.6, 1.4), inputs ~ N(0, 1), all rounded to float32; "
                      "torch.Generator seeded with `seed`; module run in float64",
        "derived": derived,
        "transformers_warnings": list(T["logger"].messages),
        "self_check": {"one_prefill_vs_prefill_plus_decodes_max_abs": one_shot},
        "calls": calls,
    }
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg_json, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(out_dir, "model.safetensors"), {f"model.layers.0.self_attn.{k}": v for k, v in state.items()},
                      {"format": "pt", "source": f"{FORMAT} {name}; transformers {TRANSFORMERS['commit']}"})
    with open(os.path.join(out_dir, "case.json"), "w") as f:
        f.write(dump(case) + "\n")
    return case


def run_error_case(T, name, desc, cfg_json, out_dir):
    hf_type = "deepseek_v3" if cfg_json["model_type"] in ("deepseek_v3", "kimi_k2") else "deepseek_v2"
    impl = T[hf_type]
    T["logger"].messages.clear()
    try:
        config = impl["config"](cfg_json)
        impl["attention"](config, layer_idx=0)
        impl["rotary"](config)
    except Exception as e:  # noqa: BLE001 - the point is to record what transformers raises
        err = f"{type(e).__name__}: {e}"
    else:
        raise SystemExit(f"generate.py: {name}: expected transformers to refuse this config, it did not")
    case = {"format": FORMAT, "name": name, "description": desc,
            "provenance": {"transformers": TRANSFORMERS, "files": {rel: {"sha256": FILES[rel]} for rel in FILES}, "shims": SHIMS,
                           "runtime": {"python": platform.python_version(), "torch": torch.__version__}},
            "config_file": "config.json", "transformers_error": err, "transformers_warnings": list(T["logger"].messages), "calls": []}
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg_json, f, indent=2)
        f.write("\n")
    with open(os.path.join(out_dir, "case.json"), "w") as f:
        f.write(dump(case) + "\n")
    return err


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--transformers-src", required=True, help="transformers checkout (or a directory holding the three files)")
    ap.add_argument("--out", required=True, help="output directory, e.g. vectors/hf-deepseek")
    ap.add_argument("--case", action="append", help="only these case names (repeatable)")
    opts = ap.parse_args()
    torch.set_num_threads(1)
    T = load_transformers(opts.transformers_src)
    want = set(opts.case or [])
    for i, (name, desc, cfg) in enumerate(CASES):
        if want and name not in want:
            continue
        case = run_case(T, name, desc, cfg, 1000 + i, os.path.join(opts.out, name))
        d = case["derived"]
        print(f"{name:36s} {d['hf_class']:20s} yarn={str(d['yarn']):5s} attention_factor={d['attention_factor']:.6f} "
              f"softmax_scale={d['softmax_scale']:.6f} self_check={case['self_check']['one_prefill_vs_prefill_plus_decodes_max_abs']:.1e}"
              + (f" warnings={len(case['transformers_warnings'])}" if case["transformers_warnings"] else ""))
    for name, desc, cfg in ERROR_CASES:
        if want and name not in want:
            continue
        print(f"{name:36s} refused: {run_error_case(T, name, desc, cfg, os.path.join(opts.out, name))}")


if __name__ == "__main__":
    main()
