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
