"""Content fingerprints of manifest rows: what changed since the last tokenization?

Policy (also in docs/DATASETS.md):

* The fingerprint is ``sha256`` (hex) over
  1. the policy name (``stat`` or ``content``), so switching policy re-tokenizes everything once;
  2. the row's fields as canonical JSON (sorted keys, no spaces, UTF-8), the ``fingerprint`` field
     excluded: a changed transcript, caption, speaker, segment bound or simulation seed changes it;
  3. for every file the row references (``audio_uri``, each ``paired`` uri in role order, ``notes_uri``):
     * ``stat`` (default): its size in bytes and ``mtime_ns`` - a stat call per file, cheap enough for
       165K hours on network storage; a rewritten file changes its mtime;
     * ``content`` (spec option ``fingerprint: content``): the sha256 of its bytes - robust to copies
       that reset mtimes (rsync without ``-t``, object-store sync), at the price of reading every byte.
     An object of a remote dataset root (``s3://``) contributes the size and mtime of its listing
     (``stat``; S3's LastModified has 1 s resolution, so a same-size rewrite within the same second
     is seen only by ``content``) or the sha256 of its bytes read from the bucket (``content``); any other remote URI
     only its string; a file that cannot be stat-ed contributes ``missing`` (readers report missing
     files before fingerprinting).

Changing one audio file or one transcript therefore changes exactly the rows that reference it.
Per-file results are memoised in a :class:`FileDigests` cache for the duration of one read, because
segment-based corpora (Kaldi ``segments``) reference one long recording from many rows.

>>> from pipelines.sources.manifest import ManifestRow
>>> r = ManifestRow("d", "u1", "/nonexistent/u1.wav", text="hi")
>>> a = fingerprint_row(r); b = fingerprint_row(r.with_fingerprint("old"))
>>> a == b and len(a) == 64
True
>>> fingerprint_row(r) != fingerprint_row(ManifestRow("d", "u1", "/nonexistent/u1.wav", text="hi!"))
True
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Literal

from pipelines.sources.manifest import ManifestRow

FingerprintPolicy = Literal["stat", "content"]


from uniaudio.stores.uri import is_remote as _is_remote  # noqa: E402
from uniaudio.stores.uri import local_path as _local  # noqa: E402
from uniaudio.stores.uri import sha256  # noqa: E402


class FileDigests:
    """Memoised per-file digest under one policy (``stat`` -> size:mtime_ns, ``content`` -> sha256)."""

    def __init__(self, policy: FingerprintPolicy = "stat", remote_stats: dict[str, tuple[int, int]] | None = None):
        if policy not in ("stat", "content"):
            raise ValueError(f"fingerprint policy must be 'stat' or 'content', got {policy!r}")
        self.policy = policy
        self.remote_stats = remote_stats or {}  # object URI -> (size, mtime_ns) from the root's listing
        self._cache: dict[str, str] = {}

    def digest(self, uri: str) -> str:
        if uri in self._cache:
            return self._cache[uri]
        if _is_remote(uri) and uri in self.remote_stats:
            size, mtime = self.remote_stats[uri]
            out = f"{size}:{mtime}" if self.policy == "stat" else f"{size}:{sha256(uri)}"
        elif _is_remote(uri):
            out = "remote"
        else:
            path = _local(uri)
            try:
                st = os.stat(path)
            except OSError:
                out = "missing"
            else:
                out = f"{st.st_size}:{st.st_mtime_ns}"
                if self.policy == "content":
                    # The stat key is still included so the memo stays valid if the file changes
                    # between two reads that share a cache (they normally do not).
                    out = f"{st.st_size}:{sha256(path)}"
        self._cache[uri] = out
        return out


def canonical_fields(row: ManifestRow) -> str:
    """The row's fields (fingerprint excluded) as canonical JSON."""
    d = row.to_dict()
    d.pop("fingerprint", None)
    return json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def fingerprint_row(row: ManifestRow, policy: FingerprintPolicy = "stat", digests: FileDigests | None = None) -> str:
    """sha256 hex fingerprint of ``row`` under ``policy`` (see the module docstring)."""
    digests = digests if digests is not None else FileDigests(policy)
    if digests.policy != policy:
        raise ValueError(f"FileDigests cache uses policy {digests.policy!r}, asked for {policy!r}")
    h = hashlib.sha256()
    h.update(f"policy={policy}\n".encode())
    h.update(canonical_fields(row).encode())
    for uri in row.uris():
        h.update(b"\n")
        h.update(uri.encode())
        h.update(b"=")
        h.update(digests.digest(uri).encode())
    return h.hexdigest()
