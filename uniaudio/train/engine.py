"""DeepSpeed set-up (ZeRO stage 1/2/3, bf16 on GPU, fp32 on CPU) and the non-finite-gradient guard.

The guard: a hook on every parameter flags a non-finite gradient as it is produced (before ZeRO
reduces or partitions it), the flag is all-reduced (MAX) across ranks, and a flagged step is skipped
by every rank — no parameter, moment or step-counter update. The reference instead zeroed the
gradients and still stepped AdamW, so momentum and weight decay moved the weights anyway.
Skipping uses DeepSpeed's own overflow path: ZeRO-1/2 check the gradient norm themselves (a
non-finite norm = overflow = skip) and we only count; ZeRO-3 checks only in fp16, so for fp32/bf16 we
feed our flag into its overflow check (``_overflow_check_and_loss_scale_update``).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from uniaudio.train.config import TrainConfig
from uniaudio.train.optim import build_optimizer, lr_lambda


def resolve_precision(cfg: TrainConfig, device: torch.device) -> str:
    if cfg.precision != "auto":
        return cfg.precision
    return "bf16" if device.type == "cuda" else "fp32"


def deepspeed_config(cfg: TrainConfig, precision: str, world: int) -> dict[str, Any]:
    ds: dict[str, Any] = {
        "train_micro_batch_size_per_gpu": 1,  # batches are token-budgeted; DeepSpeed only sees counts
        "gradient_accumulation_steps": cfg.optim.grad_accum,
        "train_batch_size": cfg.optim.grad_accum * world,
        "gradient_clipping": cfg.optim.grad_clip,
        "zero_optimization": {"stage": cfg.zero_stage, "overlap_comm": False, "contiguous_gradients": True},
        "zero_allow_untested_optimizer": True,  # a plain torch AdamW (works on CPU and GPU)
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }
    if precision == "bf16":
        ds["bf16"] = {"enabled": True}
    return ds


@dataclass
class GradGuard:
    """Flags non-finite gradients on this rank; :meth:`check` agrees across ranks."""

    flag: torch.Tensor

    @classmethod
    def install(cls, model: nn.Module, device: torch.device) -> "GradGuard":
        guard = cls(torch.zeros((), device=device))

        def hook(grad: torch.Tensor) -> torch.Tensor:
            guard.flag.logical_or_(~torch.isfinite(grad).all())
            return grad

        for p in model.parameters():
            if p.requires_grad:
                p.register_hook(hook)
        return guard

    def check(self) -> bool:
        """True if any rank saw a non-finite gradient since the last reset."""
        flag = self.flag.float().clone()
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item() > 0)

    def reset(self) -> None:
        self.flag.zero_()


def _zero3_use_guard(optimizer: Any, guard: GradGuard) -> None:
    """ZeRO-3 skips a step only on fp16 overflow; make it consult the guard for fp32/bf16 too."""
    original = optimizer._overflow_check_and_loss_scale_update

    @functools.wraps(original)
    def check(update_scale: bool = True) -> bool:
        result = original(update_scale=False)
        if guard.check():
            optimizer.overflow = True
        elif result:
            optimizer.overflow = True
        if not update_scale:
            return optimizer.overflow
        return optimizer._loss_scale_update_and_overflow_cleanup()

    optimizer._overflow_check_and_loss_scale_update = check


def initialize(model: nn.Module, cfg: TrainConfig, device: torch.device, world: int):
    """-> (engine, scheduler, guard, precision). ``DS_ACCELERATOR=cpu`` is set on CPU workers."""
    if device.type == "cpu":
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    import deepspeed

    precision = resolve_precision(cfg, device)
    guard = GradGuard.install(model, device)
    o = cfg.optim
    optimizer = build_optimizer(model, o.lr, o.betas, o.eps, o.weight_decay)
    schedule = functools.partial(lr_lambda, warmup=o.warmup_steps, schedule=o.schedule, total=cfg.steps,
                                 min_ratio=o.min_lr_ratio)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    engine, _, _, scheduler = deepspeed.initialize(
        model=model, optimizer=optimizer, lr_scheduler=scheduler,
        config=deepspeed_config(cfg, precision, world), dist_init_required=False,
    )
    if cfg.zero_stage == 3:
        _zero3_use_guard(engine.optimizer, guard)
    return engine, scheduler, guard, precision
