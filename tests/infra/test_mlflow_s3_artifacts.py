"""An MLflow server whose artifact root is the bucket: a client logs through the server's artifact proxy
(``mlflow-artifacts:/``) and the files land in ``s3://bucket/mlartifacts`` (boto3, a project dependency,
is what MLflow's S3 artifact repository needs). Slow (an MLflow server start): ``make test-all``."""

from __future__ import annotations

import pytest

from conftest_infra import _REPO  # noqa: F401  (puts the checkout on sys.path)
from conftest_s3 import s3_bucket, s3_env, s3_server  # noqa: F401  (fixtures)
from infra.local.mlflow_server import start_mlflow, stop_mlflow
from uniaudio.stores import uri as uris

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_artifacts_go_to_the_bucket(s3_bucket, s3_env, tmp_path, monkeypatch):
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", s3_env["AWS_ENDPOINT_URL"])  # the server's boto3 client
    info = start_mlflow(tmp_path / "mlflow", artifacts_destination=f"{s3_bucket}/mlartifacts")
    try:
        client = MlflowClient(info.url)
        exp = client.create_experiment("s3-artifacts")
        run = client.create_run(exp)
        (tmp_path / "model_config.json").write_text('{"d_model": 64}')
        client.log_artifact(run.info.run_id, str(tmp_path / "model_config.json"), artifact_path="model")
        client.set_terminated(run.info.run_id)
        got = [n for n, _ in uris.list_files(f"{s3_bucket}/mlartifacts")]
        assert any(n.endswith(f"{run.info.run_id}/artifacts/model/model_config.json") for n in got), got
        local = client.download_artifacts(run.info.run_id, "model/model_config.json", str(tmp_path / "dl"))
        assert open(local).read() == '{"d_model": 64}'
    finally:
        stop_mlflow(tmp_path / "mlflow")
