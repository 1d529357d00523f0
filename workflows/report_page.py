"""``RUN/report.html`` for a workflow run: the evaluation page (:mod:`uniaudio.evaluate.report_page`) of
the run's ``evaluate`` step, with a header that says the scale of the run (presets, steps, hours of
data) and what to expect from it, and a table linking every step to its MLflow run.

The runner calls :func:`write_workflow_report` at the end of each invocation; it never fails the run
(a problem is one line in the runner's log), and writes nothing when no evaluate step has finished.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from uniaudio.evaluate.report_page import Header, StepLink, write_report
from workflows.dag import Ref, Workflow

MLFLOW_UI = "http://127.0.0.1:5000"

EXPECT = ("This is a toy-scale run: a tiny codec and a tiny LM trained for minutes on a few minutes of audio. "
          "Expect the codec resynthesis to be recognisable but noisy, and the model's outputs to be noise-like "
          "sounds with roughly the right length and loudness, not intelligible speech or music; the metrics "
          "say how far each task is from its codec-resynthesis bound. The paper-scale recipe is workflows/full.yaml.")


def _scale(wf: Workflow, states: dict[str, Any]) -> list[str]:
    lines = []
    for sid, st in wf.steps.items():
        cfg = st.config or {}
        if st.kind in ("codec_train", "train_lm"):
            what = "codec" if st.kind == "codec_train" else "LM"
            lines.append(f"{what} ({sid}): preset {cfg.get('preset', 'default')}, {cfg.get('steps', '?')} steps, "
                         f"{cfg.get('workers', 1)} worker(s)")
    hours = 0.0
    for sid, st in wf.steps.items():
        s = states.get(sid)
        if st.kind == "tokenize" and s is not None and s.summary:
            hours += _hours(s.summary)
    if hours:
        lines.append(f"tokenized audio: {hours * 60:.1f} minutes ({hours:.3f} h) over "
                     f"{sum(1 for st in wf.steps.values() if st.kind == 'tokenize')} dataset step(s)")
    return lines


def _hours(summary: str) -> float:
    """``hours=0.012`` in a tokenize summary (0 when absent).

    >>> _hours("tokenize: rows in=9 out=9 hours=0.0055 x_realtime=3.5")
    0.0055
    """
    for part in summary.replace(",", " ").split():
        if part.startswith("hours="):
            try:
                return float(part.split("=", 1)[1])
            except ValueError:
                return 0.0
    return 0.0


def _run_url(state, experiment_id: str | None) -> str | None:
    if not state.step_run_id or not experiment_id:
        return None
    return f"{MLFLOW_UI}/#/experiments/{experiment_id}/runs/{state.step_run_id}"


def write_workflow_report(wf: Workflow, states: dict[str, Any], seconds: dict[str, float], run_root: Path,
                          title: str, experiment_id: str | None, ui_command: str | None) -> Path | None:
    """The page for the last finished evaluate step, or None when there is none."""
    ev = next((sid for sid, st in reversed(list(wf.steps.items()))
               if st.kind == "evaluate" and sid in states and states[sid].status == "done"), None)
    if ev is None:
        return None
    ref = wf.steps[ev].inputs.get("results")
    if not isinstance(ref, Ref) or ref.step not in states:
        return None
    results = states[ref.step].outputs.get(ref.output)
    eval_dir = states[ev].outputs.get("table")
    if not results or not eval_dir:
        return None
    from uniaudio.stores import uri as uris

    # a run dir in a bucket: the page is built from node-local copies (hash-verified cache) and uploaded
    results_path, eval_dir = uris.fetch(results), uris.fetch(eval_dir)
    if results_path.is_dir():
        results_path = results_path / "results.jsonl"
    steps = [StepLink(sid, s.status, seconds.get(sid, s.seconds), s.summary or "", _run_url(s, experiment_id))
             for sid, s in states.items()]
    links = [("MLflow UI (start it with: " + ui_command + ")", MLFLOW_UI)] if ui_command else []
    header = Header(title=title, scale=_scale(wf, states), expect=EXPECT, links=links)
    return write_report(results_path, eval_dir, run_root / "report.html", header, steps)
