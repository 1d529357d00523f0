"""The training State and the step functions (one optimizer step; one validation pass).

Kept free of Ray and MLflow: the worker loop (``worker.py``) owns I/O, logging and checkpoints.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.distributed as dist

from uniaudio.model import OutputRules, autocast_for, lm_loss
from uniaudio.data.batch import TrainBatch


@dataclass
class State:
    """Everything besides model/optimizer/scheduler needed to continue a run exactly."""

    step: int = 0  # optimizer steps applied or skipped
    skipped_steps: int = 0  # steps skipped for non-finite gradients
    frames_seen: int = 0  # real (unpadded) frames trained on, this rank
    first_loss: float | None = None
    loader: dict = field(default_factory=dict)
    history: list = field(default_factory=list)  # (step, loss) pairs, this rank (short, for the summary)
    init_sha256: str | None = None  # the fine-tune's base weights (travels with checkpoints: true lineage on resume)

    def to_dict(self) -> dict:
        return asdict(self)


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state()[1].tolist(), "python": random.getstate()[1]}


def set_rng_state(s: dict) -> None:
    torch.set_rng_state(s["torch"])
    st = np.random.get_state()
    np.random.set_state((st[0], np.asarray(s["numpy"], dtype=np.uint32), 624, 0, 0.0))
    random.setstate((3, tuple(s["python"]), None))


def all_reduce_sum(values: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized():
        values = values.clone()
        dist.all_reduce(values)
    return values


def _task_sums(out, tb: TrainBatch, tasks: list[str], sums: torch.Tensor) -> None:
    """Add the loss's per-row sums into ``sums [len(tasks), 4]`` by task."""
    if out.row_stats is None:
        return
    idx = torch.tensor([tasks.index(t) if t in tasks else -1 for t in tb.tasks], device=sums.device)
    keep = idx >= 0
    sums.index_add_(0, idx[keep], out.row_stats[keep].to(sums.dtype))


def _task_metrics(sums: torch.Tensor, tasks: list[str], prefix: str) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for task, v in zip(tasks, sums.tolist()):
        if v[3] > 0:
            # one MLflow chart group per quantity, one curve per task: loss_by_task/tts, loss_by_task/se, ...
            metrics[f"{prefix}loss_by_task/{task}"] = v[0] / max(v[1], 1e-8)
            metrics[f"{prefix}acc_by_task/{task}"] = v[2] / v[3]
    return metrics


def train_step(engine, batches: list[TrainBatch], rules: OutputRules, guard, device, first_codebook_weight: float = 1.0,
               tasks: list[str] | None = None) -> dict:
    """One optimizer step over ``batches`` (gradient-accumulation micro-batches). Returns metrics.

    ``tasks`` (the same list on every rank) adds exact per-task loss/accuracy (one extra all-reduce).
    """
    guard.reset()
    tasks = list(tasks or [])
    per_task = torch.zeros(len(tasks), 4, device=device)
    nll = torch.zeros((), device=device)
    weight = torch.zeros((), device=device)
    metrics: dict[str, float] = {}
    frames = 0
    pad = 0.0
    for tb in batches:
        batch = tb.model.to(device)
        pad += tb.padding_fraction / len(batches)
        with autocast_for(device):
            out = lm_loss(engine, batch, rules, first_codebook_weight)
        engine.backward(out.loss)
        engine.step()  # DeepSpeed applies the update at the accumulation boundary only
        nll += out.nll_sum
        weight += out.weight_sum
        _task_sums(out, tb, tasks, per_task)
        frames += batch.num_frames
        for k, v in out.scalars().items():
            metrics[k] = metrics.get(k, 0.0) + v / len(batches)
    bad = guard.check()
    applied = engine.was_step_applied() and not bad
    totals = all_reduce_sum(torch.stack([nll, weight, torch.tensor(float(frames), device=device)]))
    metrics.update(
        loss=float(totals[0] / totals[1].clamp(min=1e-8)),
        frames=float(totals[2]),
        local_frames=float(frames),
        grad_norm=float(engine.get_global_grad_norm() or 0.0) if applied else float("nan"),
        step_applied=float(applied),
        padding_fraction=pad,
    )
    if tasks:
        metrics.update(_task_metrics(all_reduce_sum(per_task), tasks, ""))
    return metrics


@torch.no_grad()
def eval_step(model, batches: list[TrainBatch], rules: OutputRules, device, tasks: list[str]) -> dict[str, float]:
    """Exact data-parallel validation loss/accuracy, overall and per task.

    ``tasks`` must be the same list on every rank (one all-reduce of a [tasks, 4] tensor).
    """
    sums = torch.zeros(len(tasks), 4, device=device)
    for tb in batches:
        with autocast_for(device):
            out = lm_loss(model, tb.model.to(device), rules)
        _task_sums(out, tb, tasks, sums)
    sums = all_reduce_sum(sums)
    metrics = _task_metrics(sums, tasks, "val_")
    total = sums.sum(0).tolist()
    if total[3] > 0:
        metrics["val/all/loss"] = total[0] / max(total[1], 1e-8)
        metrics["val/all/acc"] = total[2] / total[3]
    return metrics
