"""Parameter and FLOP accounting of the multi-scale transformer (used for MFU and ``uniaudio model-info``).

Forward FLOPs per frame (a multiply-add = 2 FLOPs; r = mlp_ratio; c = attended context)::

    global stack   n_layer       * (2 (4 + 2r) d^2  +  4 c d)          once per frame
    link           2 d_in d                                           once per frame
    local stack    n_local_layer * (n_q 2 (4 + 2r) d^2  +  4 d n_q(n_q+1)/2)   n_q positions per frame
    head           n_q * 2 d V                                        once per token

Training = 3 x forward (backward = 2 x forward). Embedding lookups, norms, biases, softmax and the
continuous-input projection are not counted (each < 0.5 % at the 1B shape). The usual ``6 N`` per
token over-counts this model about 2x: the global stack (most of N) runs once per *frame*, not once
per token. For causal training over T frames the average attended context is (T + 1) / 2.

>>> from uniaudio.model.config import get_preset
>>> f = flops_per_frame(get_preset("uniaudio-1b"), context=1000)
>>> round(f["total"] / 1e9, 2)
3.09
"""

from __future__ import annotations

from torch import nn

from uniaudio.model.config import ModelConfig
from uniaudio.vocab import load_vocab

PARTS = ("global", "local", "embeddings", "head")


def _vocab_size(config: ModelConfig, vocab_size: int | None) -> int:
    return vocab_size if vocab_size is not None else load_vocab(config.vocab).size


def _block_params(d: int, ratio: int, bias: bool, key_bias: bool = True) -> int:
    weights = (4 + 2 * ratio) * d * d  # qkv 3d^2, proj d^2, mlp 2 r d^2
    biases = ((3 if key_bias else 2) + 1 + ratio + 1) * d if bias else 0
    return weights + biases + 4 * d  # two LayerNorms


def count_params(config: ModelConfig, vocab_size: int | None = None) -> dict[str, int]:
    """Analytic parameter count by part (equals the built module's count; ``vocab_size`` overrides V,
    e.g. 4212 to compare with the reference's recipe vocabulary)."""
    c, v = config, _vocab_size(config, vocab_size)
    d, n_q = c.d_model, c.n_q
    stack = lambda n: n * _block_params(d, c.mlp_ratio, c.bias, c.key_bias) + 2 * d  # noqa: E731 (final LayerNorm)
    link_in = d if c.global_to_local == "broadcast" else d // n_q
    emb_w = d if c.frame_embedding == "sum" else d // n_q
    parts = {
        "global": stack(c.n_layer),
        "local": stack(c.n_local_layer) + link_in * d + (d if c.bias else 0) + n_q * d,
        "embeddings": v * emb_w + v * d + c.cont_dim * d + d + (c.max_frames * d if c.positions == "learned" else 0),
        "head": d * v,
    }
    parts["total"] = sum(parts.values())
    return parts


def params_by_part(model: nn.Module) -> dict[str, int]:
    """Parameter count of a built :class:`MultiScaleLM` by part (works on the ``meta`` device)."""
    groups = {
        "global": ("global_stack.",),
        "local": ("local_stack.", "g2l.", "local_pos"),
        "embeddings": ("frame_emb.", "local_emb.", "pos_emb.", "cont_proj."),
        "head": ("head.",),
    }
    parts = dict.fromkeys(PARTS, 0)
    for name, p in model.named_parameters():
        part = next((k for k, prefixes in groups.items() if name.startswith(prefixes)), None)
        if part is None:
            raise ValueError(f"parameter {name} belongs to no part; update flops.params_by_part")
        parts[part] += p.numel()
    parts["total"] = sum(parts.values())
    return parts


def flops_per_frame(config: ModelConfig, context: float, vocab_size: int | None = None) -> dict[str, float]:
    """Forward FLOPs per frame by part, at ``context`` attended frames per global query."""
    c, v = config, _vocab_size(config, vocab_size)
    d, n_q, r = c.d_model, c.n_q, c.mlp_ratio
    linear = 2 * (4 + 2 * r) * d * d  # per layer per position
    link_in = d if c.global_to_local == "broadcast" else d // n_q
    link_calls = 1 if c.global_to_local == "broadcast" else n_q
    out = {
        "global": c.n_layer * (linear + 4 * context * d),
        "link": 2.0 * link_in * d * link_calls,
        "local": c.n_local_layer * (n_q * linear + 4 * d * n_q * (n_q + 1) / 2),
        "head": n_q * 2.0 * d * v,
    }
    out["total"] = sum(out.values())
    return out


def train_flops_per_frame(config: ModelConfig, seq_len: int, vocab_size: int | None = None) -> float:
    """Forward + backward FLOPs per frame for causal training on ``seq_len``-frame sequences."""
    return 3.0 * flops_per_frame(config, (seq_len + 1) / 2, vocab_size)["total"]


def six_n_flops_per_frame(config: ModelConfig, vocab_size: int | None = None) -> float:
    """The common ``6 N`` per token estimate, per frame (n_q tokens): for comparison only."""
    return 6.0 * count_params(config, vocab_size)["total"] * config.n_q


def mfu(frames_per_s: float, flops_per_frame_train: float, peak_flops: float) -> float:
    """Model FLOPs utilisation: achieved training FLOP/s over the hardware peak."""
    return frames_per_s * flops_per_frame_train / peak_flops
