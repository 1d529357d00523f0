"""AdamW parameter groups and the learning-rate schedule (pure functions of the step).

No weight decay on norms, biases and embeddings (the reference decayed everything, §9.11).

>>> lr_lambda(0, warmup=10, schedule="inverse_sqrt", total=100)
0.1
>>> lr_lambda(9, warmup=10, schedule="inverse_sqrt", total=100), round(lr_lambda(39, warmup=10, schedule="inverse_sqrt", total=100), 3)
(1.0, 0.5)
"""

from __future__ import annotations

import math

import torch
from torch import nn


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for module_name, module in model.named_modules():
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            is_embedding = isinstance(module, nn.Embedding) or "emb" in name or "pos" in name
            is_norm = isinstance(module, (nn.LayerNorm, nn.RMSNorm)) or "norm" in module_name.lower()
            (no_decay if (p.ndim < 2 or is_embedding or is_norm) else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_lambda(step: int, warmup: int, schedule: str, total: int, min_ratio: float = 0.1) -> float:
    """LR multiplier at optimizer step ``step`` (0-based): linear warm-up, then the decay."""
    s = step + 1
    if warmup > 0 and s <= warmup:
        return s / warmup
    if schedule == "constant":
        return 1.0
    if schedule == "inverse_sqrt":
        return math.sqrt(max(warmup, 1) / s)
    if schedule == "cosine":
        progress = min(1.0, (s - warmup) / max(1, total - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    raise ValueError(f"unknown schedule {schedule!r}")


def build_optimizer(model: nn.Module, lr: float, betas, eps: float, weight_decay: float) -> torch.optim.Optimizer:
    return torch.optim.AdamW(param_groups(model, weight_decay), lr=lr, betas=tuple(betas), eps=eps)
