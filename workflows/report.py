"""What ``uniaudio workflow run`` prints at the end: the outcome, and where the results are."""

from __future__ import annotations

from pathlib import Path

from workflows.dag import Workflow
from workflows.run_report import RunReport


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


def time_table(wf: Workflow, report: RunReport) -> list[str]:
    r"""Per-step wall time of this invocation (foreach items summed into their step), longest first.

    >>> from types import SimpleNamespace as NS
    >>> wf = NS(steps={"a": NS(base="a"), "t[x]": NS(base="t"), "t[y]": NS(base="t")})
    >>> rep = NS(seconds_by_step={"a": 2.0, "t[x]": 3.0, "t[y]": 4.5}, failed={}, skipped=[], seconds=10.0)
    >>> print("\n".join(time_table(wf, rep)))
    step time (s)
      t                 7.5  (2 items)
      a                 2.0
      total            10.0  (runner and tracking: 0.5)
    """
    rows: dict[str, list[float]] = {}
    for sid, sec in report.seconds_by_step.items():
        rows.setdefault(wf.steps[sid].base if sid in wf.steps else sid, []).append(sec or 0.0)
    if not rows:
        return []
    lines = ["step time (s)"]
    for base, secs in sorted(rows.items(), key=lambda kv: -sum(kv[1])):
        failed = any(sid in report.failed for sid in wf.steps if wf.steps[sid].base == base)
        lines.append(f"  {base:<16}{sum(secs):>5.1f}" + (f"  ({len(secs)} items)" if len(secs) > 1 else "")
                     + ("  FAILED" if failed else ""))
    steps_total = sum(sum(v) for v in rows.values())
    lines.append(f"  {'total':<16}{report.seconds:>5.1f}  (runner and tracking: {report.seconds - steps_total:.1f})")
    return lines


def outcome_lines(wf: Workflow, report: RunReport) -> list[str]:
    lines = time_table(wf, report) + [report.line()]
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
    if getattr(report, "report_html", None):
        lines.append(f"report page:       {report.report_html}  (open it in a browser: audio, spectrograms, metrics)")
    ui = mlflow_ui_command(report.tracking_uri)
    if ui:
        lines.append(f"MLflow UI:         {ui}   (parent run {report.mlflow_run_id})")
    lines.append(f"status:            uniaudio workflow status {report.run_dir}")
    return lines


def print_outcome(wf: Workflow, report: RunReport) -> None:
    print("\n".join(outcome_lines(wf, report)), flush=True)
