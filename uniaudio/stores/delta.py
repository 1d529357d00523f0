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

from uniaudio.errors import UserFacingError
from uniaudio.stores import uri as uris


def _strip_file_scheme(uri: str) -> str:
    return uri if uris.is_remote(uri) else uris.local_path(uri)


_UNSAFE = {
    "AWS_S3_ALLOW_UNSAFE_RENAME": "commits by unconditional PUT: two writers can both 'win' the same version",
    "AWS_S3_LOCKING_PROVIDER": "the DynamoDB lock client, which this deltalake no longer supports",
    "AWS_CONDITIONAL_PUT": "a non-default conditional-put mode",
}


def check_commit_safety(uri: str) -> None:
    """Refuse an S3 write whose commits would not be safe for concurrent writers.

    delta-rs (1.6) commits a version on S3 by writing ``_delta_log/<version>.json`` with put-if-absent
    (``If-None-Match: *``): of two writers racing for a version exactly one succeeds and the other
    retries on top of it. Settings that replace this (docs/STORES.md) are refused here rather than
    risking a silently lost commit; a store without conditional writes must not be used for tables.
    """
    if uris.scheme(uri) != "s3":
        return
    import os

    for var, why in _UNSAFE.items():
        val = os.environ.get(var, "")
        if val and not (var == "AWS_CONDITIONAL_PUT" and val.lower() == "etag"):
            raise UserFacingError(f"{uri}: refusing to write a Delta table with {var}={val} ({why}); unset it "
                                  f"and use an S3 store with conditional writes (see docs/STORES.md)")


def storage_options(uri: str) -> dict[str, str] | None:
    """delta-rs' object-store settings for ``uri``, from the same environment pyarrow reads.

    delta-rs reads ``AWS_*`` (S3) and ``GOOGLE_*`` (GCS: ``GOOGLE_APPLICATION_CREDENTIALS``,
    ``GOOGLE_SERVICE_ACCOUNT``) itself, so a real bucket needs nothing here. It has no notion of
    ``STORAGE_EMULATOR_HOST``, though: its GCS backend is pointed at an emulator by a service-account
    JSON with ``gcs_base_url`` and ``disable_oauth`` (object_store's testing hook), written once per
    endpoint into the node cache and passed as ``google_service_account``.
    """
    import hashlib
    import json

    emulator = uris.gcs_emulator() if uris.scheme(uri) in uris.GCS_SCHEMES else None
    if emulator is None:
        return None
    key = {"gcs_base_url": emulator, "disable_oauth": True, "client_email": "", "private_key": "",
           "private_key_id": ""}
    path = uris.cache_dir() / "gcs-emulator" / f"{hashlib.sha256(emulator.encode()).hexdigest()[:16]}.json"
    if not path.is_file():
        uris.put(str(path), json.dumps(key))
    return {"google_service_account": str(path)}


def table_filesystem(uri: str) -> pafs.FileSystem:
    """A pyarrow filesystem rooted at the table directory (local path or any supported URI)."""
    return uris.subtree(uri)


def is_table(uri: str) -> bool:
    from deltalake import DeltaTable

    return DeltaTable.is_deltatable(_strip_file_scheme(uri), storage_options=storage_options(uri))


def open_table(uri: str, version: int | None = None):
    from deltalake import DeltaTable

    return DeltaTable(_strip_file_scheme(uri), version=version, storage_options=storage_options(uri))


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

    check_commit_safety(uri)
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
        storage_options=storage_options(uri),
        **kwargs,
    )
    return open_table(uri).version()


def delete(uri: str, predicate: str, commit_properties: Mapping[str, str] | None = None) -> int:
    """Delete the rows matching the SQL ``predicate`` in ONE atomic commit; returns the new version.

    Meant for predicates that match whole files (e.g. every row of an old tokenizer version): those
    files are dropped without rewriting. Files that match only partly are rewritten by delta-rs with
    Arrow *view* string types, which pyarrow's filter pushdown cannot compare; use
    :func:`delete_rows` for row-level deletes.
    """
    from deltalake import CommitProperties, WriterProperties

    check_commit_safety(uri)
    open_table(uri).delete(
        predicate,
        writer_properties=WriterProperties(compression="ZSTD"),
        commit_properties=CommitProperties(custom_metadata=dict(commit_properties)) if commit_properties else None,
    )
    return open_table(uri).version()


def delete_rows(
    uri: str,
    key: str,
    values: Iterable[str],
    partition: Mapping[str, str],
    commit_properties: Mapping[str, str] | None = None,
    max_keys: int = 20_000,
) -> int:
    """Delete the rows of one partition whose ``key`` column is in ``values``; returns how many.

    The files holding such rows are read with pyarrow, and each group of them is replaced by its
    remaining rows in ONE atomic commit (overwrite with a predicate naming exactly the replaced
    files' keys, so delta-rs removes them whole and rewrites nothing itself). ``key`` must be unique
    per row within the partition and its values plain identifiers (``[A-Za-z0-9_.-]``).
    """
    import re

    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from deltalake import CommitProperties, WriterProperties, write_deltalake

    check_commit_safety(uri)
    safe = re.compile(r"^[A-Za-z0-9_.\-]+$")
    drop = set(values)
    dt = open_table(uri)
    files = dt.file_uris(partition_filters=[(k, "=", v) for k, v in partition.items()])
    groups: list[list[pa.Table]] = [[]]
    n_keys = 0
    for file_uri in files:
        fs, path = uris.filesystem(file_uri)
        t = pq.read_table(path, filesystem=fs)
        if not drop.intersection(t.column(key).to_pylist()):
            continue
        if groups[-1] and n_keys + t.num_rows > max_keys:
            groups.append([])
            n_keys = 0
        groups[-1].append(t)
        n_keys += t.num_rows
    schema = _dataset(uri, None).schema  # the table's logical types (partition columns included)
    deleted = 0
    for group in groups:
        if not group:
            continue
        t = pa.concat_tables([g.cast(pa.schema([schema.field(c) for c in g.column_names])) for g in group])
        for col, val in partition.items():
            t = t.append_column(schema.field(col), pa.array([val] * t.num_rows, schema.field(col).type))
        keys = t.column(key).to_pylist()
        if not all(isinstance(k, str) and safe.match(k) for k in [*keys, *partition.values()]):
            raise ValueError(f"delete_rows: {key} values and partition values must match {safe.pattern}")
        kept = t.filter(pc.invert(pc.is_in(t.column(key), pa.array(sorted(drop), t.schema.field(key).type))))
        where = " AND ".join(f"{c} = '{v}'" for c, v in partition.items())
        predicate = f"{where} AND {key} IN ({', '.join(repr(k) for k in sorted(set(keys)))})"
        write_deltalake(
            _strip_file_scheme(uri), kept.select(schema.names), mode="overwrite", predicate=predicate,
            partition_by=dt.metadata().partition_columns, writer_properties=WriterProperties(compression="ZSTD"),
            commit_properties=CommitProperties(custom_metadata=dict(commit_properties)) if commit_properties else None,
            storage_options=storage_options(uri),
        )
        deleted += t.num_rows - kept.num_rows
    return deleted


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
        storage_options=storage_options(uri),
        filesystem=table_filesystem(uri),
        **kwargs,
    )


def commit_history(uri: str, limit: int | None = None) -> list[dict[str, Any]]:
    """Commit infos, newest first (each includes the custom metadata given to :func:`append`)."""
    return open_table(uri).history(limit)
