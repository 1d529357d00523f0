"""The job summary: what a run read, did, skipped and rejected; printed and logged to MLflow.

``rows_in`` counts every manifest row of the spec plus every row the readers rejected; ``rows_todo``
the rows this run processed; ``rows_out`` / ``rows_quarantined`` what it appended to the token store /
the quarantine (reader problems included); ``rows_done`` the rows already in the store for the same
tokenizer version; ``audio_hours`` and ``x_realtime`` cover the rows written (audio seconds per wall
second of the whole run); ``table_version`` is the token store's Delta version after the run (the
version to read for exactly this run's result).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass
class TokenizeSummary:
    store: str
    tokenizer_version: str
    run_id: str
    rows_in: int = 0
    rows_done: int = 0
    rows_todo: int = 0
    rows_out: int = 0
    rows_quarantined: int = 0
    rows_skipped_quarantined: int = 0
    rows_pruned: int = 0
    read_problems: int = 0
    audio_hours: float = 0.0
    wall_s: float = 0.0
    x_realtime: float = 0.0
    commits: int = 0
    table_version: int | None = None
    quarantine_version: int | None = None
    mlflow_run_id: str | None = None
    per_dataset: dict[str, dict[str, int]] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def did_nothing(self) -> bool:
        return self.rows_todo == 0 and self.rows_pruned == 0 and self.rows_quarantined == 0

    def line(self) -> str:
        """The one-line summary every long-running command prints at the end."""
        return (f"tokenize: rows in={self.rows_in} todo={self.rows_todo} out={self.rows_out} "
                f"quarantined={self.rows_quarantined} already_done={self.rows_done} "
                f"skipped_quarantined={self.rows_skipped_quarantined} pruned={self.rows_pruned} "
                f"hours={self.audio_hours:.4f} x_realtime={self.x_realtime:.1f} wall_s={self.wall_s:.1f} "
                f"table_version={self.table_version} tokenizer_version={self.tokenizer_version}")

    def report(self) -> str:
        """Multi-line report: the line, per-dataset counts and quarantine reasons."""
        lines = []
        if self.rows_todo == 0:
            lines.append(f"nothing to tokenize: all {self.rows_done} rows are already in {self.store} "
                         f"at tokenizer version {self.tokenizer_version}"
                         + (f" ({self.rows_skipped_quarantined} unchanged rows stay quarantined)"
                            if self.rows_skipped_quarantined else ""))
        for name, c in sorted(self.per_dataset.items()):
            lines.append(f"  {name}: " + " ".join(f"{k}={v}" for k, v in c.items()))
        for reason, n in sorted(self.reasons.items()):
            lines.append(f"  quarantined {reason}: {n}")
        lines.append(self.line())
        return "\n".join(lines)

    def metrics(self) -> dict[str, float]:
        keys = ("rows_in", "rows_done", "rows_todo", "rows_out", "rows_quarantined", "rows_skipped_quarantined",
                "rows_pruned", "read_problems", "audio_hours", "wall_s", "x_realtime", "commits")
        out = {k: float(getattr(self, k)) for k in keys}
        if self.table_version is not None:
            out["table_version"] = float(self.table_version)
        for name, c in self.per_dataset.items():
            for k, v in c.items():
                out[f"{name}/{k}"] = float(v)
        for reason, n in self.reasons.items():
            out[f"quarantine/{reason.replace(':', '_')}"] = float(n)
        return out

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def log_to_mlflow(summary: TokenizeSummary, params: dict[str, str], tracking_uri: str,
                  artifact_location: str | None, experiment: str = "tokenize") -> str | None:
    """One MLflow run per job: params (config), metrics (the summary), tags (versions). Returns its id."""
    from uniaudio.tracking import MlflowTracker

    tracker = MlflowTracker(tracking_uri, experiment=experiment, artifact_location=artifact_location)
    names = sorted(summary.per_dataset)  # named after what it tokenized (the uuid is a tag)
    label = "+".join(names) if names and len(names) <= 3 else f"{len(names)}-datasets" if names else summary.run_id[:8]
    run_id = tracker.start_run(f"tokenize-{label}", tags={
        "component": "tokenize", "uniaudio.run_id": summary.run_id, "store": summary.store,
        "tokenizer_version": summary.tokenizer_version, "delta.table_version": str(summary.table_version),
        "delta.quarantine_version": str(summary.quarantine_version)})
    tracker.log_params(params)
    tracker.log_metrics(summary.metrics())
    tracker.end_run()
    return run_id
