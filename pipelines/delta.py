"""Delta Lake access for the token, quarantine and example stores (the only module that talks to deltalake).

Why a wrapper: with deltalake 1.6 + pyarrow 25, ``DeltaTable.to_pyarrow_dataset()`` /
``to_pyarrow_table()`` without an explicit filesystem use delta-rs' own object-store filesystem,
whose runtime aborts the interpreter at exit most of the time ("terminate called without an active
exception", exit 134) — fatal for CLIs and test runs. Reading through a pyarrow filesystem rooted at
the table avoids it; everything here (and Ray's ``read_delta``) goes through :func:`table_filesystem`.

>>> import tempfile, pyarrow as pa
>>> uri = tempfile.mkdtemp() + "/t"
>>> append(uri, pa.table({"dataset": ["a", "b"], "x": [1, 2]}), partition_by=["dataset"])
0
>>> read_table(uri, filter_equals={"dataset": "b"}).column("x").to_pylist()
[2]
>>> table_version(uri)
0
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs


def _strip_file_scheme(uri: str) -> str:
    return uri[len("file://") :] if uri.startswith("file://") else uri


def table_filesystem(uri: str) -> pafs.FileSystem:
    """A pyarrow filesystem rooted at the table directory (local path or any pyarrow-supported URI)."""
    if "://" in uri and not uri.startswith("file://"):
        fs, path = pafs.FileSystem.from_uri(uri)
        return pafs.SubTreeFileSystem(path, fs)
    return pafs.SubTreeFileSystem(_strip_file_scheme(uri), pafs.LocalFileSystem())


def is_table(uri: str) -> bool:
    from deltalake import DeltaTable

    return DeltaTable.is_deltatable(_strip_file_scheme(uri))


def open_table(uri: str, version: int | None = None):
    from deltalake import DeltaTable

    return DeltaTable(_strip_file_scheme(uri), version=version)


def table_version(uri: str) -> int | None:
    """Latest committed version, or None when no table exists at ``uri``."""
    return open_table(uri).version() if is_table(uri) else None


def append(
    uri: str,
    table: pa.Table,
    partition_by: Sequence[str] | None = None,
    target_file_size: int | None = None,
    commit_properties: Mapping[str, str] | None = None,
) -> int:
    """Append ``table`` in ONE atomic commit (creating the table if needed); returns the new version.

    ``commit_properties`` land in the commit info (e.g. the run id and chunk id that wrote it), which
    makes every commit traceable to the job that produced it.
    """
    from deltalake import CommitProperties, WriterProperties, write_deltalake

    kwargs: dict[str, Any] = {}
    if target_file_size:
        kwargs["target_file_size"] = int(target_file_size)
    write_deltalake(
        _strip_file_scheme(uri),
        table,
        mode="append",
        partition_by=list(partition_by) if partition_by else None,
        writer_properties=WriterProperties(compression="ZSTD"),
        commit_properties=CommitProperties(custom_metadata=dict(commit_properties)) if commit_properties else None,
        **kwargs,
    )
    return open_table(uri).version()


def delete(uri: str, predicate: str, commit_properties: Mapping[str, str] | None = None) -> int:
    """Delete the rows matching the SQL ``predicate`` in ONE atomic commit; returns the new version.

    Only the files holding matching rows are rewritten (zstd, like :func:`append`). Used to drop
    superseded rows of the token store (changed or deleted source rows).
    """
    from deltalake import CommitProperties, WriterProperties

    open_table(uri).delete(
        predicate,
        writer_properties=WriterProperties(compression="ZSTD"),
        commit_properties=CommitProperties(custom_metadata=dict(commit_properties)) if commit_properties else None,
    )
    return open_table(uri).version()


def _dataset(uri: str, version: int | None) -> pads.Dataset:
    return open_table(uri, version).to_pyarrow_dataset(filesystem=table_filesystem(uri))


def read_table(
    uri: str,
    version: int | None = None,
    columns: Iterable[str] | None = None,
    filter_equals: Mapping[str, Any] | None = None,
    filter_in: Mapping[str, Iterable[Any]] | None = None,
) -> pa.Table:
    """Read (a projection of) the table at ``version`` (latest by default) into memory."""
    expr = None
    for col, val in (filter_equals or {}).items():
        e = pads.field(col) == val
        expr = e if expr is None else expr & e
    for col, vals in (filter_in or {}).items():
        e = pads.field(col).isin(list(vals))
        expr = e if expr is None else expr & e
    return _dataset(uri, version).to_table(columns=list(columns) if columns else None, filter=expr)


def read_ray(uri: str, version: int | None = None, columns: Sequence[str] | None = None, **kwargs: Any):
    """The table as a Ray Dataset (streaming), through the safe filesystem."""
    import ray.data

    return ray.data.read_delta(
        _strip_file_scheme(uri),
        version=version,
        columns=list(columns) if columns else None,
        filesystem=table_filesystem(uri),
        **kwargs,
    )


def commit_history(uri: str, limit: int | None = None) -> list[dict[str, Any]]:
    """Commit infos, newest first (each includes the custom metadata given to :func:`append`)."""
    return open_table(uri).history(limit)
