"""Every dataset reader on an ``s3://`` and a ``gs://`` root: the same rows and problems as on the local
folder, rows pointing into the bucket, audio decoded from the bucket, stable fingerprints, and a bad row
quarantined in an S3 token store's quarantine (on GCS: tests/stores/test_readers_gcs.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipelines.sources import DatasetEntry, read_dataset
from pipelines.tokenize.quarantine import problems_table, quarantine_uri
from uniaudio.audio import read_audio, write_audio
from uniaudio.stores import uri as uris
from uniaudio.stores.tables import QuarantineStore


def tone(path, n=1600):
    write_audio(path, (0.1 * np.sin(np.arange(n) / 5.0)).astype("float32"))


def libritts(root):
    ch = root / "train" / "19" / "198"
    for i in range(3):
        tone(ch / f"19_198_{i}.wav")
    (ch / "19_198_0.normalized.txt").write_text("Text zero.")
    (ch / "19_198_1.normalized.txt").write_text("Text one.")  # 19_198_2: no transcript -> a problem
    return {}


def vctk(root):
    for stem, text in (("p225_001_mic1", "Please call Stella."), ("p225_002_mic1", None)):
        tone(root / "wav48_silence_trimmed" / "p225" / f"{stem}.flac")
        if text:
            (root / "txt" / "p225").mkdir(parents=True, exist_ok=True)
            (root / "txt" / "p225" / f"{stem[:-5]}.txt").write_text(text)
    return {}


def kaldi(root):
    tone(root / "wav" / "a.wav")
    tone(root / "wav" / "b.wav")
    d = root / "data"
    d.mkdir()
    (d / "wav.scp").write_text("a wav/a.wav\nb wav/b.wav\nc wav/missing.wav\n")
    (d / "text").write_text("a hello there\nb general kenobi\nc nothing\n")
    (d / "utt2spk").write_text("a s1\nb s2\nc s3\n")
    return {"data_dir": "data"}


def manifest(root):
    tone(root / "x.wav")
    lines = [{"utt_id": "x", "audio": "x.wav", "text": "hi"}, {"utt_id": "y", "audio": "gone.wav"},
             {"utt_id": "z", "audio": "../escape.wav"}]
    (root / "manifest.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return {}


def captions(root):
    tone(root / "clips" / "c1.wav")
    (root / "captions.csv").write_text("audio,caption\nclips/c1.wav,a dog barks\nclips/c2.wav,rain\n")
    return {}


def singing(root):
    tone(root / "s1.wav")
    (root / "s1.txt").write_text("la la")
    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(0)
    inst.notes.append(pretty_midi.Note(velocity=80, pitch=60, start=0.0, end=0.1))
    pm.instruments.append(inst)
    pm.write(str(root / "s1.mid"))
    tone(root / "s2.wav")  # no lyrics, no notes -> problems
    return {}


READERS = {"libritts": (libritts, ["tts"]), "vctk": (vctk, ["tts"]), "kaldi": (kaldi, ["tts"]),
           "manifest": (manifest, ["tts"]), "captions": (captions, ["text_to_sound"]), "singing": (singing, ["svs"])}


def _read(root, reader, tasks, options):
    return read_dataset(DatasetEntry(name="d", reader=reader, root=str(root), tasks=tasks, options=options))


@pytest.mark.parametrize("reader", sorted(READERS))
def test_reader_on_a_bucket_root_matches_local(reader, remote_bucket, tmp_path):
    build, tasks = READERS[reader]
    local = tmp_path / "root"
    local.mkdir()
    options = build(local)
    remote = f"{remote_bucket}/datasets/{reader}"
    uris.upload_dir(local, remote)
    want, got = _read(local, reader, tasks, options), _read(remote, reader, tasks, options)
    assert got.rows and [r.utt_id for r in got.rows] == [r.utt_id for r in want.rows]
    assert [(r.text, r.speaker, r.lyrics) for r in got.rows] == [(r.text, r.speaker, r.lyrics) for r in want.rows]
    assert sorted((p.utt_id, p.code) for p in got.problems) == sorted((p.utt_id, p.code) for p in want.problems)
    assert got.problems, "each fixture has a bad row"
    for p in got.problems:  # reasons name the bucket root, never the node-local mirror behind it
        assert str(uris.cache_dir()) not in p.reason, p.reason
    if reader == "manifest":
        assert any(p.code == "path_escape" and f"outside the dataset root {remote}" in p.reason for p in got.problems)
    for r in got.rows:
        assert r.audio_uri.startswith(remote + "/") and all(u.startswith(remote + "/") for u in r.uris())
    wav, sr = read_audio(got.rows[0].audio_uri)  # decoded from the bucket
    assert sr == 16000 and wav.shape[-1] == 1600
    again = _read(remote, reader, tasks, options)  # a re-read (verified mirror) gives the same fingerprints
    assert [r.fingerprint for r in again.rows] == [r.fingerprint for r in got.rows]


def test_changed_object_changes_only_its_row_and_bad_row_is_quarantined(s3_bucket, tmp_path):
    local = tmp_path / "root"
    local.mkdir()
    manifest(local)
    tone(local / "w.wav")
    with (local / "manifest.jsonl").open("a") as f:
        f.write(json.dumps({"utt_id": "w", "audio": "w.wav"}) + "\n")
    remote = f"{s3_bucket}/ds"
    uris.upload_dir(local, remote)
    first = {r.utt_id: r.fingerprint for r in _read(remote, "manifest", ["tts"], {}).rows}
    tone(tmp_path / "w2.wav", n=2400)  # re-recorded: another size (S3 mtimes have 1 s resolution)
    uris.put(f"{remote}/w.wav", (tmp_path / "w2.wav").read_bytes())
    res = _read(remote, "manifest", ["tts"], {})
    second = {r.utt_id: r.fingerprint for r in res.rows}
    assert first.keys() == second.keys() == {"x", "w"}
    assert [k for k in first if first[k] != second[k]] == ["w"]

    store = f"{s3_bucket}/tokens"
    QuarantineStore.writer(quarantine_uri(store)).append(problems_table(res.problems, "tv1", "run1"))
    q = QuarantineStore.open(quarantine_uri(store)).read(columns=["utt_id", "stage", "reason"]).to_pylist()
    assert sorted((x["utt_id"], x["reason"]) for x in q) == [("y", "missing_audio"), ("z", "path_escape")]
