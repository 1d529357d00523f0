"""Read a dataset entry (or a whole spec) into manifest rows plus a problem report.

>>> import tempfile, json, os
>>> from uniaudio.audio import write_audio
>>> import numpy as np
>>> root = tempfile.mkdtemp()
>>> write_audio(os.path.join(root, "a.wav"), np.zeros(1600, "float32"))
>>> _ = open(os.path.join(root, "manifest.jsonl"), "w").write(json.dumps({"utt_id": "a", "audio": "a.wav"}) + "\\n")
>>> res = read_dataset(DatasetEntry(name="d", reader="manifest", root=root, tasks=["tts"]))
>>> len(res.rows), res.problems
(1, [])
"""

from __future__ import annotations

import os

from pipelines.sources.context import AUDIO_EXTS, ReadContext
from pipelines.sources.language import stamp_language
from pipelines.sources.manifest import ReadResult
from pipelines.sources.registry import get_reader
from pipelines.sources.spec import DatasetEntry, DatasetSpec
from uniaudio.config import ConfigError
from uniaudio.stores import uri as uris


def read_dataset(entry: DatasetEntry) -> ReadResult:
    """All good rows of ``entry`` (fingerprinted, in a deterministic order) and every problem found.

    Raises :class:`ConfigError` for an unusable entry as a whole (unknown reader, bad options, a root
    that is not a folder or an empty remote prefix); everything row-level is reported in ``ReadResult.problems``.
    """
    reader = get_reader(entry.reader)
    opts = entry.reader_options()
    remote = None
    if uris.is_remote(entry.root):  # s3:// or gs://: the readers walk a node-local mirror of it
        from uniaudio.errors import UserFacingError
        from uniaudio.stores.mirror import mirror

        try:
            remote = mirror(entry.root, AUDIO_EXTS)
        except (UserFacingError, OSError) as err:
            raise ConfigError(f"dataset {entry.name!r}: root {entry.root!r}: {err}") from None
        root = str(remote.local)
    else:
        root = uris.local_path(entry.root)
        if not os.path.isdir(root):
            raise ConfigError(f"dataset {entry.name!r}: root {entry.root!r} is not a folder")
    ctx = ReadContext(entry.name, root, policy=opts.fingerprint, probe_audio=opts.probe_audio, mirror=remote)
    reader.read(ctx, ctx.root, opts)
    if entry.language:
        stamp_language(ctx, entry.language)
    return ctx.result


def read_spec(spec: DatasetSpec) -> ReadResult:
    """:func:`read_dataset` over every entry, concatenated in spec order."""
    out = ReadResult()
    for entry in spec.datasets:
        out.extend(read_dataset(entry))
    return out
