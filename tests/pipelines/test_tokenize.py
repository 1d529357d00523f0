"""End to end on a tiny corpus against a real local Ray: good rows arrive with every modality the
dataset's tasks need, bad rows land in the quarantine with their reasons, the run is logged to MLflow,
an unchanged re-run does nothing, and the table is readable with plain pyarrow (no project code)."""

import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from uniaudio.stores import delta
from uniaudio.stores.schema import unpack_f16
from pipelines.tokenize import TokenizeConfig, run_tokenize
from pipelines.tokenize.quarantine import quarantine_uri

pytestmark = pytest.mark.integration

GOOD_SPEECH = {"u0", "u1", "u2", "u3"}


def build_corpus(tmp: Path, tools) -> Path:
    tone, write_dataset, write_spec = tools["tone"], tools["write_dataset"], tools["write_spec"]
    speech = [
        {"utt_id": "u0", "audio": "u0.wav", "text": "hello world", "speaker": "s0"},
        {"utt_id": "u1", "audio": "u1.wav", "text": "good morning to you", "speaker": "s0"},
        {"utt_id": "u2", "audio": "u2.wav", "text": "the cat sat", "speaker": "s1"},
        {"utt_id": "u3", "audio": "u3.wav", "text": "a stereo file", "speaker": "s1", "start_s": 0.2, "end_s": 1.4},
        {"utt_id": "bad", "audio": "bad.wav", "text": "corrupt", "speaker": "s0"},
        {"utt_id": "gone", "audio": "gone.wav", "text": "missing", "speaker": "s0"},
        {"utt_id": "quiet", "audio": "quiet.wav", "text": "silent", "speaker": "s0"},
        {"utt_id": "short", "audio": "short.wav", "text": "too short", "speaker": "s0"},
        {"utt_id": "multi", "audio": "multi.wav", "text": "three channels", "speaker": "s0"},
    ]
    write_dataset(tmp / "speech", speech, {
        "u0.wav": (tone(1.0, 22050, seed=0), 22050), "u1.wav": (tone(1.3, 16000, 300, seed=1), 16000),
        "u2.wav": (tone(0.9, 44100, 180, seed=2), 44100), "u3.wav": (tone(1.5, 48000, 250, seed=3, channels=2), 48000),
        "bad.wav": b"RIFF\x00\x00 this is not audio", "quiet.wav": (np.zeros(16000, "float32"), 16000),
        "short.wav": (tone(0.2, seed=4), 16000), "multi.wav": (tone(1.0, seed=5, channels=3), 16000),
    })
    pairs = [{"utt_id": f"p{i}", "audio": f"p{i}.wav", "paired": {"source": f"p{i}.noisy.wav"}} for i in range(2)]
    write_dataset(tmp / "pairs", pairs, {
        **{f"p{i}.wav": (tone(1.0, seed=10 + i), 16000) for i in range(2)},
        **{f"p{i}.noisy.wav": (tone(1.5, seed=20 + i, level=0.4), 16000) for i in range(2)},
    })
    sfx = [{"utt_id": "c0", "audio": "c0.wav", "caption": "a dog barks twice"},
           {"utt_id": "c1", "audio": "c1.wav"}]  # no caption: can serve none of its tasks
    write_dataset(tmp / "sfx", sfx, {"c0.wav": (tone(1.0, freq=900, seed=30), 16000),
                                     "c1.wav": (tone(1.0, freq=700, seed=31), 16000)})
    return write_spec(tmp / "spec.yaml", [
        {"name": "speech", "root": "speech", "tasks": ["tts", "asr"]},
        {"name": "pairs", "root": "pairs", "tasks": ["se"]},
        {"name": "sfx", "root": "sfx", "tasks": ["text_to_sound"]},
    ])


def small_cfg(tmp: Path, mlflow: bool = False, **over) -> TokenizeConfig:
    data = {"commit": {"chunk_rows": 3}, "ray": {"block_rows": 2}, "codec_pool": {"batch_rows": 4},
            "mlflow": {"enabled": mlflow, "tracking_uri": f"sqlite:///{tmp}/mlflow.db"}}
    for k, v in over.items():
        data.setdefault(k, {}).update(v)
    return TokenizeConfig(**data)


def read_with_plain_pyarrow(uri: str) -> pa.Table:
    """The Delta protocol by hand: replay add/remove actions of _delta_log, read the live Parquet files,
    add the partition column from the log. Proves the table needs no project code (and no deltalake)."""
    live: dict[str, dict] = {}
    for log in sorted(Path(uri, "_delta_log").glob("*.json")):
        for line in log.read_text().splitlines():
            action = json.loads(line)
            if "add" in action:
                live[action["add"]["path"]] = action["add"]["partitionValues"]
            elif "remove" in action:
                live.pop(action["remove"]["path"], None)
    parts = []
    for path, pvals in sorted(live.items()):
        t = pq.read_table(Path(uri) / path)
        for col, val in pvals.items():
            t = t.append_column(col, pa.array([val] * t.num_rows, pa.string()))
        parts.append(t)
    return pa.concat_tables(parts, promote_options="default")


def test_end_to_end_quarantine_mlflow_and_plain_read(tmp_path, ray_session, tiny_codec, corpus_tools):
    spec = build_corpus(tmp_path, corpus_tools)
    store = str(tmp_path / "tokens")
    s = run_tokenize(str(spec), store, tiny_codec, small_cfg(tmp_path, mlflow=True))

    # counts: 9 + 2 + 2 manifest rows, 1 of them ("gone") rejected by the reader
    assert (s.rows_in, s.rows_todo, s.rows_out) == (13, 12, 7)
    assert s.rows_quarantined == 6 and s.commits >= 2
    assert s.per_dataset["speech"]["out"] == 4 and s.per_dataset["pairs"]["out"] == 2
    from uniaudio.stores.lineage import read_lineage

    lin = read_lineage(store)  # what training copies into the model, so generation finds codec + tokenizers
    assert lin["tokenizer_version"] == s.tokenizer_version and lin["tokens_version"] == s.table_version
    assert lin["codec_hash"] and Path(lin["codec_dir"]).is_dir() and "codec" in lin["tokenizers"]
    assert s.per_dataset["sfx"]["quarantined"] == 1

    rows = {r["utt_id"]: r for r in delta.read_table(store).to_pylist()}
    assert set(rows) == GOOD_SPEECH | {"p0", "p1", "c0"}
    for r in rows.values():
        assert r["tokenizer_version"] == s.tokenizer_version
        assert r["n_frames"] == math.ceil(round(r["duration_s"] * 16000) / 320)
        assert all(len(r[f"codes_{k}"]) == r["n_frames"] for k in range(3))
        assert all(0 <= c < 1024 for k in range(3) for c in r[f"codes_{k}"])
    assert abs(rows["u3"]["duration_s"] - 1.2) < 1e-3  # the [0.2, 1.4) segment of a stereo 48 kHz file
    for u in GOOD_SPEECH:  # tts -> phones, asr -> text ids; nothing else computed
        assert len(rows[u]["phones"]) > 3 and bytes(rows[u]["text_ids"]).decode() == rows[u]["text"]
        assert rows[u]["semantic"] is None and rows[u]["caption_emb"] is None
        assert sorted(rows[u]["tasks"]) == ["asr", "tts"]
    for p in ("p0", "p1"):  # own audio 1.0 s, its paired source 1.5 s: each went to its own columns
        r = rows[p]
        assert (r["n_frames"], r["source_n_frames"]) == (50, 75)
        assert all(len(r[f"source_codes_{k}"]) == 75 and len(r[f"codes_{k}"]) == 50 for k in range(3))
    emb = unpack_f16(rows["c0"]["caption_emb"], rows["c0"]["caption_emb_dim"])
    assert emb.shape[1] == 384 and emb.shape[0] >= 4 and np.isfinite(emb).all()

    q = {r["utt_id"]: r for r in delta.read_table(quarantine_uri(store)).to_pylist()}
    assert {u: (q[u]["stage"], q[u]["reason"]) for u in q} == {
        "bad": ("decode", "unreadable"), "gone": ("read", "missing_audio"), "quiet": ("validate", "silent"),
        "short": ("validate", "too_short"), "multi": ("validate", "bad_channels"), "c1": ("plan", "no_usable_task")}
    assert all(r["run_id"] == s.run_id and r["detail"] for r in q.values())

    # MLflow: one run with the summary metrics and the Delta version written
    assert s.mlflow_run_id
    con = sqlite3.connect(tmp_path / "mlflow.db")
    metrics = dict(con.execute("select key, value from latest_metrics where run_uuid=?", (s.mlflow_run_id,)).fetchall())
    tags = dict(con.execute("select key, value from tags where run_uuid=?", (s.mlflow_run_id,)).fetchall())
    assert metrics["rows_out"] == 7 and metrics["rows_quarantined"] == 6 and metrics["audio_hours"] > 0
    assert tags["delta.table_version"] == str(s.table_version)

    # readable without the project's code
    plain = read_with_plain_pyarrow(store)
    assert sorted(plain.column("utt_id").to_pylist()) == sorted(rows)
    df = plain.to_pandas()
    assert set(df["dataset"]) == {"speech", "pairs", "sfx"}
    assert plain.schema.field("codes_0").type == pa.list_(pa.int16())

    # unchanged re-run: no work, says so, writes nothing
    again = run_tokenize(str(spec), store, tiny_codec, small_cfg(tmp_path))
    assert (again.rows_todo, again.rows_out, again.rows_quarantined, again.commits) == (0, 0, 0, 0)
    assert again.rows_done == 7 and again.rows_skipped_quarantined == 5
    assert again.table_version == s.table_version and "nothing to tokenize" in again.report()
