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


def train_step(engine, batches: list[TrainBatch], rules: OutputRules, guard, device, first_codebook_weight: float = 1.0) -> dict:
    """One optimizer step over ``batches`` (gradient-accumulation micro-batches). Returns metrics."""
    guard.reset()
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
    return metrics


@torch.no_grad()
def eval_step(model, batches: list[TrainBatch], rules: OutputRules, device, tasks: list[str]) -> dict[str, float]:
    """Exact data-parallel validation loss/accuracy, overall and per task.

    ``tasks`` must be the same list on every rank (one all-reduce of a [tasks, 4] tensor).
    """
    sums = torch.zeros(len(tasks), 4, device=device)
    for tb in batches:
        for t_idx, task in enumerate(tasks):
            rows = [i for i, t in enumerate(tb.tasks) if t == task]
            if not rows:
                continue
            batch = tb.select(rows).model.to(device)
            with autocast_for(device):
                out = lm_loss(model, batch, rules)
            n = out.metrics["n_tokens"]
            sums[t_idx] += torch.stack([out.nll_sum, out.weight_sum, out.metrics["acc"] * n, n]).float()
    sums = all_reduce_sum(sums)
    metrics: dict[str, float] = {}
    for key, v in [("all", sums.sum(0))] + list(zip(tasks, sums)):
        if float(v[3]) == 0:
            continue
        metrics[f"val/{key}/loss"] = float(v[0] / v[1].clamp(min=1e-8))
        metrics[f"val/{key}/acc"] = float(v[2] / v[3].clamp(min=1e-8))
    return metrics
