"""Pieces of the tokenization job without Ray: task needs, decode/validate verdicts, the anti-join
plan, chunked commits, row-level deletes, resource planning and the CLI's up-front errors."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from uniaudio.stores import delta
from uniaudio.stores.schema import token_store_schema
from pipelines.sources import ManifestRow, Problem
from pipelines.tokenize.columns import manifest_to_carrier, to_table
from pipelines.tokenize.committer import CommitConfig, Committer
from pipelines.tokenize.config import TokenizeConfig
from pipelines.tokenize.decode import AudioCheckConfig, decode_row
from pipelines.tokenize.needs import TASK_NEEDS, modalities_for, usable_tasks
from pipelines.tokenize.pipeline import plan_resources
from pipelines.tokenize.plan import make_plan
from pipelines.tokenize.quarantine import problems_table, quarantine_uri
from uniaudio.cli import main
from uniaudio.tasks import TASKS


def test_task_needs_cover_every_task_and_alternatives():
    assert set(TASK_NEEDS) == set(TASKS)
    assert modalities_for(["vc", "svs", "audio_edit"]) == {"semantic", "singing", "instruction_emb"}
    fields = {"text": "hi", "speaker": None, "source": "/n.wav", "enrolment": None}
    assert usable_tasks(["tts", "plain_tts", "se", "tse", "asr"], fields) == ["plain_tts", "se", "asr"]
    assert "tse" in usable_tasks(["tse"], {**fields, "enrolment": "/e.wav"})  # enrolment or speaker


def _row(path, **kw):
    return {"source_uri": str(path), "start_s": None, "end_s": None, **kw}


def test_decode_verdicts(tmp_path, corpus_tools):
    tone = corpus_tools["tone"]
    cfg = AudioCheckConfig(max_s=3.0)
    cases = {
        "ok.flac": tone(1.0, 44100), "silent.wav": np.zeros(16000, "float32"), "short.wav": tone(0.3),
        "long.wav": tone(3.5), "multi.wav": tone(1.0, channels=3).T,
    }
    for name, data in cases.items():
        sf.write(tmp_path / name, data, 44100 if name == "ok.flac" else 16000)
    nan = tone(1.0)
    nan[100] = np.nan
    sf.write(tmp_path / "nan.wav", nan, 16000, subtype="FLOAT")
    (tmp_path / "junk.wav").write_bytes(b"not audio at all")
    got = {name: decode_row(_row(tmp_path / name), cfg) for name in [*cases, "nan.wav", "junk.wav", "gone.wav"]}
    verdict = {n: (r.get("q_stage"), r["q_reason"]) for n, r in got.items()}
    assert verdict == {
        "ok.flac": (None, None), "silent.wav": ("validate", "silent"), "short.wav": ("validate", "too_short"),
        "long.wav": ("validate", "too_long"), "multi.wav": ("validate", "bad_channels"),
        "nan.wav": ("validate", "non_finite"), "junk.wav": ("decode", "unreadable"), "gone.wav": ("decode", "missing")}
    ok = got["ok.flac"]
    assert abs(ok["duration_s"] - 1.0) < 1e-3 and len(ok["wav"]) == 16000 * 4  # resampled to 16 kHz float32
    assert all(r["wav"] is None for n, r in got.items() if n != "ok.flac")  # rejected rows drop their audio
    paired = decode_row(_row(tmp_path / "ok.flac", source_audio_uri=str(tmp_path / "silent.wav")), cfg)
    assert (paired["q_stage"], paired["q_reason"]) == ("decode", "source_silent")


def _store_rows(dataset, utts, tv, fp=lambda u: f"fp{u}"):
    rows = []
    for u in utts:
        r = {f.name: None for f in token_store_schema(3)}
        r.update(dataset=dataset, utt_id=u, fingerprint=fp(u), tokenizer_version=tv, source_uri="/x", duration_s=1.0,
                 n_frames=1, codes_0=[1], codes_1=[2], codes_2=[3])
        rows.append(r)
    return pa.Table.from_pylist(rows, schema=token_store_schema(3))


def test_plan_anti_joins_store_and_quarantine(tmp_path):
    store = str(tmp_path / "s")
    delta.append(store, _store_rows("a", ["1", "2"], "tv1"), ["dataset"])
    delta.append(store, _store_rows("b", ["1"], "tv1"), ["dataset"])
    known = Problem("a", "9", "m.jsonl:9", "missing_audio: x")
    delta.append(quarantine_uri(store), problems_table([known], "tv1", "r0"), ["dataset"])
    bad = pa.Table.from_pylist([{"dataset": "a", "utt_id": "4", "fingerprint": "fp4", "tokenizer_version": "tv1",
                                 "stage": "validate", "reason": "silent"}], schema=problems_table([], "tv1", "r").schema)
    delta.append(quarantine_uri(store), bad, ["dataset"])
    rows = [ManifestRow("a", u, f"/{u}.wav", fingerprint=f"fp{u}") for u in ("1", "2", "3", "4")]
    rows[1] = ManifestRow("a", "2", "/2.wav", fingerprint="changed")  # a changed row
    fresh = Problem("a", "8", "m.jsonl:8", "missing_audio: y")
    plan = make_plan(["a"], rows, [known, fresh], store, "tv1")
    assert [r.utt_id for r in plan.todo] == ["2", "3"]  # b is not in the spec: untouched
    assert plan.per_dataset["a"] == {"rows": 4, "done": 1, "todo": 2, "skipped_quarantined": 1, "read_problems": 2,
                                     "new_read_problems": 1}
    assert plan.new_problems == [fresh]
    assert [r.utt_id for r in make_plan(["a"], rows, [], store, "tv1", retry_quarantined=True).todo] == ["2", "3", "4"]
    assert len(make_plan(["a"], rows, [], store, "tv2").todo) == 4  # another tokenizer version: everything


def test_committer_chunks_each_commit_atomic(tmp_path):
    store = str(tmp_path / "s")
    c = Committer(store, 3, CommitConfig(chunk_rows=2), "run1", "tv1")
    rows = []
    for i in range(5):
        r = manifest_to_carrier(ManifestRow("d", f"u{i}", f"/u{i}.wav", fingerprint=f"f{i}"), ["asr"])
        r.update(duration_s=1.0, n_frames=2, codes_0=[1, 2], codes_1=[3, 4], codes_2=[5, 6])
        if i == 3:
            r.update(q_stage="validate", q_reason="silent", q_detail="-70 dBFS")
        rows.append(r)
    for i in range(0, 5, 2):
        c.add(to_table(rows[i : i + 2], 3))
    c.flush()
    assert delta.table_version(store) == 1 and c.stats.commits == 2  # rows {0,1}, then {2,4}
    assert sorted(delta.read_table(store).column("utt_id").to_pylist()) == ["u0", "u1", "u2", "u4"]
    assert delta.read_table(store).column("tokenizer_version").to_pylist() == ["tv1"] * 4
    q = delta.read_table(quarantine_uri(store)).to_pylist()
    assert [(r["utt_id"], r["reason"], r["run_id"]) for r in q] == [("u3", "silent", "run1")]
    assert [h.get("uniaudio.chunk") for h in delta.commit_history(store)] == ["1", "0"]
    broken = Committer(store, 3, CommitConfig(), "run2", "tv1")
    broken.add(to_table([manifest_to_carrier(ManifestRow("d", "x", "/x.wav", fingerprint="fx"), ["asr"])], 3))
    with pytest.raises(RuntimeError, match="lack"):
        broken.flush()


def test_delete_rows_rewrites_only_affected_files_keeping_types(tmp_path):
    store = str(tmp_path / "s")
    delta.append(store, _store_rows("a", ["1", "2", "3"], "tv"), ["dataset"])
    delta.append(store, _store_rows("a", ["4"], "tv"), ["dataset"])
    delta.append(store, _store_rows("b", ["1"], "tv"), ["dataset"])
    before = set(delta.open_table(store).file_uris())
    assert delta.delete_rows(store, "fingerprint", ["fp2", "nope"], {"dataset": "a"}) == 1
    after = set(delta.open_table(store).file_uris())
    assert len(before - after) == 1 and len(after - before) == 1  # one file replaced, the rest untouched
    assert sorted(delta.read_table(store, filter_in={"utt_id": ["1", "3", "4"]}).column("utt_id").to_pylist()) == \
        ["1", "1", "3", "4"]  # filter pushdown still works: no view types were written
    new = (after - before).pop()
    assert pq.read_schema(new.replace("file://", "")).field("utt_id").type == pa.string()
    assert delta.delete_rows(store, "fingerprint", ["fp1"], {"dataset": "b"}) == 1
    assert delta.read_table(store, filter_equals={"dataset": "b"}).num_rows == 0


def test_resources_fit_small_clusters():
    r = plan_resources(TokenizeConfig(codec_pool={"actors": 3}), {"CPU": 2.0})
    assert r.task_cpus + 3 * r.actor_cpus <= 2.0 + 1e-9 and r.num_gpus == 0 and r.device == "cpu"
    g = plan_resources(TokenizeConfig(), {"CPU": 16.0, "GPU": 2.0})
    assert (g.num_gpus, g.device, g.actor_cpus) == (1, "cuda", 1.0)


def test_cli_errors_before_any_work(tmp_path, corpus_tools, tiny_codec, capsys):
    assert main(["tokenize", str(tmp_path / "nope.yaml"), "--store", str(tmp_path / "s"), "--codec", tiny_codec]) == 2
    corpus_tools["write_dataset"](tmp_path / "d", [], {})
    spec = corpus_tools["write_spec"](tmp_path / "spec.yaml", [{"name": "d", "root": "d", "tasks": ["vc"]}])
    assert main(["tokenize", str(spec), "--store", str(tmp_path / "s"), "--codec", tiny_codec]) == 2
    assert "semantic" in capsys.readouterr().err  # vc needs semantic units, disabled by default
    assert main(["tokenize", str(spec), "--store", str(tmp_path / "s"), "--codec", str(tmp_path)]) == 2
    assert delta.table_version(str(tmp_path / "s")) is None
