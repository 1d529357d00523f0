"""Ray Train + DeepSpeed end to end on CPU: 2 workers, ZeRO-2, exact resume, surviving a killed worker.

Slow (each run starts a Ray Train worker group and DeepSpeed): ``make test-all``.
"""

import pytest
import torch
from safetensors.torch import load_file

from tests.train.helpers import make_example_store
from uniaudio.train.config import train_config
from uniaudio.train.driver import run_training

pytestmark = [pytest.mark.slow, pytest.mark.integration]

COMMON = ["workers=2", "zero_stage=2", "optim.lr=3e-3", "optim.warmup_steps=3", "optim.schedule=inverse_sqrt",
          "checkpoint_every=4", "validate_every=4", "log_every=2", "loader.max_frames_per_batch=256",
          "loader.reader=arrow", "max_failures=2"]


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    return make_example_store(str(tmp_path_factory.mktemp("ex") / "examples"), n=48)


def params(out):
    return load_file(str(out / "model.safetensors"))


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)


@pytest.fixture(scope="module")
def reference(ray_session, examples, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    summary = run_training(examples, str(out), train_config("tiny", overrides=COMMON + ["steps=8", "run_name=ref"]))
    return out, summary


def test_two_workers_zero2_learn_and_export(reference):
    out, s = reference
    assert s.steps == 8 and s.zero_stage == 2 and s.workers == 2 and s.run_id
    assert s.last_loss < s.first_loss - 1.0, (s.first_loss, s.last_loss)
    for name in ("model.safetensors", "model_config.json", "vocab.json", "lineage.json"):
        assert (out / name).is_file()
    from uniaudio.stores.exported import load_exported

    model, cfg, vocab, lineage = load_exported(out)
    assert lineage["examples_version"] == 0 and lineage["steps"] == 8


def test_resume_equals_uninterrupted(reference, examples, tmp_path):
    ref_out, _ = reference
    cfg4 = train_config("tiny", overrides=COMMON + ["steps=4", "run_name=split"])
    run_training(examples, str(tmp_path), cfg4)
    cfg8 = train_config("tiny", overrides=COMMON + ["steps=8", "run_name=split"])
    s = run_training(examples, str(tmp_path), cfg8)  # same run name + storage: resumes at step 4
    assert s.steps == 8
    assert_same(params(tmp_path), params(ref_out))


def test_killed_worker_restarts_from_checkpoint(reference, examples, tmp_path):
    ref_out, _ = reference
    cfg = train_config("tiny", overrides=COMMON + ["steps=8", "run_name=fault"])
    marker = tmp_path / "fault.marker"
    s = run_training(examples, str(tmp_path / "out"), cfg,
                     test_hooks={"fault_at_step": 5, "fault_rank": 1, "fault_marker": str(marker)})
    assert marker.exists(), "the fault was not injected"
    assert s.steps == 8
    assert_same(params(tmp_path / "out"), params(ref_out))  # no lost or repeated steps


from conftest_infra import mlflow_server  # noqa: E402,F401  (fixture)


def test_mlflow_server_run_has_params_metrics_model_and_vocab(ray_session, examples, tmp_path, mlflow_server, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    cfg = train_config("tiny", overrides=COMMON + ["steps=6", "run_name=tracked", "log_every=1"])
    s = run_training(examples, str(tmp_path), cfg)
    client = MlflowClient(mlflow_server.url)
    run = client.get_run(s.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["zero_stage"] == "2" and run.data.params["model.d_model"] == "64"
    assert run.data.tags["lineage.examples_version"] == "0" and "lineage.git_commit" in run.data.tags
    history = client.get_metric_history(s.run_id, "train/loss")
    assert [m.step for m in history] == list(range(1, 7))
    for key in ("train/lr", "train/frames_per_s", "train/padding_fraction", "loss_by_task/se", "val/all/loss"):
        assert key in run.data.metrics, key
    names = {a.path for a in client.list_artifacts(s.run_id, "model")}
    assert {"model/model.safetensors", "model/vocab.json", "model/model_config.json"} <= names
    import mlflow.pytorch

    mlflow.set_tracking_uri(mlflow_server.url)
    model = mlflow.pytorch.load_model(f"runs:/{s.run_id}/pytorch_model")
    assert type(model).__name__ == "MultiScaleLM"


def test_tracking_server_down_does_not_kill_training(ray_session, examples, tmp_path, monkeypatch):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{dead}")
    cfg = train_config("tiny", overrides=COMMON + ["steps=4", "run_name=offline"])
    s = run_training(examples, str(tmp_path), cfg)
    assert s.steps == 4 and (tmp_path / "model.safetensors").is_file()
    assert (tmp_path / "mlflow_unsent.jsonl").is_file()
