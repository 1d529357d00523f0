"""Helpers of the published-checkpoint importer tests: the golden files of ../shared/golden/reference copied to
tests/assets/reference (made by the published code with random weights; see its README.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "reference"
LM_EXP = ASSETS / "lm_exp"


class Scheduler:
    """A training-code class of the kind published checkpoints pickle beside the weights."""

    def __init__(self) -> None:
        self.last_epoch = 3


def published_exp(dst: Path, state_transform=None, extra: dict | None = None, prefix: str = "module.") -> Path:
    """A published-style experiment dir under ``dst``: the golden config.yaml and weights, saved as the
    published trainer does (``module.``-prefixed keys, optimizer / scheduler / reporter entries)."""
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(LM_EXP / "config.yaml", dst / "config.yaml")
    state = torch.load(LM_EXP / "ep1.checkpoint", map_location="cpu", weights_only=True)["model"]
    if state_transform is not None:
        state = state_transform(dict(state))
    ckpt = {"model": {prefix + k: v for k, v in state.items()},
            "optimizer": {"state": {0: {"exp_avg": torch.zeros(2)}}, "param_groups": [{"lr": 1e-4}]},
            "scheduler": Scheduler(), "reporter": {"epoch": 1, "stats": [Scheduler()]}}
    ckpt.update(extra or {})
    torch.save(ckpt, dst / "ep1.checkpoint")
    return dst
