"""Vocabulary extension: new ids only in reserved spans, subset check, init_from row initialisation."""

from __future__ import annotations

import copy

import pytest
import torch

from uniaudio.errors import VocabMismatchError
from uniaudio.vocab import Vocab, load_vocab
from uniaudio.vocab_extension import extend, new_ids


def test_extension_keeps_every_base_id():
    base = load_vocab("v1")
    ext = extend(base, ["a_task", "b_task"], [{"name": "accent", "range": "phone"}])
    assert new_ids(base, ext) == {"<task:a_task>": 78, "<task:b_task>": 79, "<accent_start>": 34, "<accent_end>": 35}
    assert ext.range("accent") == base.range("phone") and ext.start_of("accent") == 34
    assert ext.doc["extension"]["base_hash"] == base.content_hash
    assert all(not (a <= 78 < b) for a, b in ext.doc["reserved"])
    assert extend(base, list(base.tasks), []) is base
    # the doc round-trips through vocab.json with the same hash
    assert Vocab(copy.deepcopy(ext.doc)).content_hash == ext.content_hash


def test_a_real_mismatch_is_still_refused():
    base = load_vocab("v1")
    ext = extend(base, ["a_task"], [])
    moved = copy.deepcopy(base.doc)
    moved["tasks"]["tts"] = 90
    moved["specials"]["<task:tts>"] = 90
    with pytest.raises(VocabMismatchError, match="nor a subset"):
        new_ids(Vocab(moved), ext)
    with pytest.raises(VocabMismatchError):
        new_ids(ext, base)  # the extension is not a subset of its base


def test_check_init_vocab_and_new_rows(tmp_path):
    from uniaudio.train.init_from import check_init_vocab, init_new_rows

    base = load_vocab("v1")
    base.save(tmp_path / "same")
    ext = extend(base, ["a_task"], [])
    assert check_init_vocab(base, tmp_path / "same" / "vocab.json", "b") == {}
    assert check_init_vocab(ext, tmp_path / "same" / "vocab.json", "b") == {"<task:a_task>": 78}
    other = copy.deepcopy(base.doc)
    other["ranges"]["phone"]["size"] = 512
    (tmp_path / "other").mkdir()
    Vocab(other).save(tmp_path / "other")
    with pytest.raises(VocabMismatchError, match="token ids would not match"):
        check_init_vocab(ext, tmp_path / "other" / "vocab.json", "b")
    w = torch.randn(base.size, 4)
    state = {"frame_emb.weight": w.clone(), "pos_emb.weight": torch.randn(8, 4)}
    init_new_rows(state, {"<task:a_task>": 78}, list(ext.tasks.values()))
    keep = torch.ones(base.size, dtype=torch.bool)
    keep[78] = False
    assert torch.equal(state["frame_emb.weight"][keep], w[keep])
    assert torch.allclose(state["frame_emb.weight"][78], w[list(base.tasks.values())].mean(0))


def test_prepare_init_accepts_a_v1_base_for_a_tasks_file_model(tmp_path, capsys):
    """A base exported with plain v1, fine-tuned with a tasks file: every shared row is the base's, the
    new task row is initialised and reported, the lineage records it; the export then writes v1+ext."""
    from pathlib import Path

    from safetensors.torch import load_file

    from uniaudio.model import build_model, get_preset
    from uniaudio.tasks import use_tasks_file
    from uniaudio.train.config import train_config
    from uniaudio.stores.exported import write_export
    from uniaudio.train.init_from import VOCAB_ROWS, prepare_init

    torch.manual_seed(0)
    cfg0 = get_preset("tiny")
    base_dir = write_export(tmp_path / "base", build_model(cfg0).state_dict(), cfg0, {"run_id": "b"})
    use_tasks_file(Path(__file__).resolve().parents[2] / "docs" / "examples" / "bandwidth_extension.yaml")
    try:
        cfg = train_config("tiny", overrides=[f"init_from={base_dir}"])
        init = prepare_init(cfg, tmp_path / "work")
        assert init.new_rows == {"<task:bandwidth_extension>": 78}
        assert "vocabulary extended by 1 id(s) (<task:bandwidth_extension>=78)" in capsys.readouterr().out
        assert init.lineage()["new_vocab_rows"] == {"<task:bandwidth_extension>": 78}
        base = load_file(str(base_dir / "model.safetensors"))
        for name, value in base.items():
            got = init.state_dict[name]
            if name in VOCAB_ROWS:
                rows = [i for i in range(value.shape[0]) if i != 78]
                assert torch.equal(got[rows], value[rows]), name
                assert not torch.equal(got[78], value[78])
            else:
                assert torch.equal(got, value), name
        out = write_export(tmp_path / "ft", init.state_dict, cfg.model, {})
        assert json_version(out / "vocab.json") == "v1+ext"
    finally:
        use_tasks_file(None)
    # without the tasks file the fine-tuned export is a mismatch, with the usual clear error
    with pytest.raises(VocabMismatchError, match="token ids would not match"):
        load_vocab("v1").check_compatible(out / "vocab.json")


def json_version(path) -> str:
    import json

    return json.loads(path.read_text())["version"]
