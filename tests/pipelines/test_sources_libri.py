"""The `libritts` reader on LibriTTS- and LibriSpeech-shaped folders."""

import os

import numpy as np

from pipelines.sources import DatasetEntry, read_dataset
from uniaudio.audio import write_audio


def tone(path, freq=440.0, n=3200):
    write_audio(path, (0.1 * np.sin(2 * np.pi * freq * np.arange(n) / 16000)).astype("float32"))


def read(root, **options):
    return read_dataset(DatasetEntry(name="lt", reader="libritts", root=str(root), tasks=["tts"], options=options))


def codes(res):
    return sorted(((p.utt_id or ""), p.code) for p in res.problems)


def test_libritts_layout(tmp_path):
    root = tmp_path / "LibriTTS"
    ch = root / "train-clean-100" / "19" / "198"
    for i in range(4):
        tone(ch / f"19_198_000000_00000{i}.wav", freq=300 + 50 * i)
    for i in (0, 1):
        (ch / f"19_198_000000_00000{i}.normalized.txt").write_text(f"Normalized text {i}.")
        (ch / f"19_198_000000_00000{i}.original.txt").write_text(f"Original TEXT {i}!")
    (ch / "19_198_000000_000002.normalized.txt").write_text("   \n")  # broken: empty transcript
    # utterance 3 has no per-utterance transcript but a line in the chapter's trans.tsv
    (ch / "19_198.trans.tsv").write_text(
        "19_198_000000_000003\tOrig three\tNorm three\n"
        "19_198_000000_000009\tOrig nine\tNorm nine\n"  # no audio for this line
        "malformed-line-without-tabs\n"
    )
    ch2 = root / "train-clean-100" / "26" / "495"
    tone(ch2 / "26_495_000004_000000.wav")  # no transcript at all
    res = read(root)
    assert [(r.utt_id, r.text, r.speaker) for r in res.rows] == [
        ("19_198_000000_000000", "Normalized text 0.", "19"),
        ("19_198_000000_000001", "Normalized text 1.", "19"),
        ("19_198_000000_000003", "Norm three", "19")]
    assert codes(res) == sorted([("19_198_000000_000002", "missing_transcript"),
                                 ("19_198_000000_000009", "missing_audio"),
                                 ("malformed-line-without-tabs", "malformed_line"),
                                 ("26_495_000004_000000", "missing_transcript")])
    orig = read(root, text="original")
    assert orig.rows[0].text == "Original TEXT 0!" and orig.rows[-1].text == "Orig three"
    assert len(read(root, require_text=False).rows) == 4  # the transcript-less one kept; the empty file is still bad


def test_librispeech_layout_fingerprint_and_escape(tmp_path):
    root = tmp_path / "LibriSpeech"
    ch = root / "dev-clean" / "84" / "121123"
    for i in range(3):
        tone(ch / f"84-121123-000{i}.flac", freq=200 + 100 * i)
    (ch / "84-121123.trans.txt").write_text(
        "84-121123-0000 GO DO YOU HEAR\n84-121123-0001 BUT IN LESS THAN FIVE MINUTES\n"
        "84-121123-0002 AT THIS MOMENT\n84-121123-0007\n")  # last line: no transcript, no audio
    # A duplicate stem in another subset, and a symlinked folder leaving the root.
    tone(root / "test-clean" / "84" / "121123" / "84-121123-0000.flac")
    (root / "test-clean" / "84" / "121123" / "84-121123.trans.txt").write_text("84-121123-0000 AGAIN\n")
    tone(tmp_path / "outside" / "9" / "9" / "9-9-0000.flac")
    os.symlink(tmp_path / "outside", root / "linked")
    res = read(root)
    assert [(r.utt_id, r.speaker, r.text) for r in res.rows] == [
        ("84-121123-0000", "84", "GO DO YOU HEAR"), ("84-121123-0001", "84", "BUT IN LESS THAN FIVE MINUTES"),
        ("84-121123-0002", "84", "AT THIS MOMENT")]
    assert codes(res) == sorted([("84-121123-0007", "malformed_line"), ("84-121123-0000", "duplicate_id"),
                                 ("", "path_escape")])
    first = {r.utt_id: r.fingerprint for r in res.rows}
    # Re-record one utterance: only its fingerprint changes.
    target = ch / "84-121123-0001.flac"
    st = os.stat(target)
    tone(target, freq=999.0)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    second = {r.utt_id: r.fingerprint for r in read(root).rows}
    assert [k for k in first if first[k] != second[k]] == ["84-121123-0001"]
