"""Lineage that travels store to store: token store -> example store -> trained model.

Each store keeps a small ``_uniaudio_lineage.json`` beside its Delta log (files starting with ``_`` are
ignored by Delta readers and kept by VACUUM). The token store records the codec (directory and content
hash) and the tokenizer configuration that produced it; the example store adds the token store's URI
and version; training copies the whole record into the exported model's ``lineage.json``, so generation
finds the codec and tokenizers of a model without being told.

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> write_lineage(d, {"codec_hash": "abc"})
>>> read_lineage(d)["codec_hash"]
'abc'
>>> read_lineage(d + "/nothing")
{}
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

FILE = "_uniaudio_lineage.json"


def _path(store: str) -> Path:
    return Path(store[len("file://"):] if store.startswith("file://") else store) / FILE


def write_lineage(store: str, info: dict[str, Any]) -> None:
    """Atomically (re)write the store's lineage record (local stores; object stores are skipped)."""
    if "://" in store and not store.startswith("file://"):
        return
    path = _path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".lineage-")
    with os.fdopen(fd, "w") as f:
        json.dump(info, f, indent=1, sort_keys=True, default=str)
    os.replace(tmp, path)


def read_lineage(store: str) -> dict[str, Any]:
    path = _path(store)
    return json.loads(path.read_text()) if path.is_file() else {}
