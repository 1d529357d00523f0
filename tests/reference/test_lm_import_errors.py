"""Bad published inputs give one clear error naming what is wrong (never a traceback mid-copy)."""

from __future__ import annotations

import shutil

import pytest
import torch
import yaml

from tests.reference.ref_helpers import LM_EXP, published_exp
from uniaudio.errors import UserFacingError
from uniaudio.reference.lm_import import import_lm


def _import(exp, tmp_path):
    return import_lm(exp, tmp_path / "out", tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")


def _one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_corrupted_checkpoint_names_the_file(tmp_path):
    exp = published_exp(tmp_path / "exp")
    data = (exp / "ep1.checkpoint").read_bytes()
    (exp / "ep1.checkpoint").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserFacingError) as err:
        _import(exp, tmp_path)
    assert "ep1.checkpoint" in _one_line(err) and "corrupt or truncated" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_garbage_checkpoint_names_the_file(tmp_path):
    exp = published_exp(tmp_path / "exp")
    (exp / "ep1.checkpoint").write_bytes(b"\x80\x02not a checkpoint at all")
    with pytest.raises(UserFacingError, match="ep1.checkpoint: corrupt or truncated"):
        _import(exp, tmp_path)


def test_config_without_token_list(tmp_path):
    exp = published_exp(tmp_path / "exp")
    args = yaml.safe_load((exp / "config.yaml").read_text())
    del args["token_list"]
    (exp / "config.yaml").write_text(yaml.safe_dump(args))
    with pytest.raises(UserFacingError) as err:
        _import(exp, tmp_path)
    assert "config.yaml: no token_list" in _one_line(err)


def test_missing_tensor_is_named(tmp_path):
    exp = published_exp(tmp_path / "exp", state_transform=lambda s: {k: v for k, v in s.items()
                                                                      if k != "g_layers.1.attn.value.bias"})
    with pytest.raises(UserFacingError) as err:
        _import(exp, tmp_path)
    assert "tensor g_layers.1.attn.value.bias is missing" in _one_line(err)


def test_misshaped_tensor_is_named(tmp_path):
    def shrink(s):
        s["l_pos.weight"] = s["l_pos.weight"][:, :40].clone()
        return s

    exp = published_exp(tmp_path / "exp", state_transform=shrink)
    with pytest.raises(UserFacingError) as err:
        _import(exp, tmp_path)
    assert "tensor l_pos.weight has shape (3, 40), expected (3, 48)" in _one_line(err)


def test_vocab_rows_must_match_token_list(tmp_path):
    def cut(s):
        s["lm_head.weight"] = s["lm_head.weight"][:-1].clone()
        return s

    exp = published_exp(tmp_path / "exp", state_transform=cut)
    with pytest.raises(UserFacingError, match=r"tensor lm_head.weight has shape \(3809, 48\), expected \(3810, 48\)"):
        _import(exp, tmp_path)


def test_unexpected_tensor_is_named(tmp_path):
    def add(s):
        s["g_layers.0.attn.key.bias"] = torch.zeros(48)
        return s

    exp = published_exp(tmp_path / "exp", state_transform=add)
    with pytest.raises(UserFacingError, match="unexpected tensor g_layers.0.attn.key.bias"):
        _import(exp, tmp_path)


def test_model_entry_needing_pickled_classes_is_refused(tmp_path):
    from tests.reference.ref_helpers import Scheduler

    exp = published_exp(tmp_path / "exp", extra={"model": {"g_emb.weight": Scheduler()}})
    with pytest.raises(UserFacingError, match="no 'model' state dict .*tests.reference.ref_helpers.Scheduler"):
        _import(exp, tmp_path)


def test_no_checkpoint_in_dir(tmp_path):
    exp = tmp_path / "exp"
    exp.mkdir()
    shutil.copy(LM_EXP / "config.yaml", exp / "config.yaml")
    with pytest.raises(UserFacingError, match="no ep<N>.checkpoint"):
        _import(exp, tmp_path)


def test_cli_error_is_one_line(tmp_path, capsys):
    from uniaudio.cli import main

    exp = published_exp(tmp_path / "exp")
    (exp / "config.yaml").write_text("n_layer: 2\n")
    assert main(["import-reference", "lm", str(exp), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("uniaudio import-reference: ") and "no token_list" in err and "\n" not in err
