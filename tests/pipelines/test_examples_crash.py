"""A killed ``uniaudio examples`` job, re-run, leaves every example exactly once (the fingerprint
anti-join skips what the atomic chunk commits already hold)."""

import sys

import pyarrow as pa
import pytest
from killed_job import kill_after_commit
from test_examples import no_mlflow, token_row

from uniaudio.stores import delta
from pipelines.examples import run_examples
from uniaudio.stores.schema import token_store_schema

pytestmark = pytest.mark.integration


def ids(out: str) -> list[str]:
    return sorted(delta.read_table(out, columns=["example_id"]).column("example_id").to_pylist())


@pytest.mark.slow  # ~5-15 s: a subprocess job (imports, Ray connection, the Ray Data job) killed, then a re-run
def test_killed_job_rerun_yields_every_example_once(tmp_path, ray_session):
    n = 150
    tokens, out = str(tmp_path / "tokens"), str(tmp_path / "examples")
    rows = [token_row("k", f"k{i:03d}", ["asr"], 20, seed=i, text_ids=[65 + i % 26]) for i in range(n)]
    delta.append(tokens, pa.Table.from_pylist(rows, schema=token_store_schema(3)), ["dataset"])
    # One example per commit, so the job is killed between commits (or inside one).
    cmd = [sys.executable, "-m", "uniaudio", "examples", "--tokens", tokens, "--out", out, "--address", ray_session,
           "--set", "chunk_rows=1", "--set", "mlflow.enabled=false"]
    kill_after_commit(cmd, out)  # right after the second commit
    partial = ids(out)
    assert 2 <= len(partial) < n, "the kill should land mid-way"
    assert len(set(partial)) == len(partial)

    rerun = run_examples(tokens, out, no_mlflow())
    assert rerun.total("built") == n - len(partial) and rerun.total("unchanged") == len(partial)
    assert ids(out) == sorted(f"asr/k/k{i:03d}" for i in range(n))  # each example exactly once
