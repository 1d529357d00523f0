"""Corpus readers: dataset spec -> manifest rows with content fingerprints, plus a problem report.

>>> from pipelines.sources import load_dataset_spec, read_spec          # doctest: +SKIP
>>> result = read_spec(load_dataset_spec("spec.yaml"))                  # doctest: +SKIP
>>> result.rows[0].utt_id, result.summary()                            # doctest: +SKIP

See docs/DATASETS.md for the spec format, each reader's layout and options, and the fingerprint policy.
"""

from pipelines.sources.fingerprint import FileDigests, fingerprint_row
from pipelines.sources.manifest import ManifestRow, Problem, ReadResult
from pipelines.sources.read import read_dataset, read_spec
from pipelines.sources.registry import ReaderOptions, get_reader, reader_names, register_reader
from pipelines.sources.spec import DatasetEntry, DatasetSpec, load_dataset_spec

__all__ = [
    "DatasetEntry",
    "DatasetSpec",
    "FileDigests",
    "ManifestRow",
    "Problem",
    "ReadResult",
    "ReaderOptions",
    "fingerprint_row",
    "get_reader",
    "load_dataset_spec",
    "read_dataset",
    "read_spec",
    "reader_names",
    "register_reader",
]
