"""``--codec`` accepts what ``uniaudio codec train --out`` wrote and MLflow run / model URIs, like ``--model``
(a real sqlite MLflow store; the CLI end to end)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codec.config import preset
from codec.export import export_codec
from codec.model import CodecModel
from uniaudio.audio import write_audio
from uniaudio.cli import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny codec laid out as `codec train --out OUT` leaves it (OUT/codec), logged to an MLflow run
    under artifact path ``codec`` and registered as a model version."""
    from mlflow.tracking import MlflowClient

    root = tmp_path_factory.mktemp("codec_forms")
    torch.manual_seed(0)
    cfg = preset("tiny")
    export_codec(CodecModel(cfg), cfg, root / "out" / "codec")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    c = MlflowClient(uri)
    exp = c.create_experiment("codec", artifact_location=(root / "art").as_uri())
    run = c.create_run(exp)
    c.log_artifacts(run.info.run_id, str(root / "out" / "codec"), "codec")
    c.set_terminated(run.info.run_id)
    c.create_registered_model("tiny-codec")
    c.create_model_version("tiny-codec", f"runs:/{run.info.run_id}/codec", run.info.run_id)
    wav = root / "in.wav"
    write_audio(wav, 0.1 * np.sin(np.linspace(0, 800, 16000)).astype(np.float32))
    return root, uri, run.info.run_id, wav


@pytest.mark.parametrize("form", ["dir", "out", "runs_codec", "runs", "models"])
def test_codec_forms_encode_the_same(trained, form, tmp_path, monkeypatch):
    root, uri, run_id, wav = trained
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    arg = {"dir": str(root / "out" / "codec"), "out": str(root / "out"), "runs_codec": f"runs:/{run_id}/codec",
           "runs": f"runs:/{run_id}", "models": "models:/tiny-codec/1"}[form]
    ref, got = tmp_path / "ref.npy", tmp_path / "got.npy"
    assert main(["codec", "encode", str(wav), str(ref), "--codec", str(root / "out" / "codec")]) == 0
    assert main(["codec", "encode", str(wav), str(got), "--codec", arg]) == 0
    assert np.array_equal(np.load(ref), np.load(got))


def test_a_folder_without_a_codec_is_one_clear_line(tmp_path, trained, capsys):
    _, _, _, wav = trained
    (tmp_path / "empty").mkdir()
    assert main(["codec", "encode", str(wav), str(tmp_path / "x.npy"), "--codec", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a codec checkpoint" in err[0] and "codec train --out" in err[0]
    assert main(["codec", "encode", str(wav), str(tmp_path / "x.npy"), "--codec", "runs:/0123abcd/codec"]) == 2
    assert "cannot download codec runs:/0123abcd/codec" in capsys.readouterr().err
