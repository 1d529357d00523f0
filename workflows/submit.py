"""Submit a workflow to a Ray cluster as a Ray Job (the Jobs API), and follow it.

The job's entrypoint is ``python -m uniaudio workflow run DAG --run-dir RUN ...``: one driver process on
the cluster runs the whole DAG (see :mod:`workflows.runner`), its steps' Ray work spread over the
cluster. The project travels as the job's ``runtime_env`` ``working_dir`` (the repository, without
``.venv``, run outputs, caches and git data), the DAG's ``env`` as ``env_vars``.

Ray 2.60 token auth: the client sends ``Authorization: Bearer <token>`` explicitly, the token read
from ``--token-file``, ``$RAY_AUTH_TOKEN``, ``$RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token`` (first
found); with the header the client needs no ``RAY_AUTH_MODE=token`` in its environment.

The run directory must be reachable by both sides under the same name: an absolute path on a shared
file system (or this machine, for a loopback cluster) or an object-store URI (every step output then
lives in the bucket; workflows/step_io.py).
"""

from __future__ import annotations

import os
import secrets
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from uniaudio.errors import UserFacingError

#: Never uploaded with the project: environments, outputs, caches, VCS data.
EXCLUDES = [".venv", "venv", ".git", "runs", "demo_out", "build", "mlruns", "mlartifacts", "mlflow.db",
            "**/__pycache__", "*.egg-info", ".pytest_cache", "**/*.pyc", "**/.ipynb_checkpoints"]
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")


def project_root() -> Path:
    """The repository this package was loaded from (what the job's working_dir carries)."""
    return Path(__file__).resolve().parents[1]


def find_token(token_file: str | None = None) -> str | None:
    if token_file:
        p = Path(token_file).expanduser()
        if not p.is_file():
            raise UserFacingError(f"token file {token_file} does not exist")
        return p.read_text().strip()
    if os.environ.get("RAY_AUTH_TOKEN"):
        return os.environ["RAY_AUTH_TOKEN"].strip()
    for cand in (os.environ.get("RAY_AUTH_TOKEN_PATH"), "~/.ray/auth_token"):
        if cand and Path(cand).expanduser().is_file():
            return Path(cand).expanduser().read_text().strip()
    return None


def job_client(address: str, token_file: str | None = None):
    """A JobSubmissionClient for ``address`` (the dashboard URL), with the auth token attached."""
    from ray.job_submission import JobSubmissionClient

    # The token goes in an explicit header. Setting RAY_AUTH_MODE=token in this process instead would
    # make Ray cache the token process-wide (a later embedded ray.init then fails to start its GCS).
    token = find_token(token_file)
    headers = {"Authorization": f"Bearer {token}"} if token else None
    try:
        return JobSubmissionClient(address, headers=headers)
    except Exception as err:  # noqa: BLE001 - connection and auth errors become one clear message
        hint = "" if token else " (no auth token found: pass --token-file or set RAY_AUTH_TOKEN_PATH)"
        raise UserFacingError(f"cannot reach the Ray Jobs API at {address}: {type(err).__name__}: "
                              f"{str(err).splitlines()[0] if str(err) else ''}{hint}") from None


@dataclass
class Submission:
    job_id: str
    address: str
    run_dir: str
    entrypoint: str


def _dag_reference(dag: Path, root: Path, run_dir: str) -> str:
    """How the job names the DAG: relative to the project (it travels in working_dir), else a copy in RUN."""
    dag = dag.resolve()
    try:
        return str(dag.relative_to(root))
    except ValueError:
        from workflows.state import RunStore

        store = RunStore(run_dir)
        rel = f"submitted/{dag.name}"
        store.write_text(rel, dag.read_text())
        return f"{run_dir.rstrip('/')}/{rel}" if store.local is None else str(store.local / rel)


def submit(dag_path: str, address: str, run_dir: str | None = None, overrides: Sequence[str] = (),
           targets: Sequence[str] = (), force: Sequence[str] = (), token_file: str | None = None,
           python: str = "python", work_dir: str | None = None, extra_env: dict[str, str] | None = None,
           no_mlflow: bool = False) -> Submission:
    """Validate the DAG here, then submit ``uniaudio workflow run`` for it as a Ray Job."""
    from workflows.dag import load_workflow
    from workflows.state import RunStore

    wf = load_workflow(dag_path, overrides)  # fail here, not on the cluster
    root = project_root()
    if run_dir is None:
        run_dir = str(root / "runs" / wf.name)
    if "://" not in run_dir:
        run_dir = str(Path(run_dir).resolve())
    dag_ref = _dag_reference(Path(dag_path), root, run_dir)
    args = [python, "-m", "uniaudio", "workflow", "run", dag_ref, "--run-dir", run_dir]
    for o in overrides:
        args += ["--set", o]
    for t in targets:
        args += ["--only", t]
    for f in force:
        args += ["--force", f]
    if work_dir:
        args += ["--work-dir", str(Path(work_dir).resolve())]
    if no_mlflow:
        args.append("--no-mlflow")
    entrypoint = " ".join(shlex.quote(a) for a in args)
    excludes = list(EXCLUDES)
    if "://" not in run_dir:
        try:
            excludes.append(str(Path(run_dir).relative_to(root)))
        except ValueError:
            pass
    env = {"PYTHONUNBUFFERED": "1", **wf.spec.env, **(extra_env or {})}
    if os.environ.get("MLFLOW_TRACKING_URI"):
        env.setdefault("MLFLOW_TRACKING_URI", os.environ["MLFLOW_TRACKING_URI"])
    client = job_client(address, token_file)
    job_id = f"uniaudio-{wf.name}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
    env["UNIAUDIO_RAY_JOB_ID"] = job_id  # the runner records it with the invocation
    try:
        client.submit_job(entrypoint=entrypoint, submission_id=job_id,
                          runtime_env={"working_dir": str(root), "excludes": excludes, "env_vars": env},
                          metadata={"uniaudio.workflow": wf.name, "uniaudio.run_dir": run_dir})
    except Exception as err:  # noqa: BLE001
        raise UserFacingError(f"submitting the workflow to {address} failed: {type(err).__name__}: {err}") from None
    RunStore(run_dir).write_json("submission.json", {"job_id": job_id, "address": address, "entrypoint": entrypoint,
                                                      "dag": str(Path(dag_path).resolve()), "submitted": time.time()})
    return Submission(job_id, address, run_dir, entrypoint)


def follow(client, job_id: str, poll_s: float = 2.0, out: Callable[[str], None] | None = None,
           timeout_s: float | None = None) -> str:
    """Print the job's log as it grows until the job ends; returns its final status name."""
    out = out or (lambda s: (sys.stdout.write(s), sys.stdout.flush()))
    shown = 0
    t0 = time.time()
    while True:
        status = str(client.get_job_status(job_id)).split(".")[-1]
        try:
            logs = client.get_job_logs(job_id)
        except Exception:  # noqa: BLE001 - logs can lag the status right after submission
            logs = ""
        if len(logs) > shown:
            out(logs[shown:])
            shown = len(logs)
        if status in TERMINAL:
            return status
        if timeout_s is not None and time.time() - t0 > timeout_s:
            raise UserFacingError(f"job {job_id} still {status} after {timeout_s:.0f} s")
        time.sleep(poll_s)
