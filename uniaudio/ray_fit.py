"""Run a Ray Train trainer under an MLflow run: the one fit-and-check both trainers (codec, LM) share.

>>> # result = fit_tracked(TorchTrainer(...), tracker, "codec training in runs/codec")
"""

from __future__ import annotations

import os
from typing import Any

from uniaudio.errors import UserFacingError


def fit_tracked(trainer: Any, tracker: Any, what: str) -> Any:
    """``trainer.fit()``; the tracker's run ends FAILED if training raises or leaves no checkpoint.

    ``what`` names the job in the error (``"codec training in runs/codec"``). The caller ends the run
    itself on success, after exporting from ``result.checkpoint``.
    """
    try:
        result = trainer.fit()
    except Exception:
        tracker.end_run("FAILED")
        raise
    if result.checkpoint is None:
        tracker.end_run("FAILED")
        raise UserFacingError(f"{what} finished without a checkpoint")
    return result


def maybe_inject_fault(config: dict[str, Any], rank: int, step: int) -> None:
    """Test hook of both training loops: ``fault_at_step`` hard-kills rank ``fault_rank`` once.

    The ``fault_marker`` file records that the fault happened, so the restarted worker group (Ray
    Train's ``FailureConfig.max_failures``) runs through. Absent keys: a no-op.
    """
    at, marker = config.get("fault_at_step"), config.get("fault_marker")
    if at is None or step != at or rank != config.get("fault_rank", 1) or not marker or os.path.exists(marker):
        return
    with open(marker, "w") as f:
        f.write(str(os.getpid()))
    os._exit(1)  # a hard crash, as a killed process
