"""Training audio: folder / list / dataset-spec sources; corrupt, silent and short files are skipped
with a reason and counted, never crash a run."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from codec.data import AudioItem, CropBatches, collect_items, index_items, load_validation, split_items
from uniaudio.audio import write_audio
from uniaudio.errors import UserFacingError


@pytest.fixture()
def corpus(tmp_path, speech_files):
    """Two real speech files, plus a corrupt, a too-short and a silent one."""
    root = tmp_path / "corpus"
    root.mkdir()
    for i, f in enumerate(speech_files[:2]):
        shutil.copy(f, root / f"speech{i}.wav")
    (root / "corrupt.wav").write_bytes(b"RIFF\x00\x00garbage, not audio" * 10)
    write_audio(root / "short.wav", np.full(1600, 0.1, dtype=np.float32))  # 0.1 s
    write_audio(root / "silent.wav", np.zeros(32000, dtype=np.float32))  # 2 s of digital silence
    return root


def test_folder_and_list_sources(corpus, tmp_path):
    items, rejected = collect_items(corpus)
    assert len(items) == 5 and not rejected
    lst = tmp_path / "list.txt"
    lst.write_text("# training files\ncorpus/speech0.wav\n\n" + str(corpus / "speech1.wav") + "\n")
    items, _ = collect_items(lst)
    assert [i.uri for i in items] == [str(corpus / "speech0.wav"), str(corpus / "speech1.wav")]
    with pytest.raises(UserFacingError, match="no such file"):
        collect_items(tmp_path / "missing")


def test_dataset_spec_source(corpus, tmp_path):
    pytest.importorskip("pipelines.sources")
    (corpus / "manifest.jsonl").write_text(
        json.dumps({"utt_id": "s0", "audio": "speech0.wav"}) + "\n"
        + json.dumps({"utt_id": "s1", "audio": "speech1.wav", "start_s": 0.5, "end_s": 2.0}) + "\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"datasets:\n  - name: mini\n    reader: manifest\n    root: {corpus}\n    tasks: [tts]\n")
    items, rejected = collect_items(spec)
    assert {(i.uri.rsplit("/", 1)[-1], i.start_s, i.end_s) for i in items} == {
        ("speech0.wav", None, None), ("speech1.wav", 0.5, 2.0)}
    good, bad = index_items(items, 0.5)
    assert not bad and next(i for i in good if i.start_s == 0.5).duration_s == pytest.approx(1.5)


def test_index_skips_corrupt_and_short_files(corpus):
    items, _ = collect_items(corpus)
    good, bad = index_items(items, min_s=0.5)
    reasons = {b.uri.rsplit("/", 1)[-1]: b.reason for b in bad}
    assert reasons == {"corrupt.wav": "unreadable", "short.wav": "too_short"}
    assert {g.uri.rsplit("/", 1)[-1] for g in good} == {"speech0.wav", "speech1.wav", "silent.wav"}


def test_crops_skip_silent_files_with_a_reason(corpus):
    items, _ = collect_items(corpus)
    good, _ = index_items(items, 0.5)
    data = CropBatches(good, batch_size=4, crop_min_s=1.0, crop_max_s=1.0, seed=0)
    seen = []
    for step in range(6):
        batch = data[step]
        seen += batch["skipped"]
        assert batch["wav"].shape == (4, 1, 16000)
        assert (batch["wav"].square().mean(dim=-1) > 1e-6).all()  # never a silent item
    assert [(s.uri.rsplit("/", 1)[-1], s.reason) for s in seen] == [("silent.wav", "silent")]  # once


def test_no_usable_audio_is_a_clear_error(corpus):
    with pytest.raises(UserFacingError, match="no usable training audio"):
        CropBatches([], 2, 1.0, 1.0, seed=0)
    only_silent = [AudioItem(str(corpus / "silent.wav"), duration_s=2.0)]
    with pytest.raises(UserFacingError, match="mostly unreadable or silent"):
        CropBatches(only_silent, 1, 1.0, 1.0, seed=0, max_attempts=5)[0]


def test_validation_split_and_loading(corpus):
    items, _ = collect_items(corpus)
    good, _ = index_items(items, 0.5)
    train, val = split_items(good, 2)
    assert len(val) == 2 and len(train) == 1 and not set(train) & set(val)
    assert split_items(good, 2) == (train, val)  # deterministic
    wavs, bad = load_validation(good, max_s=1.5)
    assert [b.reason for b in bad] == ["silent"]
    assert all(w.shape[0] % 320 == 0 and w.shape[0] <= 24000 for w in wavs)
