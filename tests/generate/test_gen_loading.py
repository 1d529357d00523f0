"""Model URIs (exported dir, MLflow runs:/ and models:/, DeepSpeed checkpoint dir) and the codec /
tokenizer lineage checks."""

import json
import os
import shutil

import pytest
import torch

from uniaudio.errors import UserFacingError
from uniaudio.generate.loading import load_codec, load_model, tokenizers_config


def same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def copy_with_lineage(src: str, dst, **changes):
    shutil.copytree(src, dst)
    lin = json.loads((dst / "lineage.json").read_text())
    for k, v in changes.items():
        if v is None:
            lin.pop(k, None)
        else:
            lin[k] = v
    (dst / "lineage.json").write_text(json.dumps(lin))
    return str(dst)


def test_mlflow_runs_and_models_uris(assets, tmp_path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    exp = client.create_experiment("gen-test", artifact_location=str(tmp_path / "artifacts"))
    run = client.create_run(exp)
    for name in ("model.safetensors", "model_config.json", "vocab.json", "lineage.json"):
        client.log_artifact(run.info.run_id, os.path.join(assets["model"], name), artifact_path="model")
    client.set_terminated(run.info.run_id)
    client.create_registered_model("tiny-lm")
    client.create_model_version("tiny-lm", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)

    local = load_model(assets["model"], tmp_path / "w0")
    for i, model_uri in enumerate((f"runs:/{run.info.run_id}/model", "models:/tiny-lm/1")):
        got = load_model(model_uri, tmp_path / f"w{i + 1}", tracking_uri=uri)
        assert same_weights(got.model, local.model) and got.lineage == local.lineage
        assert load_codec(got, None, tmp_path / f"w{i + 1}").content_hash == assets["codec_hash"]
    with pytest.raises(UserFacingError, match="cannot download"):
        load_model("runs:/0123456789abcdef/model", tmp_path / "w9", tracking_uri=uri)


def test_codec_comes_from_lineage_and_must_match(assets, tmp_path):
    no_codec = load_model(copy_with_lineage(assets["model"], tmp_path / "a", codec_dir=None), tmp_path / "w")
    with pytest.raises(UserFacingError, match="records no codec"):
        load_codec(no_codec, None, tmp_path / "w")
    assert load_codec(no_codec, assets["codec"], tmp_path / "w").content_hash == assets["codec_hash"]  # --codec
    wrong = load_model(copy_with_lineage(assets["model"], tmp_path / "b", codec_hash="0" * 64), tmp_path / "w")
    with pytest.raises(UserFacingError, match="content hash"):
        load_codec(wrong, None, tmp_path / "w")
    with pytest.raises(UserFacingError, match="neither an exported model"):
        load_model(str(tmp_path), tmp_path / "w")


def test_tokenizer_settings_from_lineage_with_overrides(assets):
    lineage = json.loads(open(os.path.join(assets["model"], "lineage.json")).read())
    cfg = tokenizers_config(lineage, {"phone": {"backend": "cmudict"}})
    assert cfg.semantic.kmeans_path == assets["kmeans"] and cfg.semantic.enabled
    assert cfg.phone.backend == "cmudict" and cfg.phone.language == "en-us"
    from uniaudio.config import ConfigError

    with pytest.raises(ConfigError, match="phone.backend"):
        tokenizers_config(lineage, {"phone": {"backend": "nope"}})


@pytest.mark.slow
def test_deepspeed_checkpoint_directory(assets, tmp_path):
    """A ZeRO checkpoint (what Ray Train leaves per step) loads with the run's train_config.yaml."""
    os.environ.setdefault("DS_ACCELERATOR", "cpu")
    from uniaudio.train import checkpoint as ck
    from uniaudio.train.config import train_config
    from uniaudio.train.engine import initialize
    from uniaudio.train.step import State

    from single_rank import single_rank_process_group

    with single_rank_process_group():
        cfg = train_config("tiny", overrides=["zero_stage=2", "steps=1"])
        ref = load_model(assets["model"], tmp_path / "w").model
        engine, *_ = initialize(ref, cfg, torch.device("cpu"), world=1)
        run = tmp_path / "run"
        ckpt = run / "ray_results" / "lm" / "checkpoint_000000"
        ckpt.mkdir(parents=True)
        (run / "train_config.yaml").write_text(cfg.to_yaml())
        ck.save(engine, ckpt, State(step=3), rank=0)
        with pytest.raises(UserFacingError, match="no model_config.json or train_config.yaml"):
            load_model(str(shutil.copytree(ckpt, tmp_path / "bare")), tmp_path / "w2")
        got = load_model(str(ckpt), tmp_path / "w3")
        assert same_weights(got.model, load_model(assets["model"], tmp_path / "w4").model)
        assert got.lineage["checkpoint"] == str(ckpt)
