"""``uniaudio workflow status|logs``: read a run directory and say where each step stands.

>>> # print(format_status(run_status("demo_out")))
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from uniaudio.errors import UserFacingError
from workflows.state import RunStore, StepState


@dataclass
class RunStatus:
    run_dir: str
    name: str
    invocations: list[dict[str, Any]]
    steps: list[StepState]
    submission: dict[str, Any] | None = None
    not_in_dag: list[str] = field(default_factory=list)  # states of steps the latest DAG no longer has

    @property
    def last(self) -> dict[str, Any]:
        return self.invocations[-1] if self.invocations else {}

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.steps:
            out[s.status] = out.get(s.status, 0) + 1
        return out


def _dag_order(store: RunStore) -> list[str] | None:
    text = store.read_text("dag.yaml")
    if not text:
        return None
    try:
        from workflows.dag import parse_workflow

        return parse_workflow(yaml.safe_load(text), "dag.yaml").order()
    except Exception:  # noqa: BLE001 - a DAG whose custom kinds are not importable here: file order
        return None


def _runner_alive(store: RunStore) -> bool:
    """Whether a runner holds the run dir now (its lock names a live process on this host)."""
    import json
    import socket

    from workflows.state import _alive

    if store.local is None:
        if not store.uri.startswith("s3://"):
            return True  # no lock on other object stores (gs://): cannot tell, so do not call anything stale
        from uniaudio.stores.lock import holder

        return holder(f"{store.uri.rstrip('/')}/run.lock") is not None  # a live heartbeat in the bucket
    if not (store.local / "run.lock").is_file():
        return False
    try:
        held = json.loads((store.local / "run.lock").read_text() or "{}")
    except (OSError, ValueError):
        return False
    return held.get("host") != socket.gethostname() or _alive(int(held.get("pid", -1)))


def run_status(run_dir: str) -> RunStatus:
    store = RunStore(run_dir)
    if not store.exists():
        raise UserFacingError(f"{run_dir} is not a workflow run directory (no workflow.json)")
    rec = store.workflow()
    order = _dag_order(store)
    known = store.step_ids()
    ids = order if order is not None else known
    steps = [store.load_step(sid) for sid in ids]
    if not _runner_alive(store):  # a runner killed mid-step left "running" behind: say what it is
        for s in steps:
            if s.status == "running":
                s.status = "stale"
                s.error = "its runner stopped while it ran (killed?); the next run re-runs it"
        for inv in rec.get("invocations", []):
            if inv.get("status") == "running":
                inv["status"] = "interrupted"
    return RunStatus(store.uri, rec.get("name", "?"), rec.get("invocations", []), steps,
                     store.read_json("submission.json"), [s for s in known if order is not None and s not in order])


def _ago(t: float | None) -> str:
    if not t:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def format_status(st: RunStatus) -> str:
    inv = st.last
    lines = [f"workflow {st.name} in {st.run_dir}"]
    if inv:
        lines.append(f"latest run #{inv.get('n')}: {inv.get('status')} (started {_ago(inv.get('started'))}, "
                     f"{'finished ' + _ago(inv.get('finished')) if inv.get('finished') else 'not finished'}); "
                     f"ran {len(inv.get('ran', []))}, skipped {len(inv.get('skipped', []))}, "
                     f"failed {len(inv.get('failed', {}))}, blocked {len(inv.get('blocked', []))}; "
                     f"MLflow run {inv.get('mlflow_run_id') or '-'}")
    if st.submission:
        s = st.submission
        lines.append(f"submitted as Ray job {s.get('job_id')} to {s.get('address')} at {_ago(s.get('submitted'))}")
    lines.append(f"{'step':28s} {'status':8s} {'latest':8s} {'key':12s} {'seconds':>8s}  {'finished':19s}  MLflow step run")
    for s in st.steps:
        secs = f"{s.seconds:.1f}" if s.seconds is not None else "-"
        latest = next((w for w, ids in (("ran", inv.get("ran", [])), ("skipped", inv.get("skipped", [])),
                                         ("failed", inv.get("failed", {})), ("blocked", inv.get("blocked", [])))
                       if s.id in ids), "-")
        lines.append(f"{s.id:28s} {s.status:8s} {latest:8s} {(s.key or '-')[:12]:12s} {secs:>8s}  "
                     f"{_ago(s.finished):19s}  {s.step_run_id or '-'}")
        if s.status in ("failed", "stale") and s.error:
            lines.append(f"    error: {s.error.splitlines()[0][:300]}")
    if st.not_in_dag:
        lines.append(f"(state kept for steps no longer in the DAG: {', '.join(st.not_in_dag)})")
    c = st.counts()
    lines.append("steps: " + ", ".join(f"{v} {k}" for k, v in sorted(c.items())))
    return "\n".join(lines)


def step_logs(run_dir: str, step: str | None = None, tail: int | None = None) -> str:
    """The logs of one step (a step id or the base name of a foreach step), or of every step in order."""
    from workflows.dag import step_file_name
    from workflows.logs import tail as tail_of

    st = run_status(run_dir)
    store = RunStore(run_dir)
    if store.local is None:
        raise UserFacingError("logs are kept beside the step outputs (--work-dir) for non-local run dirs")
    ids = [s.id for s in st.steps]
    if step is not None:
        picked = [i for i in ids if i == step or i.split("[")[0] == step]
        if not picked:
            raise UserFacingError(f"no step {step!r} in {run_dir} (steps: {', '.join(ids)})")
        ids = picked
    parts = []
    for sid in ids:
        p = Path(store.local) / "logs" / f"{step_file_name(sid)}.log"
        if p.is_file():
            parts.append(f"----- {sid} ({p}) -----\n{tail_of(p, tail)}")
        elif step is not None:
            parts.append(f"----- {sid}: no log yet -----")
    return "\n".join(parts) if parts else f"no step logs in {run_dir} yet"
