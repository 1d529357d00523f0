"""Helpers shared by the built-in step kinds: config models, overrides, file hashes, dataset fingerprints."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from uniaudio.config import ConfigBase


class KindConfig(ConfigBase):
    """Base of the kinds' config models: ``set`` passes ``key=value`` overrides to the component's config.
    Overrides that select local weights (T5, HuBERT) are checked here, at DAG validation
    (:mod:`workflows.kinds.weights`)."""

    set: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _weights_present(self) -> "KindConfig":
        from workflows.kinds.weights import check_tokenizer_weights

        check_tokenizer_weights(self.set)
        return self


def file_sha256(path: str | Path, n: int = 32) -> str:
    """A step identity's content hash: the first ``n`` hex digits of :func:`uniaudio.stores.uri.sha256`."""
    from uniaudio.stores.uri import sha256

    return sha256(path)[:n]


def load_spec(path: str):
    """A dataset spec from a local path or a URI. A spec in a bucket (a ``demo_corpus`` step's output on a
    remote run dir) has its relative roots resolved against its own folder *in the bucket*, so every row's
    audio is a URI any node can read, never a path on the node that loaded the spec."""
    from pipelines.sources import DatasetSpec, load_dataset_spec
    from uniaudio.stores import uri as uris

    if not uris.is_remote(path):
        return load_dataset_spec(path)
    import yaml

    spec = DatasetSpec(**(yaml.safe_load(uris.read_text(path)) or {}))
    base = uris.parent(path)
    for entry in spec.datasets:
        if "://" not in entry.root and not entry.root.startswith(("/", "~")):
            entry.root = uris.join(base, entry.root)
    return spec


def dataset_fingerprint(spec_path: str, dataset: str) -> dict[str, Any]:
    """Content identity of one dataset of a spec: its entry and every manifest row's fingerprint.

    This is exactly what incremental tokenization compares (pipelines/sources/fingerprint.py: fields
    + file size/mtime, or file bytes with ``fingerprint: content``), so a step keyed on it re-runs
    when and only when the tokenizer would have work to do.
    """
    from pipelines.sources import read_dataset
    from uniaudio.errors import UserFacingError

    spec = load_spec(spec_path)
    entry = next((d for d in spec.datasets if d.name == dataset), None)
    if entry is None:
        raise UserFacingError(f"dataset {dataset!r} is not in {spec_path} "
                              f"(datasets: {', '.join(d.name for d in spec.datasets)})")
    res = read_dataset(entry)
    h = hashlib.sha256()
    for utt, fp in sorted((r.utt_id, r.fingerprint) for r in res.rows):
        h.update(f"{utt}\t{fp}\n".encode())
    for p in sorted((str(p.utt_id), p.reason) for p in res.problems):
        h.update(f"problem\t{p[0]}\t{p[1]}\n".encode())
    entry_d = entry.model_dump(mode="json")
    entry_d.pop("root", None)  # the root's *content* is what counts, not where it lies
    return {"entry": entry_d, "rows": len(res.rows), "problems": len(res.problems), "manifest": h.hexdigest()[:32]}


def spec_dataset(spec_path: str, dataset: str):
    """A DatasetSpec holding only ``dataset`` of the spec at ``spec_path`` (roots already resolved)."""
    from pipelines.sources import DatasetSpec
    from uniaudio.errors import UserFacingError

    spec = load_spec(spec_path)
    keep = [d for d in spec.datasets if d.name == dataset]
    if not keep:
        raise UserFacingError(f"dataset {dataset!r} is not in {spec_path} "
                              f"(datasets: {', '.join(d.name for d in spec.datasets)})")
    return DatasetSpec(datasets=[d.model_dump() for d in keep])
