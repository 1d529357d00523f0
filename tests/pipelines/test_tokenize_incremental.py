"""Incremental runs against a real local Ray: adding a dataset processes only its rows, changing one
audio file re-tokenizes only that row (and prunes its old version), deleting a source row drops it,
and a job killed mid-way then re-run leaves every row exactly once."""

import sys
from pathlib import Path

import pytest
from killed_job import kill_after_commit

from uniaudio.stores import delta
from pipelines.tokenize import TokenizeConfig, run_tokenize

pytestmark = pytest.mark.integration


def cfg(**over) -> TokenizeConfig:
    base = {"commit": {"chunk_rows": 4}, "ray": {"block_rows": 2}, "codec_pool": {"batch_rows": 4},
            "mlflow": {"enabled": False}}
    base.update(over)
    return TokenizeConfig(**base)


def speech_rows(prefix: str, n: int) -> list[dict]:
    return [{"utt_id": f"{prefix}{i}", "audio": f"{prefix}{i}.wav", "text": f"utterance {i}", "speaker": "s"} for i in range(n)]


def write(tools, root: Path, prefix: str, n: int, seconds: float = 0.8) -> None:
    tone = tools["tone"]
    tools["write_dataset"](root, speech_rows(prefix, n),
                           {f"{prefix}{i}.wav": (tone(seconds, seed=i, freq=200 + 30 * i), 16000) for i in range(n)})


def keys(store: str) -> list[tuple[str, str]]:
    t = delta.read_table(store, columns=["dataset", "utt_id"])
    return sorted(zip(t.column("dataset").to_pylist(), t.column("utt_id").to_pylist()))


def test_add_dataset_change_file_delete_row(tmp_path, ray_session, tiny_codec, corpus_tools):
    write_spec = corpus_tools["write_spec"]
    write(corpus_tools, tmp_path / "a", "a", 3)
    write(corpus_tools, tmp_path / "b", "b", 2)
    spec_a = write_spec(tmp_path / "a.yaml", [{"name": "a", "root": "a", "tasks": ["asr"]}])
    spec_ab = write_spec(tmp_path / "ab.yaml", [{"name": "a", "root": "a", "tasks": ["asr"]},
                                                {"name": "b", "root": "b", "tasks": ["asr"]}])
    store = str(tmp_path / "tokens")

    first = run_tokenize(str(spec_a), store, tiny_codec, cfg())
    assert (first.rows_todo, first.rows_out) == (3, 3)

    # a second dataset: only its rows are processed
    second = run_tokenize(str(spec_ab), store, tiny_codec, cfg())
    assert second.per_dataset["a"]["todo"] == 0 and second.per_dataset["a"]["done"] == 3
    assert (second.per_dataset["b"]["todo"], second.per_dataset["b"]["out"]) == (2, 2)
    assert (second.rows_todo, second.rows_out, second.rows_pruned) == (2, 2, 0)

    # one audio file changes (longer now): only that row is re-tokenized, its old version pruned
    before = {r["utt_id"]: r for r in delta.read_table(store).to_pylist()}
    corpus_tools["write_dataset"](tmp_path / "a", speech_rows("a", 3),
                                  {"a1.wav": (corpus_tools["tone"](1.5, seed=99), 16000)})
    third = run_tokenize(str(spec_ab), store, tiny_codec, cfg())
    assert (third.rows_todo, third.rows_out, third.rows_pruned) == (1, 1, 1)
    assert third.per_dataset["a"]["todo"] == 1 and third.per_dataset["b"]["todo"] == 0
    after = {r["utt_id"]: r for r in delta.read_table(store).to_pylist()}
    assert keys(store) == [("a", "a0"), ("a", "a1"), ("a", "a2"), ("b", "b0"), ("b", "b1")]
    assert after["a1"]["fingerprint"] != before["a1"]["fingerprint"] and after["a1"]["n_frames"] == 75
    assert all(after[u]["fingerprint"] == before[u]["fingerprint"] for u in ("a0", "a2", "b0", "b1"))

    # a source row disappears from the manifest: excluded (pruned), nothing re-tokenized
    (tmp_path / "b" / "manifest.jsonl").write_text((tmp_path / "b" / "manifest.jsonl").read_text().splitlines()[0] + "\n")
    fourth = run_tokenize(str(spec_ab), store, tiny_codec, cfg())
    assert (fourth.rows_todo, fourth.rows_pruned) == (0, 1)
    assert ("b", "b1") not in keys(store) and len(keys(store)) == 4

    # a spec without dataset b leaves b untouched
    fifth = run_tokenize(str(spec_a), store, tiny_codec, cfg())
    assert (fifth.rows_todo, fifth.rows_pruned) == (0, 0) and ("b", "b0") in keys(store)


@pytest.mark.slow  # ~25 s: a subprocess job (imports, Ray connection, actor start) killed, then a re-run
def test_killed_job_rerun_yields_every_row_once(tmp_path, ray_session, tiny_codec, corpus_tools):
    n = 12
    write(corpus_tools, tmp_path / "k", "k", n)
    spec = corpus_tools["write_spec"](tmp_path / "k.yaml", [{"name": "k", "root": "k", "tasks": ["asr"]}])
    store = str(tmp_path / "tokens")
    # One row per block and per commit, so the job is killed between commits (or inside one).
    sets = ["commit.chunk_rows=1", "ray.block_rows=1", "codec_pool.batch_rows=1", "mlflow.enabled=false"]
    cmd = [sys.executable, "-m", "uniaudio", "tokenize", str(spec), "--store", store, "--codec", tiny_codec,
           "--address", ray_session, "--no-progress", *[a for s in sets for a in ("--set", s)]]
    kill_after_commit(cmd, store)  # right after the second commit
    partial = keys(store)
    assert 2 <= len(partial) < n, "the kill should land mid-way"
    assert len(set(partial)) == len(partial)

    rerun = run_tokenize(str(spec), store, tiny_codec, cfg())
    assert rerun.rows_todo == n - len(partial) and rerun.rows_done == len(partial)
    assert keys(store) == sorted(("k", f"k{i}") for i in range(n))  # each row exactly once
