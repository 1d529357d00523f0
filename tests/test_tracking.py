"""uniaudio.tracking against a real local MLflow sqlite store, and against an unreachable server."""

from __future__ import annotations

import socket

import pytest

from uniaudio.tracking import (MlflowTracker, NullTracker, Tracker, default_artifact_location, flatten_params,
                               resolve_tracking_uri)


@pytest.fixture()
def store(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = resolve_tracking_uri(tmp_path / "run")
    return uri, default_artifact_location(uri, tmp_path / "run")


def test_resolve_tracking_uri(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = resolve_tracking_uri(tmp_path / "out")
    assert uri == f"sqlite:///{(tmp_path / 'out').resolve()}/mlflow.db" and (tmp_path / "out").is_dir()
    assert default_artifact_location(uri, tmp_path / "out") == (tmp_path / "out" / "mlartifacts").resolve().as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5055")
    assert resolve_tracking_uri(tmp_path / "out") == "http://127.0.0.1:5055"
    assert default_artifact_location("http://127.0.0.1:5055", tmp_path) is None


def test_logs_to_a_real_sqlite_store(store, tmp_path):
    from mlflow.tracking import MlflowClient

    uri, art = store
    t = MlflowTracker(uri, experiment="unit", artifact_location=art)
    assert isinstance(t, Tracker) and isinstance(NullTracker(), Tracker)
    run_id = t.start_run("first", tags={"component": "test"})
    t.log_params(flatten_params({"model": {"d": 8, "strides": [2, 4]}, "lr": 1e-3}))
    t.log_metrics({"loss": 2.0, "val/mel": 1.5}, step=1)
    t.log_metrics({"loss": 1.0}, step=2)
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "a.txt").write_text("x")
    t.log_artifact(tmp_path / "samples", artifact_path="samples/step_2")
    t.set_tags({"status_note": "ok"})
    t.log_params({"lr": 5})  # MLflow rejects changing a param: dropped with a warning, not raised
    child = MlflowTracker(uri, experiment="unit", artifact_location=art)
    child_id = child.start_run("child", parent_run_id=run_id)
    child.end_run()
    # a second process (e.g. a Ray Train worker) attaches to the same run
    worker = MlflowTracker(uri, experiment="unit")
    assert worker.start_run(run_id=run_id) == run_id
    worker.log_metrics({"loss": 0.5}, step=3)
    t.end_run()
    assert t.pending == 0

    c = MlflowClient(uri)
    run = c.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags["component"] == "test"
    assert run.data.params == {"model.d": "8", "model.strides": "[2, 4]", "lr": "0.001"}
    assert [m.value for m in c.get_metric_history(run_id, "loss")] == [2.0, 1.0, 0.5]
    assert run.info.artifact_uri.startswith(art)
    assert [a.path for a in c.list_artifacts(run_id, "samples/step_2")] == ["samples/step_2/a.txt"]
    assert c.get_run(child_id).data.tags["mlflow.parentRunId"] == run_id


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_only_warns(tmp_path, capsys):
    fallback = tmp_path / "unsent.jsonl"
    t = MlflowTracker(f"http://127.0.0.1:{_closed_port()}", experiment="x", retry_interval_s=3600,
                      fallback_path=fallback)
    assert t.start_run("offline") is None
    for step in range(5):
        t.log_metrics({"loss": float(step)}, step=step)
    t.log_params({"a": 1})
    assert t.pending == 7  # start + 5 metrics + params, buffered in order
    t.end_run()
    err = capsys.readouterr().err
    assert err.count("is unreachable") == 1 and "Training goes on" in err
    assert "8 record(s) not delivered" in err
    lines = fallback.read_text().splitlines()
    assert len(lines) == 8 and '"kind": "start"' in lines[0] and '"kind": "end"' in lines[-1]


def test_logging_before_start_is_a_programming_error(store):
    with pytest.raises(RuntimeError, match="start_run"):
        MlflowTracker(store[0]).log_metrics({"a": 1.0})


def test_embedded_store_of_a_remote_output_is_never_the_cwd(tmp_path, monkeypatch):
    """tokenize / examples without a tracking URI: under the local output, else the per-user data dir."""
    import doctest

    import uniaudio.tracking as tracking
    from pipelines.tokenize.config import TokenizeConfig
    from pipelines.tokenize.job import tracking_location

    cwd, data = tmp_path / "cwd", tmp_path / "data"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("UNIAUDIO_DATA_DIR", str(data))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.local_tracking_dir("s3://bucket/tokens", "examples") == data / "mlflow" / "examples"
    uri, artifacts = tracking_location("s3://bucket/tokens", TokenizeConfig())
    assert uri == f"sqlite:///{data / 'mlflow' / 'tokenize' / 'mlflow.db'}" and str(data) in artifacts
    uri, _ = tracking_location(str(tmp_path / "store"), TokenizeConfig())
    assert uri == f"sqlite:///{tmp_path / 'store' / '_mlflow' / 'mlflow.db'}"
    assert not list(cwd.iterdir())
    assert doctest.testmod(tracking).failed == 0
