"""The `vctk` reader on VCTK 0.92 (flac, two mics) and 0.80 (wav48) layouts."""

import os

import numpy as np
import pytest

from pipelines.sources import DatasetEntry, read_dataset
from uniaudio.audio import write_audio
from uniaudio.config import ConfigError


def tone(path, freq=440.0, n=3200):
    write_audio(path, (0.1 * np.sin(2 * np.pi * freq * np.arange(n) / 16000)).astype("float32"))


def read(root, **options):
    return read_dataset(DatasetEntry(name="vctk", reader="vctk", root=str(root), tasks=["tts"], options=options))


def codes(res):
    return sorted(((p.utt_id or ""), p.code) for p in res.problems)


def test_vctk_092(tmp_path):
    root = tmp_path / "VCTK-Corpus-0.92"
    for spk, n in (("p225", 2), ("p315", 1)):
        for i in range(1, n + 1):
            for mic in ("mic1", "mic2"):
                tone(root / "wav48_silence_trimmed" / spk / f"{spk}_00{i}_{mic}.flac")
    (root / "txt" / "p225").mkdir(parents=True)
    (root / "txt" / "p225" / "p225_001.txt").write_text("Please call Stella.\n")
    (root / "txt" / "p225" / "p225_002.txt").write_bytes(b"\xff\xfe bad bytes")  # broken: not UTF-8
    (root / "txt" / "p225" / "p225_003.txt").write_text("No audio for me.")
    res = read(root)
    assert [(r.utt_id, r.speaker, r.text, r.extra) for r in res.rows] == [
        ("p225_001_mic1", "p225", "Please call Stella.", {"mic": "mic1"})]
    assert codes(res) == sorted([("p225_002_mic1", "malformed_line"),
                                 ("p315_001_mic1", "missing_transcript"), ("p225_003", "missing_audio")])
    both = read(root, mic="both", require_text=False)
    assert [r.utt_id for r in both.rows] == ["p225_001_mic1", "p225_001_mic2", "p315_001_mic1", "p315_001_mic2"]
    assert both.rows[2].text is None


def test_vctk_080_and_escape(tmp_path):
    root = tmp_path / "VCTK-Corpus"
    tone(root / "wav48" / "p226" / "p226_001.wav")
    tone(root / "wav48" / "p226" / "p226_002.wav")
    tone(tmp_path / "stolen.wav")
    os.symlink(tmp_path / "stolen.wav", root / "wav48" / "p226" / "p226_003.wav")
    (root / "txt" / "p226").mkdir(parents=True)
    for i in (1, 2, 3):
        (root / "txt" / "p226" / f"p226_00{i}.txt").write_text(f"Sentence {i}.")
    res = read(root)
    assert [r.utt_id for r in res.rows] == ["p226_001", "p226_002"] and res.rows[0].extra == {}
    assert codes(res) == [("p226_003", "path_escape")]
    fps = [r.fingerprint for r in res.rows]
    (root / "txt" / "p226" / "p226_002.txt").write_text("Sentence two, edited.")
    again = [r.fingerprint for r in read(root).rows]
    assert again[0] == fps[0] and again[1] != fps[1]
    with pytest.raises(ConfigError, match="no audio folder"):
        read(tmp_path / "VCTK-Corpus" / "txt")
