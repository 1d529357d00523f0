"""The `kaldi` reader on a real Kaldi data dir: wav.scp / text / utt2spk / segments."""

import os

import numpy as np
import pytest

from pipelines.sources import DatasetEntry, read_dataset
from uniaudio.audio import write_audio
from uniaudio.config import ConfigError


def tone(path, freq=440.0, n=3200):
    write_audio(path, (0.1 * np.sin(2 * np.pi * freq * np.arange(n) / 16000)).astype("float32"))


def read(root, **options):
    return read_dataset(DatasetEntry(name="kd", reader="kaldi", root=str(root), tasks=["tts"], options=options))


def codes(res):
    return sorted(((p.utt_id or ""), p.code) for p in res.problems)


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "corpus"
    for name in ("r1", "r2", "r3"):
        tone(root / "audio" / f"{name}.flac")
    tone(tmp_path / "elsewhere.wav")
    d = root / "data" / "train"
    d.mkdir(parents=True)
    return root, d


def test_plain_wav_scp(corpus, tmp_path):
    root, d = corpus
    (d / "wav.scp").write_text(
        f"u1 {root}/audio/r1.flac\n"            # absolute, inside the root
        "u2 audio/r2.flac\n"                   # relative to the root
        "u3 sox audio/r3.flac -t wav - |\n"    # pipe: reported, never executed
        f"u4 {tmp_path}/elsewhere.wav\n"        # absolute outside the root
        "u5 audio/none.flac\n"                 # missing file
        "u6 audio/r3.flac\n"                   # no transcript
        "u7\n"                                 # malformed
        "u1 audio/r3.flac\n"                   # duplicate key
        "u8 ../elsewhere.wav\n"                # `..` escape
        "u9 data/ark.ark:1234\n"               # ark offset
    )
    (d / "text").write_text("u1 HELLO WORLD\nu2 SECOND ONE\nu3 PIPED\nu4 OUT\nu5 GONE\nu8 ESC\nu9 ARK\nghost NO AUDIO\n")
    (d / "utt2spk").write_text("u1 spkA\nu2 spkB\n")
    res = read(root, data_dir="data/train")
    assert [(r.utt_id, r.text, r.speaker) for r in res.rows] == [("u1", "HELLO WORLD", "spkA"), ("u2", "SECOND ONE", "spkB")]
    assert res.rows[1].audio_uri == str(root / "audio" / "r2.flac") and res.rows[0].start_s is None
    assert codes(res) == sorted([
        ("u3", "unsupported_wav_scp"), ("u4", "path_escape"), ("u5", "missing_audio"), ("u6", "missing_transcript"),
        ("u7", "malformed_line"), ("u1", "duplicate_id"), ("u8", "path_escape"), ("u9", "unsupported_wav_scp"),
        ("ghost", "missing_audio")])
    pipe = next(p for p in res.problems if p.utt_id == "u3")
    assert pipe.where == "data/train/wav.scp:3" and "not executed" in pipe.reason
    # Without the transcript requirement u6 is kept (with no text).
    assert "u6" in [r.utt_id for r in read(root, data_dir="data/train", require_text=False).rows]
    # ...and with the speaker requirement, rows without utt2spk lines are reported.
    strict = read(root, data_dir="data/train", require_text=False, require_speaker=True)
    assert [p.utt_id for p in strict.problems if p.code == "missing_speaker"] == ["u6"]


def test_segments(corpus):
    root, d = corpus
    (d / "wav.scp").write_text("rec1 audio/r1.flac\nrec2 audio/missing.flac\n")
    (d / "segments").write_text(
        "s1 rec1 0.00 0.10\n"
        "s2 rec1 0.10 -1\n"        # to the end of the recording
        "s3 rec1 0.15 0.05\n"      # end before start
        "s4 recX 0.0 0.1\n"        # unknown recording
        "s5 rec1 zero 0.1\n"       # not numbers
        "s6 rec2 0.0 0.1\n"        # recording whose file is missing
        "s7 rec2 0.1 0.2\n"        # ...a second segment of it is reported too
        "s8 rec1 nan inf\n"        # parse as floats, but are not times
    )
    (d / "text").write_text("".join(f"s{i} WORDS {i}\n" for i in range(1, 9)))
    (d / "utt2spk").write_text("s1 a\ns2 a\n")
    res = read(root, data_dir="data/train")
    assert [(r.utt_id, r.start_s, r.end_s, r.audio_uri) for r in res.rows] == [
        ("s1", 0.0, 0.1, str(root / "audio" / "r1.flac")), ("s2", 0.1, None, str(root / "audio" / "r1.flac"))]
    assert codes(res) == sorted([("s3", "bad_segment"), ("s4", "missing_audio"), ("s5", "malformed_line"),
                                 ("rec2", "missing_audio"), ("s6", "missing_audio"), ("s7", "missing_audio"),
                                 ("s8", "malformed_line")])
    fps = [r.fingerprint for r in res.rows]
    assert len(set(fps)) == 2 and fps == [r.fingerprint for r in read(root, data_dir="data/train").rows]
    # Editing one transcript changes exactly that segment's fingerprint.
    (d / "text").write_text((d / "text").read_text().replace("WORDS 2", "WORDS TWO"))
    again = read(root, data_dir="data/train").rows
    assert again[0].fingerprint == fps[0] and again[1].fingerprint != fps[1]


def test_missing_wav_scp_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no wav.scp"):
        read(tmp_path)
    (tmp_path / "wav.scp").write_text("")
    with pytest.raises(ConfigError, match="no `text` file"):
        read(tmp_path)
    assert read(tmp_path, require_text=False).rows == []


def test_symlinked_audio_outside_root(corpus, tmp_path):
    root, d = corpus
    os.symlink(tmp_path / "elsewhere.wav", root / "audio" / "sneaky.wav")
    (d / "wav.scp").write_text("u1 audio/sneaky.wav\nu2 audio/r2.flac\n")
    (d / "text").write_text("u1 A\nu2 B\n")
    res = read(root, data_dir="data/train")
    assert [r.utt_id for r in res.rows] == ["u2"] and codes(res) == [("u1", "path_escape")]
