"""Keep the token store at one row per current utterance: drop superseded rows after a run.

Policy (docs/STORES.md): after the new rows of a run are committed, every row of the spec's datasets
whose (dataset, utt_id, fingerprint) is not in the current manifest, or whose tokenizer version is
not the current one, is deleted (atomic Delta commits that rewrite only the files holding such
rows). This covers a changed source row (its old version goes), a deleted source row
(excluded by the current manifest) and a tokenizer/codec change. Datasets absent from the spec are
never touched. A kill between the last append and the prune leaves the old rows for a moment; the
next run prunes them (it recomputes the stale set every time), and readers pinned to the version
logged by a finished run never see them.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from uniaudio.stores import delta
from pipelines.tokenize.plan import KEY, store_keys

_SAFE = re.compile(r"^[A-Za-z0-9_.\-]+$")  # dataset names, hex fingerprints, tokenizer versions


def sql_literal(value: str) -> str:
    """``'value'`` for a Delta predicate; only ids made of ``[A-Za-z0-9_.-]`` are accepted."""
    if not _SAFE.match(value):
        raise ValueError(f"refusing to put {value!r} in a delete predicate")
    return f"'{value}'"


def stale_rows(store: str, datasets: list[str], manifest: pa.Table, tokenizer_version: str) -> pa.Table:
    """Store keys of ``datasets`` that are superseded (see the module doc)."""
    keys = store_keys(store, datasets)
    if keys.num_rows == 0:
        return keys
    other_version = keys.filter(pc.not_equal(keys.column("tokenizer_version"), tokenizer_version))
    current = keys.filter(pc.equal(keys.column("tokenizer_version"), tokenizer_version))
    gone = current.join(manifest.select(KEY), keys=KEY, join_type="left anti")
    return pa.concat_tables([other_version, gone.select(keys.column_names)])


def prune(store: str, datasets: list[str], manifest: pa.Table, tokenizer_version: str, run_id: str) -> int:
    """Delete the stale rows; returns how many were deleted.

    Rows of another tokenizer version fill whole files (a file is written by one run), so they go
    with a file-level DELETE that rewrites nothing; changed / removed rows are deleted row by row
    (:func:`uniaudio.stores.delta.delete_rows` rewrites only the files that hold them).
    """
    stale = stale_rows(store, datasets, manifest, tokenizer_version)
    if stale.num_rows == 0:
        return 0
    props = {"uniaudio.job": "tokenize-prune", "uniaudio.run_id": run_id}
    for d in sorted(set(stale.column("dataset").to_pylist())):
        mine = stale.filter(pc.equal(stale.column("dataset"), d))
        same_v = mine.filter(pc.equal(mine.column("tokenizer_version"), tokenizer_version))
        if same_v.num_rows < mine.num_rows:
            delta.delete(store, f"dataset = {sql_literal(d)} AND tokenizer_version <> {sql_literal(tokenizer_version)}", props)
        if same_v.num_rows:
            delta.delete_rows(store, "fingerprint", same_v.column("fingerprint").to_pylist(), {"dataset": d}, props)
    return stale.num_rows
