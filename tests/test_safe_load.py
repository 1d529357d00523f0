"""No file the project reads can run code: a pickled payload planted in every checkpoint form
(ZeRO shards behind a ``latest`` file, an exported model folder, a codec folder, an MLflow artifact)
is refused with one line and never executes; corrupt or truncated weights are one line naming the file."""

from __future__ import annotations

import builtins
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

os.environ.setdefault("DS_ACCELERATOR", "cpu")

from uniaudio.errors import UserFacingError  # noqa: E402


class Payload:
    """Unpickling this creates ``marker`` (``open(marker, "w")``): proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


@pytest.fixture(scope="module")
def zero_ckpt(tmp_path_factory):
    """A real ZeRO-2 checkpoint folder (``latest`` + shards + model_config.json) of a tiny model."""
    from single_rank import single_rank_process_group
    from uniaudio.model import build_model
    from uniaudio.train import checkpoint as ck
    from uniaudio.train.config import train_config
    from uniaudio.train.engine import initialize
    from uniaudio.train.step import State

    d = tmp_path_factory.mktemp("zero") / "ckpt"
    d.mkdir()
    with single_rank_process_group():
        cfg = train_config("tiny", overrides=["zero_stage=2", "steps=1"])
        torch.manual_seed(0)
        model = build_model(cfg.model)
        engine, *_ = initialize(model, cfg, torch.device("cpu"), world=1)
        ck.save(engine, d, State(step=1), rank=0)
    (d / "model_config.json").write_text(__import__("json").dumps(cfg.model.to_dict()))
    return d, cfg, {k: v.detach().clone() for k, v in model.state_dict().items()}


def _plant(ckpt: Path, dst: Path, shard_glob: str, marker: Path) -> Path:
    """Copy ``ckpt`` to ``dst`` with a payload added to the shard matching ``shard_glob``."""
    from uniaudio.safe_load import weights_only_loads

    shutil.copytree(ckpt, dst)
    (shard,) = (dst / "step_00000001").glob(shard_glob)
    with weights_only_loads():
        blob = torch.load(shard, map_location="cpu")
    blob["evil"] = Payload(marker)
    torch.save(blob, shard)
    return dst


def _one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg, msg
    return msg


def test_real_zero_checkpoint_consolidates_weights_only(zero_ckpt):
    from uniaudio.safe_load import consolidate_zero

    d, _, want = zero_ckpt
    got = consolidate_zero(d)
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)


def test_real_zero_checkpoint_resumes_weights_only(zero_ckpt):
    """engine.load_checkpoint (resume) works with every torch.load forced weights-only."""
    from single_rank import single_rank_process_group
    from uniaudio.model import build_model
    from uniaudio.train import checkpoint as ck
    from uniaudio.train.engine import initialize

    d, cfg, want = zero_ckpt
    with single_rank_process_group():
        torch.manual_seed(1)
        model = build_model(cfg.model)
        engine, *_ = initialize(model, cfg, torch.device("cpu"), world=1)
        state = ck.load(engine, d, rank=0)
    assert state.step == 1
    got = engine.module.state_dict()
    assert all(torch.equal(got[k].float(), want[k].float()) for k in want)


@pytest.mark.parametrize("shard", ["mp_rank_00_model_states.pt", "*_optim_states.pt"])
def test_payload_in_a_zero_shard_never_runs(zero_ckpt, tmp_path, shard):
    from single_rank import single_rank_process_group
    from uniaudio.generate.loading import load_model
    from uniaudio.model import build_model
    from uniaudio.train import checkpoint as ck
    from uniaudio.train.engine import initialize
    from uniaudio.train.export import consolidate

    d, cfg, _ = zero_ckpt
    marker = tmp_path / "PWNED"
    bad = _plant(d, tmp_path / "bad", shard, marker)
    assert not marker.exists()
    with pytest.raises(UserFacingError, match="refused: it references Python objects") as e:
        load_model(str(bad), tmp_path / "w")  # generate / evaluate --model DIR
    assert "_states.pt" in _one_line(e) and "io.open" in str(e.value)
    with pytest.raises(UserFacingError, match="refused"):
        consolidate(bad)  # export after training
    with single_rank_process_group(), pytest.raises(UserFacingError, match="refused"):
        engine, *_ = initialize(build_model(cfg.model), cfg, torch.device("cpu"), world=1)
        ck.load(engine, bad, rank=0)  # resume from a planted --out
    assert not marker.exists()


def test_payload_that_escapes_the_scan_still_cannot_run(zero_ckpt, tmp_path):
    """Even with the globals scan bypassed, DeepSpeed's weights_only=False loads are forced weights-only."""
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    from uniaudio.safe_load import weights_only_loads

    marker = tmp_path / "PWNED"
    bad = _plant(zero_ckpt[0], tmp_path / "bad", "mp_rank_00_model_states.pt", marker)
    with weights_only_loads(), pytest.raises(Exception, match="Weights only load failed"):
        get_fp32_state_dict_from_zero_checkpoint(str(bad))
    assert not marker.exists()
    assert os.environ.get("TORCH_FORCE_WEIGHTS_ONLY_LOAD") is None  # restored afterwards


@pytest.mark.parametrize("tag", ["../outside", "/etc", "a/b", ".."])
def test_latest_tag_must_be_a_plain_folder_name(zero_ckpt, tmp_path, tag):
    from uniaudio.safe_load import consolidate_zero

    d = shutil.copytree(zero_ckpt[0], tmp_path / "c")
    (d / "latest").write_text(tag)
    with pytest.raises(UserFacingError, match="not a plain folder name"):
        consolidate_zero(d)


def test_mlflow_artifact_with_a_payload_never_runs(zero_ckpt, tmp_path):
    from mlflow import MlflowClient

    from uniaudio.generate.loading import load_model

    marker = tmp_path / "PWNED"
    bad = _plant(zero_ckpt[0], tmp_path / "bad", "mp_rank_00_model_states.pt", marker)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    run = client.create_run(client.create_experiment("evil", artifact_location=str(tmp_path / "art")))
    client.log_artifacts(run.info.run_id, str(bad), artifact_path="model")
    with pytest.raises(UserFacingError, match="refused") as e:
        load_model(f"runs:/{run.info.run_id}/model", tmp_path / "w", tracking_uri=uri)
    _one_line(e)
    assert not marker.exists()


@pytest.fixture(scope="module")
def exported(zero_ckpt, tmp_path_factory):
    from uniaudio.stores.exported import write_export

    _, cfg, state = zero_ckpt
    return write_export(tmp_path_factory.mktemp("exp") / "model", state, cfg.model, {})


def _pickle_as(path: Path, marker: Path) -> None:
    torch.save({"w": torch.zeros(2), "evil": Payload(marker)}, path)


def test_pickle_in_place_of_exported_or_init_from_weights_is_refused(exported, zero_ckpt, tmp_path):
    from uniaudio.stores.exported import load_exported
    from uniaudio.train.init_from import prepare_init

    d = Path(shutil.copytree(exported, tmp_path / "m"))
    marker = tmp_path / "PWNED"
    _pickle_as(d / "model.safetensors", marker)
    with pytest.raises(UserFacingError, match="cannot read model.safetensors: corrupt or truncated") as e:
        load_exported(d)
    assert str(d) in _one_line(e)
    cfg = zero_ckpt[1].model_copy(update={"init_from": str(d)})
    with pytest.raises(UserFacingError, match="cannot read model.safetensors") as e:
        prepare_init(cfg, tmp_path / "work")
    _one_line(e)
    assert not marker.exists()


def test_pickle_in_place_of_codec_weights_is_refused(tmp_path):
    from codec import Codec
    from codec.config import preset
    from codec.export import export_codec
    from codec.model import CodecModel

    cfg = preset("tiny")
    d = export_codec(CodecModel(cfg), cfg, tmp_path / "codec")
    marker = tmp_path / "PWNED"
    _pickle_as(d / "codec.safetensors", marker)
    with pytest.raises(UserFacingError, match="codec.safetensors") as e:
        Codec.load(d)
    _one_line(e)
    assert not marker.exists()


@pytest.mark.parametrize("cut", [0.5, 0.01])
def test_truncated_model_safetensors_is_one_line_naming_the_file(exported, tmp_path, cut):
    from uniaudio.generate.loading import load_model

    d = Path(shutil.copytree(exported, tmp_path / "m"))
    w = d / "model.safetensors"
    w.write_bytes(w.read_bytes()[: int(w.stat().st_size * cut)])
    with pytest.raises(UserFacingError, match="cannot read model.safetensors: corrupt or truncated") as e:
        load_model(str(d), tmp_path / "w")
    assert str(d) in _one_line(e)


def test_cli_planted_checkpoint_is_one_line_and_no_marker(zero_ckpt, tmp_path):
    marker = tmp_path / "PWNED"
    bad = _plant(zero_ckpt[0], tmp_path / "bad", "mp_rank_00_model_states.pt", marker)
    out = subprocess.run([sys.executable, "-m", "uniaudio", "generate", "--task", "plain_tts", "--text", "hi",
                          "--model", str(bad), "-o", str(tmp_path / "o.wav")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    errors = [ln for ln in out.stderr.splitlines() if "refused" in ln]
    assert len(errors) == 1 and "mp_rank_00_model_states.pt" in errors[0], out.stderr
    assert not marker.exists() and not (tmp_path / "o.wav").exists()


def test_doctests():
    import doctest

    import uniaudio.safe_load as mod

    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.IGNORE_EXCEPTION_DETAIL)
    assert result.attempted and not result.failed


def test_kmeans_file_with_a_pickle_or_truncated_is_refused(tmp_path):
    import numpy as np

    from uniaudio.tokenizers.kmeans import KMeansModel

    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil.npz"
    np.savez(evil, centers=np.array([Payload(marker)], dtype=object), meta=np.array("{}"))
    with pytest.raises(ValueError, match="allow_pickle"):
        KMeansModel.load(evil)
    assert not marker.exists()
    cut = tmp_path / "cut.npz"
    np.savez(cut, centers=np.zeros((4, 3), np.float32), meta=np.array("{}"))
    cut.write_bytes(cut.read_bytes()[:40])
    with pytest.raises(ValueError, match="corrupt or truncated k-means file") as e:
        KMeansModel.load(cut)
    assert str(cut) in _one_line(e)
