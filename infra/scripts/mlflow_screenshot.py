#!/usr/bin/env python
"""Screenshot what a user sees in the MLflow UI for a workflow run (headless Chromium, loopback only).

Starts a lean ``mlflow server`` on the run's store (127.0.0.1, a free port), opens the experiment's
runs page and one run's page (the LM run of the demo by default, else the workflow's parent run) in
Debian's ``chromium``, writes the PNGs, and checks them: the experiment is a model-training experiment
(so the UI opens on its runs, not MLflow 3's GenAI traces page), and the screenshots are not blank.

    .venv/bin/python infra/scripts/mlflow_screenshot.py demo_out                 # -> demo_out/mlflow_*.png
    .venv/bin/python infra/scripts/mlflow_screenshot.py demo_out --run-name lm-lm --out /tmp/shots

Ends with one line ``MLFLOW_SCREENSHOT ok=... experiment=... run=... files=...``.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from uniaudio.evaluate.headless import load, non_blank  # noqa: E402
from uniaudio.tracking import EXPERIMENT_KIND  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, timeout_s: float = 90.0) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout_s:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"MLflow server at {url} did not come up in {timeout_s:.0f}s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", help="workflow run dir (holds mlflow.db and mlartifacts/)")
    ap.add_argument("--experiment", default=None, help="experiment name (default: the workflow's, workflow-<name>)")
    ap.add_argument("--run-name", default=None, help="run to open (default: the LM run lm-lm, else the newest parent run)")
    ap.add_argument("--out", default=None, help="folder for the PNGs (default: the run dir)")
    args = ap.parse_args()
    run_dir = Path(args.run_dir).resolve()
    db = run_dir / "mlflow.db"
    if not db.is_file():
        sys.exit(f"{db} does not exist: run a workflow into {run_dir} first")
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{db}"
    c = MlflowClient(uri)
    exps = [e for e in c.search_experiments() if e.name != "Default"]
    want = args.experiment or next((e.name for e in exps if e.name.startswith("workflow-")), exps[0].name)
    exp = c.get_experiment_by_name(want)
    runs = c.search_runs([e.experiment_id for e in exps], order_by=["attributes.start_time DESC"])
    name = args.run_name or "lm-lm"
    run = next((r for r in runs if r.info.run_name == name), None) or next(
        r for r in runs if r.data.tags.get("component") == "workflow")
    out = Path(args.out or run_dir)
    out.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri,
                               "--artifacts-destination", str(run_dir / "mlartifacts"), "--host", "127.0.0.1",
                               "--port", str(port), "--workers", "1"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        base = f"http://localhost:{port}"
        _wait(f"{base}/health")
        shots = {}
        for label, path in (("experiment", f"/#/experiments/{exp.experiment_id}"),
                            ("run", f"/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}/model-metrics")):
            png = out / f"mlflow_{label}.png"
            load(base + path, screenshot=png, size=(1400, 1000), wait_ms=20000)  # charts load lazily
            shots[label] = png
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    kinds_ok = all(e.tags.get(k) == v for e in exps for k, v in EXPERIMENT_KIND.items())
    blank_ok = all(non_blank(p) for p in shots.values())
    ok = kinds_ok and blank_ok
    print(f"MLFLOW_SCREENSHOT ok={ok} experiment={exp.name} training_kind={kinds_ok} non_blank={blank_ok} "
          f"run={run.info.run_name}:{run.info.run_id} files={','.join(str(p) for p in shots.values())}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
