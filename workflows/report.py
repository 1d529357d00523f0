"""What ``uniaudio workflow run`` prints at the end: the outcome, and where the results are."""

from __future__ import annotations

from pathlib import Path

from workflows.dag import Workflow
from workflows.runner import RunReport


def _first_output(wf: Workflow, report: RunReport, kind: str, output: str) -> str | None:
    """The output's path, shown through the stable ``RUN/outputs/<step>`` link when there is one."""
    from workflows.dag import step_file_name

    for sid, st in wf.steps.items():
        if st.kind == kind and output in report.outputs.get(sid, {}):
            value = report.outputs[sid][output]
            link = Path(report.run_dir) / "outputs" / step_file_name(sid)
            if isinstance(value, str) and link.is_symlink():
                work = link.resolve()
                try:
                    return str(link / Path(value).resolve().relative_to(work))
                except ValueError:
                    pass
            return value
    return None


def mlflow_ui_command(tracking_uri: str | None) -> str | None:
    if not tracking_uri:
        return None
    if tracking_uri.startswith(("sqlite:", "file:")) or "://" not in tracking_uri:
        return f"mlflow ui --backend-store-uri {tracking_uri} --host 127.0.0.1 --port 5000"
    return f"open {tracking_uri} (the tracking server's UI)"


def outcome_lines(wf: Workflow, report: RunReport) -> list[str]:
    lines = [report.line()]
    if report.skipped:
        lines.append(f"skipped (already done): {', '.join(report.skipped)}")
    if report.ran:
        lines.append(f"ran: {', '.join(report.ran)}")
    for sid, err in report.failed.items():
        lines.append(f"FAILED {sid}: {err.splitlines()[0][:300] if err else ''}  (uniaudio workflow logs {report.run_dir} {sid})")
    if report.blocked:
        lines.append(f"blocked by failures: {', '.join(report.blocked)}")
    samples = _first_output(wf, report, "generate", "samples")
    table = _first_output(wf, report, "evaluate", "table")
    model = _first_output(wf, report, "train_lm", "model")
    if model:
        lines.append(f"model:             {model}")
    if samples:
        lines.append(f"generated samples: {Path(samples) / 'wavs'}  (results: {Path(samples) / 'results.jsonl'})")
    if table:
        csv = Path(table) / "results.csv"
        lines.append(f"evaluation table:  {csv if csv.is_file() else table}")
    ui = mlflow_ui_command(report.tracking_uri)
    if ui:
        lines.append(f"MLflow UI:         {ui}   (parent run {report.mlflow_run_id})")
    lines.append(f"status:            uniaudio workflow status {report.run_dir}")
    return lines


def print_outcome(wf: Workflow, report: RunReport) -> None:
    print("\n".join(outcome_lines(wf, report)), flush=True)
