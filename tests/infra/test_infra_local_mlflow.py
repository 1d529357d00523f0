"""The local MLflow tracking server of infra/local: log a run through it, then stop only it."""

from __future__ import annotations

import psutil
import pytest

from conftest_infra import _REPO  # noqa: F401  (puts the checkout on sys.path)
from infra.local._procs import InfraError, http_get
from infra.local.mlflow_server import load_mlflow, mlflow_status, start_mlflow, stop_mlflow


@pytest.mark.integration
def test_mlflow_server_logs_a_run_and_stops(tmp_path):
    from mlflow import MlflowClient

    state = tmp_path / "mlflow"
    info = start_mlflow(state)
    try:
        assert info.url.startswith("http://127.0.0.1:")
        assert mlflow_status(state)["healthy"] is True
        with pytest.raises(InfraError, match="still running"):
            start_mlflow(state)
        client = MlflowClient(tracking_uri=info.url)
        exp = client.create_experiment("infra-test")
        run = client.create_run(exp)
        client.log_param(run.info.run_id, "zero", "2")
        client.log_metric(run.info.run_id, "loss", 0.25, step=3)
        art = tmp_path / "note.txt"
        art.write_text("hello")
        client.log_artifact(run.info.run_id, str(art))
        client.set_terminated(run.info.run_id)

        got = MlflowClient(tracking_uri=info.url).get_run(run.info.run_id)
        assert got.data.params == {"zero": "2"} and got.data.metrics == {"loss": 0.25}
        assert got.info.status == "FINISHED"
        # artifacts are proxied by the server into the local artifact root
        assert [f.path for f in client.list_artifacts(run.info.run_id)] == ["note.txt"]
        stored = list((state / "artifacts").rglob("note.txt"))
        assert len(stored) == 1 and stored[0].read_text() == "hello"
        assert (state / "mlflow.db").exists()
        pids = info.pids()
        assert pids
    finally:
        signalled = stop_mlflow(state)
    assert set(pids) <= set(signalled)
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert http_get(f"{info.url}/health")[0] == 0
    assert mlflow_status(state)["running"] is False
    assert load_mlflow(state).backend_store_uri.startswith("sqlite:///")


@pytest.mark.integration
@pytest.mark.slow  # a second server start (~10 s idle) for the auth app
def test_mlflow_server_basic_auth(tmp_path, monkeypatch):
    from mlflow import MlflowClient

    state = tmp_path / "mlflow-auth"
    info = start_mlflow(state, auth=True, admin_password="s3cret-Passw0rd!")
    try:
        assert http_get(f"{info.url}/api/2.0/mlflow/experiments/search?max_results=1")[0] == 401
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret-Passw0rd!")
        exp = MlflowClient(tracking_uri=info.url).create_experiment("auth-test")
        assert MlflowClient(tracking_uri=info.url).get_experiment(exp).name == "auth-test"
    finally:
        stop_mlflow(state)
