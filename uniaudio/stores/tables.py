"""Reader / writer pairs of the three stores (token, quarantine, example), in the spirit of lhotse's
``*Writer`` / ``*Reader``: one object knows a store's schema, partitioning and lineage, so stages do
not repeat them.

A reader pins one Delta version when opened (every later read sees that snapshot, even while a
writer commits); a writer appends whole chunks, one atomic commit each, cast to the store's schema
(a chunk with a missing or mistyped column fails before anything is written).

>>> import tempfile, pyarrow as pa
>>> from uniaudio.stores.schema import quarantine_schema
>>> uri = tempfile.mkdtemp() + "/q"
>>> w = QuarantineStore.writer(uri)
>>> rows = {f.name: [None] for f in quarantine_schema()}
>>> rows.update(dataset=["d"], tokenizer_version=["tv"], stage=["read"], reason=["missing"])
>>> w.append(pa.table(rows).cast(quarantine_schema()), {"uniaudio.run_id": "r1"})
0
>>> r = QuarantineStore.open(uri)
>>> r.version, r.read(columns=["reason"]).column("reason").to_pylist(), len(r.files())
(0, ['missing'], 1)
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Sequence

import pyarrow as pa

from uniaudio.errors import UserFacingError
from uniaudio.stores import delta, lineage
from uniaudio.stores import uri as uris
from uniaudio.stores.schema import example_store_schema, quarantine_schema, token_store_schema

QUARANTINE_DIR = "_quarantine"  # the quarantine is a Delta table inside its token store


class StoreReader:
    """One pinned version of a store."""

    def __init__(self, kind: "Store", uri: str, version: int | None = None):
        if not delta.is_table(uri):
            raise UserFacingError(f"no {kind.name} store (Delta table) at {uri}")
        self.kind, self.uri = kind, uri
        self.version: int = delta.open_table(uri, version).version()

    def read(self, columns: Iterable[str] | None = None, filter_equals: Mapping[str, Any] | None = None,
             filter_in: Mapping[str, Iterable[Any]] | None = None) -> pa.Table:
        return delta.read_table(self.uri, self.version, columns, filter_equals, filter_in)

    def ray(self, columns: Sequence[str] | None = None, **kwargs: Any):
        """The pinned version as a streaming Ray Dataset."""
        return delta.read_ray(self.uri, self.version, columns, **kwargs)

    def files(self) -> list[str]:
        """URIs of the data files of the pinned version, sorted."""
        return sorted(delta.open_table(self.uri, self.version).file_uris())

    def lineage(self) -> dict[str, Any]:
        return lineage.read_lineage(self.uri)

    def history(self, limit: int | None = None) -> list[dict[str, Any]]:
        return delta.commit_history(self.uri, limit)


class StoreWriter:
    """Appends chunks to a store (creating it on the first one)."""

    def __init__(self, kind: "Store", uri: str, schema: pa.Schema, target_file_size: int | None = None):
        self.kind, self.uri, self.schema, self.target_file_size = kind, uri, schema, target_file_size

    def append(self, chunk: pa.Table, commit_properties: Mapping[str, str] | None = None) -> int:
        """One atomic commit of ``chunk`` (cast to the store's schema); returns the new version."""
        try:
            chunk = chunk.select(self.schema.names).cast(self.schema)
        except (KeyError, ValueError, pa.ArrowInvalid) as err:
            raise ValueError(f"{self.kind.name} store {self.uri}: chunk does not fit the schema "
                             f"({str(err).splitlines()[0][:200]})") from None
        return delta.append(self.uri, chunk, self.kind.partition_by, self.target_file_size, commit_properties)

    def write_lineage(self, info: Mapping[str, Any]) -> None:
        lineage.write_lineage(self.uri, dict(info))

    def version(self) -> int | None:
        return delta.table_version(self.uri)


class Store:
    """A kind of store: its name, schema factory and partition columns."""

    def __init__(self, name: str, schema: Callable[..., pa.Schema], partition_by: Sequence[str]):
        self.name, self._schema, self.partition_by = name, schema, list(partition_by)

    def open(self, uri: str, version: int | None = None) -> StoreReader:
        return StoreReader(self, uri, version)

    def writer(self, uri: str, target_file_size: int | None = None, **schema_args: Any) -> StoreWriter:
        return StoreWriter(self, uri, self._schema(**schema_args), target_file_size)

    def exists(self, uri: str) -> bool:
        return delta.is_table(uri)


TokenStore = Store("token", token_store_schema, ["dataset"])
QuarantineStore = Store("quarantine", quarantine_schema, ["dataset"])
ExampleStore = Store("example", example_store_schema, ["task", "dataset"])


def quarantine_uri(token_store: str) -> str:
    """Where a token store's quarantine table lives."""
    return uris.join(token_store, QUARANTINE_DIR)
