"""``--model s3://...`` / ``--codec s3://...``: loaded from the bucket through the node's hash-verified
cache (never handed to MLflow, whose S3 client would need botocore), and the codec found from an
``s3://`` lineage entry."""

from __future__ import annotations

import json

import pytest
import torch

from conftest_s3 import s3_bucket, s3_env, s3_server  # noqa: F401  (fixtures)
from uniaudio.errors import UserFacingError
from uniaudio.generate.loading import load_codec, load_model
from uniaudio.stores import uri as uris


def test_model_and_codec_from_the_bucket(assets, s3_bucket, tmp_path):
    codec_uri = f"{s3_bucket}/codec"
    uris.upload_dir(assets["codec"], codec_uri)
    model_uri = f"{s3_bucket}/run"
    uris.upload_dir(assets["model"], model_uri)
    lin = json.loads(uris.read_text(f"{model_uri}/lineage.json"))
    uris.put(f"{model_uri}/lineage.json", json.dumps({**lin, "codec_dir": codec_uri}))  # as a cluster run records

    got = load_model(model_uri, tmp_path / "w")
    local = load_model(assets["model"], tmp_path / "w0")
    assert got.directory is not None and str(got.directory).startswith(str(tmp_path / "cache"))
    assert all(torch.equal(a, b) for a, b in zip(got.model.state_dict().values(), local.model.state_dict().values()))
    assert load_codec(got, None, tmp_path / "w").content_hash == assets["codec_hash"]  # codec_dir: s3://
    assert load_codec(local, codec_uri, tmp_path / "w").content_hash == assets["codec_hash"]  # --codec s3://
    with pytest.raises(UserFacingError, match="does not exist"):
        load_model(f"{s3_bucket}/missing", tmp_path / "w")


def test_generate_cli_with_s3_uris_only(assets, s3_bucket, tmp_path):
    from uniaudio.cli import main as cli

    codec_uri, model_uri = f"{s3_bucket}/codec", f"{s3_bucket}/run"
    uris.upload_dir(assets["codec"], codec_uri)
    uris.upload_dir(assets["model"], model_uri)
    out = tmp_path / "o.wav"
    rc = cli(["generate", "--task", "se", "--model", model_uri, "--codec", codec_uri, "--source",
              assets["wavs"]["noisy"], "-o", str(out), "--fixed-length", "--seed", "3", "--quiet"])
    assert rc == 0 and out.stat().st_size > 25 * 320


def test_batch_outputs_and_evaluation_results_in_the_bucket(assets, s3_bucket, tmp_path, monkeypatch):
    from uniaudio.cli import main as cli

    monkeypatch.chdir(tmp_path)  # a stray local 's3:' folder would appear here
    w = assets["wavs"]
    reqs = tmp_path / "reqs.jsonl"
    reqs.write_text(json.dumps({"task": "se", "id": "se-1", "source": w["noisy"], "reference": w["speech"]}) + "\n"
                    + json.dumps({"task": "se", "id": "se-2", "source": w["noisy"], "reference": w["speech"]}) + "\n")
    out = f"{s3_bucket}/gen"
    assert cli(["generate", "--batch", str(reqs), "--out-dir", out, "--model", assets["model"], "--fixed-length",
                "--quiet"]) == 0
    files = {n for n, _ in uris.list_files(out)}
    assert {"results.jsonl", "wavs/se-1.wav", "wavs/se-2.wav"} <= files and "errors.jsonl" not in files
    rec = [json.loads(x) for x in uris.read_text(f"{out}/results.jsonl").splitlines()]
    assert [r["output"] for r in rec] == ["wavs/se-1.wav", "wavs/se-2.wav"]  # relative: valid in the bucket

    ev = f"{s3_bucket}/eval"
    assert cli(["evaluate", f"{out}/results.jsonl", "--out", ev, "--metrics", "si_snr", "--no-mlflow"]) == 0
    got = {n for n, _ in uris.list_files(ev)}
    assert "results.json" in got and "report.html" in got, got
    # the bucket's outputs count as existing: a second batch is refused without --overwrite (exit 1)
    assert cli(["generate", "--batch", str(reqs), "--out-dir", out, "--model", assets["model"], "--quiet"]) == 1
    assert "errors.jsonl" in {n for n, _ in uris.list_files(out)}
    assert not any(p.name.startswith("s3") for p in tmp_path.iterdir())
