"""``--init-from s3://bucket/base``: the base export is read from the bucket through the node's
hash-verified cache (config resolution and exact weights), with no MLflow or botocore involved."""

import hashlib

import torch

from conftest_s3 import s3_bucket, s3_env, s3_server  # noqa: F401  (fixtures)
from uniaudio.model import build_model, get_preset
from uniaudio.stores import uri as uris
from uniaudio.stores.exported import write_export
from uniaudio.train.config import train_config
from uniaudio.train.init_from import prepare_init


def test_init_from_s3(s3_bucket, tmp_path):
    base_cfg = get_preset("tiny").model_copy(update={"n_local_layer": 2})
    torch.manual_seed(1)
    model = build_model(base_cfg)
    write_export(tmp_path / "base", {k: v.contiguous() for k, v in model.state_dict().items()}, base_cfg,
                 {"run_id": "base-run", "steps": 7})
    base = f"{s3_bucket}/base"
    uris.upload_dir(tmp_path / "base", base)
    cfg = train_config("tiny", overrides=[f"init_from={base}"])
    assert cfg.model.n_local_layer == 2  # the architecture was read from the bucket's model_config.json
    init = prepare_init(cfg, tmp_path / "work")
    assert init.sha256 == hashlib.sha256((tmp_path / "base" / "model.safetensors").read_bytes()).hexdigest()
    assert all(torch.equal(init.state_dict[k], v) for k, v in model.state_dict().items())
    assert init.lineage()["base_run_id"] == "base-run"
