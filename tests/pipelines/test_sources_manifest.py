"""Contract types, dataset spec, fingerprints and the generic `manifest` reader (JSONL and CSV)."""

import json
import os

import numpy as np
import pytest

from pipelines.sources import (
    DatasetEntry,
    DatasetSpec,
    ManifestRow,
    fingerprint_row,
    load_dataset_spec,
    read_dataset,
    read_spec,
    reader_names,
)
from uniaudio.audio import write_audio
from uniaudio.config import ConfigError


def tone(path, freq=440.0, n=3200):
    write_audio(path, (0.1 * np.sin(2 * np.pi * freq * np.arange(n) / 16000)).astype("float32"))


def entry(root, reader="manifest", **options):
    return DatasetEntry(name="ds", reader=reader, root=str(root), tasks=["tts"], options=options)


def write_jsonl(path, records):
    with open(path, "w") as f:
        for r in records:
            f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "ds"
    for name in ("a", "b", "clean", "noise"):
        tone(root / "wav" / f"{name}.wav")
    (root / "notes.mid").write_bytes(b"MThd")
    tone(tmp_path / "outside.wav")
    return root


def test_manifest_row_round_trip_and_validation():
    row = ManifestRow("d", "u", "/x.wav", 0.5, 1.5, text="t", paired={"clean": "/c.wav"}, extra={"seed": 3})
    assert ManifestRow.from_dict(row.to_dict()) == row
    d = row.to_dict() | {"paired": json.dumps({"clean": "/c.wav"}), "extra": "{\"seed\": 3}"}
    assert ManifestRow.from_dict(d) == row  # Arrow/CSV style JSON-string columns
    assert row.duration_s == 1.0 and row.uris() == ["/x.wav", "/c.wav"]
    with pytest.raises(ValueError, match="start_s"):
        ManifestRow("d", "u", "/x.wav", start_s=float("nan"))
    with pytest.raises(ValueError, match="unknown"):
        ManifestRow.from_dict({"dataset": "d", "utt_id": "u", "audio_uri": "/x", "bogus": 1})


def test_jsonl_rows_problems_and_paths(corpus, tmp_path):
    os.symlink(tmp_path / "outside.wav", corpus / "wav" / "link_out.wav")
    os.symlink(corpus / "wav" / "b.wav", corpus / "wav" / "link_in.wav")
    write_jsonl(corpus / "manifest.jsonl", [
        {"utt_id": "a", "audio": "wav/a.wav", "text": "hello", "speaker": 19, "start_s": 0.0, "end_s": 0.1},
        {"utt_id": "pair", "audio": "wav/a.wav", "paired": {"clean": "wav/clean.wav", "noise": "wav/noise.wav"},
         "extra": {"seed": 7, "snr_db": 3.5}, "notes": "notes.mid"},
        {"utt_id": "in_link", "audio": "wav/link_in.wav"},
        {"utt_id": "a", "audio": "wav/b.wav"},                       # duplicate id
        {"utt_id": "esc1", "audio": "../outside.wav"},                # `..` escape
        {"utt_id": "esc2", "audio": str(tmp_path / "outside.wav")},   # absolute outside root
        {"utt_id": "esc3", "audio": "wav/link_out.wav"},              # symlink pointing outside
        {"utt_id": "gone", "audio": "wav/missing.wav"},
        {"utt_id": "badpair", "audio": "wav/a.wav", "paired": {"clean": "wav/nope.wav"}},
        {"utt_id": "typo", "audio": "wav/a.wav", "txt": "x"},
        {"utt_id": "seg", "audio": "wav/a.wav", "start_s": 2, "end_s": 1},
        {"utt_id": "has space", "audio": "wav/a.wav"},
        {"audio": "wav/a.wav"},
        '{"utt_id": "nan", "audio": "wav/a.wav", "extra": {"x": NaN}}',  # json.loads accepts NaN
        "{not json",
        "[1, 2]",
    ])
    res = read_dataset(entry(corpus))
    assert [r.utt_id for r in res.rows] == ["a", "pair", "in_link"]
    a, pair, _ = res.rows
    assert a.audio_uri == str(corpus / "wav" / "a.wav") and a.speaker == "19" and a.end_s == 0.1
    assert pair.paired == {"clean": str(corpus / "wav" / "clean.wav"), "noise": str(corpus / "wav" / "noise.wav")}
    assert pair.extra == {"seed": 7, "snr_db": 3.5} and pair.notes_uri == str(corpus / "notes.mid")
    assert all(r.dataset == "ds" and len(r.fingerprint) == 64 for r in res.rows)
    got = {(p.utt_id, p.code) for p in res.problems}
    assert got == {("a", "duplicate_id"), ("esc1", "path_escape"), ("esc2", "path_escape"), ("esc3", "path_escape"),
                   ("gone", "missing_audio"), ("badpair", "missing_audio"), ("typo", "unknown_field"),
                   ("seg", "bad_segment"), ("has space", "bad_id"), (None, "bad_id"), ("nan", "bad_field"),
                   (None, "malformed_line")}
    assert len(res.problems) == 13  # both malformed lines
    dup = next(p for p in res.problems if p.code == "duplicate_id")
    assert dup.where == "manifest.jsonl:4" and "manifest.jsonl:1" in dup.reason and dup.dataset == "ds"
    assert res.problem_counts()["path_escape"] == 3


def test_csv_manifest_and_unknown_fields_to_extra(corpus):
    (corpus / "list.csv").write_text(
        "utt_id,audio,text,paired,extra,duration\n"
        "a,wav/a.wav,hi there,,\"{\"\"k\"\": 1}\",1.0\n"
        "b,wav/b.wav,,\"{\"\"clean\"\": \"\"wav/clean.wav\"\"}\",,2.0\n"
        "c,wav/a.wav,too,many,cells,here,x\n"
        "d,wav/a.wav,x,{bad json,,3\n"
    )
    res = read_dataset(entry(corpus, file="list.csv", unknown_fields="extra"))
    assert [r.utt_id for r in res.rows] == ["a", "b"]
    assert res.rows[0].extra == {"k": 1, "duration": "1.0"} and res.rows[0].text == "hi there"
    assert res.rows[1].text is None and res.rows[1].paired == {"clean": str(corpus / "wav" / "clean.wav")}
    assert [(p.utt_id, p.code, p.where) for p in res.problems] == [
        (None, "malformed_line", "list.csv:4"), ("d", "bad_field", "list.csv:5")]
    strict = read_dataset(entry(corpus, file="list.csv", require_text=True))
    assert strict.rows == [] and {p.code for p in strict.problems} >= {"unknown_field"}


def test_fingerprint_stable_and_changes_only_for_the_edited_row(corpus):
    write_jsonl(corpus / "manifest.jsonl", [
        {"utt_id": "a", "audio": "wav/a.wav", "text": "one"},
        {"utt_id": "b", "audio": "wav/b.wav", "text": "two"},
        {"utt_id": "p", "audio": "wav/a.wav", "paired": {"clean": "wav/clean.wav"}},
    ])
    fp = lambda **o: {r.utt_id: r.fingerprint for r in read_dataset(entry(corpus, **o)).rows}  # noqa: E731
    first = fp()
    assert fp() == first  # stable across reads
    # Transcript edit: only that row changes.
    write_jsonl(corpus / "manifest.jsonl", [
        {"utt_id": "a", "audio": "wav/a.wav", "text": "one"},
        {"utt_id": "b", "audio": "wav/b.wav", "text": "two!"},
        {"utt_id": "p", "audio": "wav/a.wav", "paired": {"clean": "wav/clean.wav"}},
    ])
    second = fp()
    assert second["b"] != first["b"] and second["a"] == first["a"] and second["p"] == first["p"]
    # Rewriting a paired audio file (same size, new content, new mtime) changes only the row using it.
    clean = corpus / "wav" / "clean.wav"
    st = os.stat(clean)
    tone(clean, freq=880.0)
    os.utime(clean, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = fp()
    assert third["p"] != second["p"] and {k: third[k] for k in "ab"} == {k: second[k] for k in "ab"}
    # Same size and mtime but different bytes: the stat policy cannot see it, the content policy can.
    content_before = fp(fingerprint="content")
    mtime = os.stat(clean).st_mtime_ns
    tone(clean, freq=1234.0)
    os.utime(clean, ns=(mtime, mtime))
    assert fp() == third
    content_after = fp(fingerprint="content")
    assert content_after["p"] != content_before["p"] and content_after["a"] == content_before["a"]
    assert content_before["a"] != third["a"]  # the policy itself is part of the hash


def test_fingerprint_covers_every_field():
    base = ManifestRow("d", "u", "/nonexistent.wav", text="t", extra={"seed": 1})
    variants = [base.__class__(**{**base.to_dict(), k: v}) for k, v in
                [("text", "t2"), ("speaker", "s"), ("start_s", 0.1), ("extra", {"seed": 2}),
                 ("paired", {"clean": "/c.wav"}), ("caption", "c"), ("dataset", "e")]]
    fps = {fingerprint_row(r) for r in [base, *variants]}
    assert len(fps) == len(variants) + 1


def test_spec_loading_roots_and_errors(corpus, tmp_path):
    write_jsonl(corpus / "manifest.jsonl", [{"utt_id": "a", "audio": "wav/a.wav"}])
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text("datasets:\n  - {name: ds, reader: manifest, root: ds, tasks: [tts, vc],"
                         " options: {fingerprint: content}}\n")
    spec = load_dataset_spec(spec_file)
    assert spec.datasets[0].root == str(corpus)
    res = read_spec(spec)
    assert [r.utt_id for r in res.rows] == ["a"] and res.summary().startswith("1 rows, 0 problems")
    with pytest.raises(ConfigError) as err:
        DatasetEntry(name="x", reader="kaldy", root="/r", tasks=["tts"])
    assert "kaldy" in str(err.value) and all(n in str(err.value) for n in reader_names())
    with pytest.raises(ConfigError, match="fingerprnt"):
        DatasetEntry(name="x", reader="manifest", root="/r", tasks=["tts"], options={"fingerprnt": "content"})
    with pytest.raises(ConfigError, match="repeated: x"):
        DatasetSpec(datasets=[dict(name="x", reader="manifest", root="/r", tasks=["tts"])] * 2)
    spec_file.write_text("datasets:\n  - {name: ds, reader: nope, root: ds, tasks: [tts]}\n")
    with pytest.raises(ConfigError, match="accepted readers: aishell3, captions, kaldi"):
        load_dataset_spec(spec_file)
    with pytest.raises(ConfigError, match="not a folder"):
        read_dataset(DatasetEntry(name="x", reader="manifest", root=str(tmp_path / "nope"), tasks=["tts"]))
    with pytest.raises(ConfigError, match="no manifest.jsonl"):
        read_dataset(DatasetEntry(name="x", reader="manifest", root=str(tmp_path), tasks=["tts"]))


def test_probe_audio_reports_unreadable_files_and_overlong_segments(corpus):
    (corpus / "wav" / "corrupt.wav").write_bytes(b"RIFF....WAVEjunkjunk")
    write_jsonl(corpus / "manifest.jsonl", [
        {"utt_id": "ok", "audio": "wav/a.wav", "end_s": 0.2},
        {"utt_id": "corrupt", "audio": "wav/corrupt.wav"},
        {"utt_id": "long", "audio": "wav/a.wav", "start_s": 0.0, "end_s": 5.0},  # file is 0.2 s
    ])
    lazy = read_dataset(entry(corpus))
    assert [r.utt_id for r in lazy.rows] == ["ok", "corrupt", "long"]  # default: no decoding at read time
    res = read_dataset(entry(corpus, probe_audio=True))
    assert [r.utt_id for r in res.rows] == ["ok"]
    assert [(p.utt_id, p.code) for p in res.problems] == [("corrupt", "unreadable_audio"), ("long", "bad_segment")]
