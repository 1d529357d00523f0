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
from typing import Any

from uniaudio.stores import uri as uris

FILE = "_uniaudio_lineage.json"


def write_lineage(store: str, info: dict[str, Any]) -> None:
    """Atomically (re)write the store's lineage record (any URI: local, ``file://``, ``s3://``...)."""
    uris.put(uris.join(store, FILE), json.dumps(info, indent=1, sort_keys=True, default=str))


def read_lineage(store: str) -> dict[str, Any]:
    """The store's lineage record, ``{}`` when it has none."""
    path = uris.join(store, FILE)
    return json.loads(uris.read_text(path)) if uris.is_file(path) else {}
