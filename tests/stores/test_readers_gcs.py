"""Readers on a ``gs://`` root (the loopback GCS emulator) beyond what tests/stores/test_readers_s3.py
checks on both stores (every reader: same rows and problems as local): a changed object changes only its
row, and the bad rows are quarantined. The quarantine is a Delta table,
which cannot live on the emulator (tests/stores/test_delta_gcs.py), so the token store here is local:
what is proven is the gs:// *dataset root*."""

from __future__ import annotations

import json

from pipelines.tokenize.quarantine import problems_table, quarantine_uri
from tests.stores.test_readers_s3 import _read, manifest, tone
from uniaudio.stores import uri as uris
from uniaudio.stores.tables import QuarantineStore


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
