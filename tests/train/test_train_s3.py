"""``uniaudio train --out s3://bucket/run``: Ray Train checkpoints (every rank's ZeRO shard) and the
export land IN the bucket, nothing in a local folder named ``s3:``; a resumed run over S3 ends with the
same parameters as an uninterrupted one; the export loads back from the bucket.

Slow (three short Ray Train + DeepSpeed runs): ``make test-all``.
"""

from __future__ import annotations

import os

import pytest
import torch
from safetensors.torch import load as load_safetensors

from conftest_s3 import s3_bucket, s3_env, s3_server  # noqa: F401  (fixtures)
from tests.train.helpers import make_example_store
from uniaudio.stores import uri as uris
from uniaudio.train.config import train_config
from uniaudio.train.driver import run_training

pytestmark = [pytest.mark.slow, pytest.mark.integration]

COMMON = ["workers=2", "zero_stage=2", "optim.lr=3e-3", "optim.warmup_steps=2", "checkpoint_every=2",
          "validate_every=2", "log_every=2", "loader.max_frames_per_batch=256", "loader.reader=arrow"]


def _params(run_uri: str) -> dict[str, torch.Tensor]:
    return load_safetensors(uris.read_bytes(f"{run_uri}/model.safetensors"))


def test_train_out_s3_checkpoints_export_and_resume(ray_session, s3_bucket, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a stray relative 's3:' folder would appear here
    examples = make_example_store(f"{s3_bucket}/examples", n=32)
    ref = f"{s3_bucket}/ref"
    s = run_training(examples, ref, train_config("tiny", overrides=COMMON + ["steps=4", "run_name=ref"]))
    assert s.steps == 4 and s.out_dir == ref
    names = [n for n, _ in uris.list_files(ref)]
    for f in ("model.safetensors", "model_config.json", "vocab.json", "lineage.json", "train_config.yaml"):
        assert f in names, names
    shards = [n for n in names if n.startswith("ray_results/") and "optim_states" in n]
    assert len(shards) >= 2, names  # one ZeRO optimizer shard per rank, uploaded by each rank
    assert not os.path.exists(tmp_path / "s3:") and not any(p.name.startswith("s3") for p in tmp_path.iterdir())

    split = f"{s3_bucket}/split"
    run_training(examples, split, train_config("tiny", overrides=COMMON + ["steps=2", "run_name=split"]))
    s2 = run_training(examples, split, train_config("tiny", overrides=COMMON + ["steps=4", "run_name=split"]))
    assert s2.steps == 4
    a, b = _params(ref), _params(split)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)

    from uniaudio.generate.loading import load_model

    loaded = load_model(ref, tmp_path / "gen")
    assert loaded.lineage["steps"] == 4 and loaded.lineage["checkpoint"].startswith(s3_bucket)
