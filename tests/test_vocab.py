import json
from itertools import combinations

import numpy as np
import pytest

from uniaudio.errors import VocabMismatchError
from uniaudio.tasks import TASKS
from uniaudio.vocab import MODALITIES, VOCAB_DIR, load_vocab

# Golden values: changing any id in v1.json must fail here (make a v2 file instead).
GOLDEN_HASH = "c6ebc595ee72e7e6"
GOLDEN_IDS = {
    "<pad>": 0, "<start>": 1, "<end>": 2, "<global_sos>": 3, "<local_sos>": 4, "<continuous>": 5,
    "<audio_start>": 16, "<audio_end>": 17, "<text_emb_start>": 26, "<task:tts>": 64, "<task:sv>": 77,
    "<mask>": 16640,
}
GOLDEN_RANGES = {
    "codec": (256, 16384), "codec_special": (16640, 128), "phone": (16768, 1024), "semantic": (17792, 1024),
    "sing_phone": (18816, 256), "sing_midi": (19072, 256), "text": (19328, 4096), "label": (23424, 16),
}


@pytest.fixture(scope="module")
def v():
    return load_vocab()


def test_golden_file(v):
    assert v.content_hash == GOLDEN_HASH, "v1.json changed: ids must never drift; add a new version file"
    assert v.size == 23552 and v.size % 128 == 0
    for name, i in GOLDEN_IDS.items():
        assert v.special(name) == i
    assert {k: (r.start, r.size) for k, r in v.ranges.items()} == GOLDEN_RANGES


def test_every_task_and_modality_has_ids(v):
    assert set(v.tasks) == set(TASKS)
    assert len(set(v.tasks.values())) == len(TASKS)
    for m in MODALITIES:
        assert v.start_of(m) != v.end_of(m)


def test_no_overlaps_and_everything_inside(v):
    spans = [(r.start, r.stop, r.name) for r in v.ranges.values()]
    spans.append((0, 256, "specials"))
    for (a0, a1, an), (b0, b1, bn) in combinations(spans, 2):
        if an == "codec_special" or bn == "codec_special":
            continue  # <mask> is the first id of codec_special on purpose
        assert a1 <= b0 or b1 <= a0, f"{an} overlaps {bn}"
    assert max(stop for _, stop, _ in spans) <= v.size
    ids = list(v.specials.values())
    assert len(ids) == len(set(ids)), "two specials share an id"
    assert all(i < 256 for name, i in v.specials.items() if name != "<mask>")


def test_codebooks_leave_room_for_a_codec_upgrade(v):
    assert v.max_codebooks >= 12 and v.codebook_size == 1024
    assert v.codebook_range(11).stop <= v.range("codec").stop


@pytest.mark.parametrize("n_q", [1, 3, 8, 12])
def test_codec_round_trip(v, n_q):
    rng = np.random.default_rng(n_q)
    codes = rng.integers(0, 1024, size=(7, n_q))
    codes[2] = -1  # a masked frame
    glob = v.codec_to_global(codes)
    for k in range(n_q):
        col = glob[:, k][codes[:, k] >= 0]
        assert ((col >= v.codebook_range(k).start) & (col < v.codebook_range(k).stop)).all()
    assert (glob[2] == v.mask).all()
    assert np.array_equal(v.codec_to_local(glob), codes)


@pytest.mark.parametrize("modality", ["phone", "semantic", "sing_phone", "sing_midi", "text", "label"])
def test_discrete_round_trip_and_bounds(v, modality):
    size = v.range(modality).size
    local = np.array([0, 1, size - 1])
    assert np.array_equal(v.to_local(modality, v.to_global(modality, local)), local)
    with pytest.raises(ValueError):
        v.to_global(modality, [size])
    with pytest.raises(ValueError):
        v.to_local(modality, [v.range(modality).start - 1])


def test_codec_to_local_rejects_wrong_codebook(v):
    ids = v.codec_to_global([[5, 5, 5]])
    with pytest.raises(ValueError, match="codebook-1"):
        v.codec_to_local(ids[:, [0, 0, 2]])


def test_token_names(v):
    assert v.token_name(0) == "<pad>"
    assert v.token_name(v.codebook_range(2).start + 7) == "c2:7"
    assert v.token_name(v.range("phone").start + 3) == "phone:3"
    assert v.modality_of(v.mask) == "special"


def test_save_and_check(tmp_path, v):
    path = v.save(tmp_path)
    v.check_compatible(path)
    assert load_vocab(str(path)).content_hash == v.content_hash


def test_mismatched_version_fails_clearly(tmp_path, v):
    doc = json.loads((VOCAB_DIR / "v1.json").read_text())
    doc["ranges"]["phone"]["size"] = 512
    (tmp_path / "vocab.json").write_text(json.dumps(doc))
    with pytest.raises(VocabMismatchError, match="vocabulary"):
        v.check_compatible(tmp_path)
    doc["version"] = "v0"
    with pytest.raises(VocabMismatchError, match="v0"):
        v.check_compatible(doc)
    with pytest.raises(VocabMismatchError, match="unknown vocabulary version"):
        load_vocab("v99")
