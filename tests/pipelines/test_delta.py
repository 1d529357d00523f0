"""The Delta wrapper: atomic appends, versions, filtered reads, and a clean interpreter exit."""

import subprocess
import sys

import numpy as np
import pyarrow as pa

from uniaudio.stores import delta
from uniaudio.stores.schema import example_store_schema, pack_f16, token_store_schema, unpack_f16


def test_append_versions_and_filters(tmp_path):
    uri = str(tmp_path / "t")
    assert delta.table_version(uri) is None
    assert delta.append(uri, pa.table({"dataset": ["a"], "x": [1]}), ["dataset"], commit_properties={"run": "r1"}) == 0
    assert delta.append(uri, pa.table({"dataset": ["b", "b"], "x": [2, 3]}), ["dataset"]) == 1
    assert delta.read_table(uri).num_rows == 3
    assert delta.read_table(uri, version=0).num_rows == 1  # time travel
    assert sorted(delta.read_table(uri, filter_in={"dataset": ["b"]}).column("x").to_pylist()) == [2, 3]
    assert delta.commit_history(uri)[-1].get("run") == "r1"


def test_token_store_schema_round_trip(tmp_path):
    schema = token_store_schema(3)
    row = {f.name: None for f in schema}
    blob, dim = pack_f16(np.arange(6, dtype=np.float32).reshape(2, 3))
    row.update(dataset="d", utt_id="u", fingerprint="f", tokenizer_version="t", source_uri="/x.wav",
               duration_s=1.0, n_frames=2, codes_0=[1, 2], codes_1=[3, 4], codes_2=[5, 6],
               caption_emb=blob, caption_emb_dim=dim)
    uri = str(tmp_path / "tokens")
    delta.append(uri, pa.Table.from_pylist([row], schema=schema), ["dataset"])
    got = delta.read_table(uri).to_pylist()[0]
    assert got["codes_2"] == [5, 6]
    np.testing.assert_array_equal(unpack_f16(got["caption_emb"], got["caption_emb_dim"]), np.arange(6).reshape(2, 3))
    assert example_store_schema().field("frames").type == pa.list_(pa.int16())


def test_reader_exits_cleanly(tmp_path):
    """delta-rs' own filesystem aborts the interpreter at exit (exit 134); ours must not."""
    uri = str(tmp_path / "t")
    delta.append(uri, pa.table({"dataset": ["a"], "x": [1]}), ["dataset"])
    code = f"from uniaudio.stores import delta; print(delta.read_table({uri!r}).num_rows)"
    for _ in range(4):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr[-500:]
        assert out.stdout.strip() == "1"
