"""Every dataset reader on a ``gs://`` root (the loopback GCS emulator): the same rows and problems as on
the local folder, rows pointing into the bucket, audio decoded from the bucket, stable fingerprints, a
changed object changing only its row, and the bad rows quarantined. The quarantine is a Delta table,
which cannot live on the emulator (tests/stores/test_delta_gcs.py), so the token store here is local:
what is proven is the gs:// *dataset root*."""

from __future__ import annotations

import json

import pytest

from pipelines.tokenize.quarantine import problems_table, quarantine_uri
from tests.stores.test_readers_s3 import READERS, _read, manifest, tone
from uniaudio.audio import read_audio
from uniaudio.stores import uri as uris
from uniaudio.stores.tables import QuarantineStore


@pytest.mark.parametrize("reader", sorted(READERS))
def test_reader_on_gcs_root_matches_local(reader, gcs_bucket, tmp_path):
    build, tasks = READERS[reader]
    local = tmp_path / "root"
    local.mkdir()
    options = build(local)
    remote = f"{gcs_bucket}/datasets/{reader}"
    uris.upload_dir(local, remote)
    want, got = _read(local, reader, tasks, options), _read(remote, reader, tasks, options)
    assert got.rows and [r.utt_id for r in got.rows] == [r.utt_id for r in want.rows]
    assert [(r.text, r.speaker, r.lyrics) for r in got.rows] == [(r.text, r.speaker, r.lyrics) for r in want.rows]
    assert sorted((p.utt_id, p.code) for p in got.problems) == sorted((p.utt_id, p.code) for p in want.problems)
    assert got.problems, "each fixture has a bad row"
    for r in got.rows:
        assert r.audio_uri.startswith(remote + "/") and all(u.startswith(remote + "/") for u in r.uris())
    wav, sr = read_audio(got.rows[0].audio_uri)  # decoded from the bucket
    assert sr == 16000 and wav.shape[-1] == 1600
    again = _read(remote, reader, tasks, options)  # a re-read (verified mirror) gives the same fingerprints
    assert [r.fingerprint for r in again.rows] == [r.fingerprint for r in got.rows]


def test_changed_object_changes_only_its_row_and_bad_rows_are_quarantined(gcs_bucket, tmp_path):
    local = tmp_path / "root"
    local.mkdir()
    manifest(local)
    tone(local / "w.wav")
    with (local / "manifest.jsonl").open("a") as f:
        f.write(json.dumps({"utt_id": "w", "audio": "w.wav"}) + "\n")
    remote = f"{gcs_bucket}/ds"
    uris.upload_dir(local, remote)
    first = {r.utt_id: r.fingerprint for r in _read(remote, "manifest", ["tts"], {}).rows}
    tone(tmp_path / "w2.wav", n=2400)  # re-recorded
    uris.put(f"{remote}/w.wav", (tmp_path / "w2.wav").read_bytes())
    res = _read(remote, "manifest", ["tts"], {})
    second = {r.utt_id: r.fingerprint for r in res.rows}
    assert first.keys() == second.keys() == {"x", "w"}
    assert [k for k in first if first[k] != second[k]] == ["w"]

    store = str(tmp_path / "tokens")
    QuarantineStore.writer(quarantine_uri(store)).append(problems_table(res.problems, "tv1", "run1"))
    q = QuarantineStore.open(quarantine_uri(store)).read(columns=["utt_id", "stage", "reason", "detail"])
    got = sorted((x["utt_id"], x["reason"], x["detail"] or "") for x in q.to_pylist())
    assert [g[:2] for g in got] == [("y", "missing_audio"), ("z", "path_escape")]
    assert [g[2].split(":")[:2] for g in got] == [["manifest.jsonl", "2"], ["manifest.jsonl", "3"]]  # file:line
