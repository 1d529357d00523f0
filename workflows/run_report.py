"""What one workflow invocation reports (:class:`RunReport`) and the runner's small helpers.

Kept apart from :mod:`workflows.runner` so the runner module is only the step loop.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from uniaudio.errors import UserFacingError
from workflows.dag import Workflow

if TYPE_CHECKING:
    from pathlib import Path

    from workflows.console import Console


@dataclass
class RunReport:
    run_dir: str
    invocation: int
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    blocked: list[str] = field(default_factory=list)
    mlflow_run_id: str | None = None
    tracking_uri: str | None = None
    seconds: float = 0.0
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # step -> its outputs (ran or skipped)
    seconds_by_step: dict[str, float] = field(default_factory=dict)  # steps that ran (or failed) this time
    report_html: str | None = None  # RUN/report.html when an evaluate step has finished

    @property
    def ok(self) -> bool:
        return not self.failed and not self.blocked

    def line(self) -> str:
        return (f"workflow run #{self.invocation} in {self.run_dir}: {'ok' if self.ok else 'FAILED'} in "
                f"{self.seconds:.0f}s; ran {len(self.ran)}, skipped {len(self.skipped)}, failed {len(self.failed)}, "
                f"blocked {len(self.blocked)}" + (f"; MLflow run {self.mlflow_run_id}" if self.mlflow_run_id else ""))


def select(wf: Workflow, names: Sequence[str] | None) -> set[str] | None:
    """Step ids (or base names of foreach steps) -> concrete ids; unknown names are an error."""
    if not names:
        return None
    out: set[str] = set()
    for n in names:
        hits = [sid for sid, st in wf.steps.items() if sid == n or st.base == n]
        if not hits:
            raise UserFacingError(f"no step {n!r} in workflow {wf.name} (steps: {', '.join(wf.steps)})")
        out.update(hits)
    return out


@contextlib.contextmanager
def console_step(console: "Console", router, path: Path, header: str, tag: str):
    console.start_step(tag)
    try:
        with console.step_log(router, path, header):
            yield
    finally:
        console.end_step()


def short(v: Any) -> str:
    import json

    s = v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)
    return s[:500]


