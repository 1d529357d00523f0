"""Delta stores on the loopback S3 server: append / read / time travel, the reader/writer pairs,
lineage, concurrent writers (put-if-absent commits), and the refused unsafe configuration."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pytest

from uniaudio.errors import UserFacingError
from uniaudio.stores import delta, lineage, uri as uris
from uniaudio.stores.schema import quarantine_schema
from uniaudio.stores.tables import QuarantineStore


def test_append_read_time_travel(s3_bucket):
    uri = f"{s3_bucket}/tokens"
    assert delta.table_version(uri) is None
    assert delta.append(uri, pa.table({"dataset": ["a", "b"], "x": [1, 2]}), ["dataset"]) == 0
    assert delta.append(uri, pa.table({"dataset": ["b"], "x": [3]}), ["dataset"], commit_properties={"k": "v"}) == 1
    assert sorted(delta.read_table(uri).column("x").to_pylist()) == [1, 2, 3]
    assert delta.read_table(uri, version=0).num_rows == 2  # time travel
    assert delta.read_table(uri, filter_equals={"dataset": "b"}).num_rows == 2
    assert delta.commit_history(uri, 1)[0]["k"] == "v"
    assert any(name.startswith("_delta_log/") for name, _ in uris.list_files(uri))  # really in the bucket


def test_reader_writer_pair_and_lineage(s3_bucket):
    uri = f"{s3_bucket}/tokens/_quarantine"
    w = QuarantineStore.writer(uri)
    rows = {f.name: [None] for f in quarantine_schema()}
    rows.update(dataset=["d"], tokenizer_version=["tv"], stage=["read"], reason=["missing"])
    assert w.append(pa.table(rows), {"uniaudio.run_id": "r1"}) == 0
    w.write_lineage({"tokens_uri": s3_bucket})
    r = QuarantineStore.open(uri)
    assert r.version == 0 and r.read(columns=["reason"]).column("reason").to_pylist() == ["missing"]
    assert len(r.files()) == 1 and r.files()[0].startswith("s3://")
    assert r.lineage() == {"tokens_uri": s3_bucket} == lineage.read_lineage(uri)
    with pytest.raises(ValueError, match="does not fit the schema"):
        w.append(pa.table({"dataset": ["d"]}))


def test_concurrent_writers_lose_no_commit(s3_bucket):
    """Two processes appending at once: every commit lands (delta-rs commits with put-if-absent)."""
    uri = f"{s3_bucket}/conc"
    code = ("import sys, pyarrow as pa\nfrom uniaudio.stores import delta\n"
            "for i in range(4):\n"
            f"    delta.append({uri!r}, pa.table({{'dataset': ['d'], 'w': [sys.argv[1]], 'i': [i]}}), ['dataset'])\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, w]) for w in ("A", "B")]
    assert [p.wait(timeout=240) for p in procs] == [0, 0]
    t = delta.read_table(uri)
    assert t.num_rows == 8 and delta.table_version(uri) == 7
    assert sorted(zip(t.column("w").to_pylist(), t.column("i").to_pylist())) == \
        [(w, i) for w in "AB" for i in range(4)]


def test_unsafe_commit_configuration_is_refused(s3_bucket, monkeypatch):
    monkeypatch.setenv("AWS_S3_ALLOW_UNSAFE_RENAME", "true")
    with pytest.raises(UserFacingError, match="AWS_S3_ALLOW_UNSAFE_RENAME"):
        delta.append(f"{s3_bucket}/t", pa.table({"dataset": ["a"], "x": [1]}), ["dataset"])
    assert not uris.exists(f"{s3_bucket}/t/_delta_log")


def test_docs_recipe_reads_an_s3_store_without_project_code_and_exits_cleanly(s3_bucket):
    """docs/STORES.md's recipe (plain deltalake + pyarrow), three fresh interpreters: all exit 0."""
    import re
    from pathlib import Path

    uri = f"{s3_bucket}/tokens"
    delta.append(uri, pa.table({"dataset": ["a", "b"], "x": [1, 2]}), ["dataset"])
    doc = (Path(__file__).resolve().parents[2] / "docs" / "STORES.md").read_text()
    recipe = re.search(r"without the project's code \(exits cleanly.*?```python\n(.*?)```", doc, re.S).group(1)
    bucket = s3_bucket[len("s3://"):]
    code = recipe.replace("s3://bucket/tokens", uri).replace('"bucket/tokens"', f'"{bucket}/tokens"')
    code += "print(table.num_rows)\n"
    for _ in range(3):
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                           cwd="/")  # not the checkout: no project import possible
        assert p.returncode == 0 and p.stdout.strip() == "2", (p.returncode, p.stdout, p.stderr[-2000:])
