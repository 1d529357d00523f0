"""The interface every modality tokenizer implements, its errors, and the version-hash helpers.

A tokenizer turns one item (text, a waveform, a score + lyrics) into **local** ids of its modality (or a
float array for a continuous modality). It never adds vocabulary offsets: ``uniaudio.vocab`` maps
(modality, local id) -> global id.

Every tokenizer has a ``version``: ``<name>-<16 hex>``, a hash over its name, an algorithm revision
(:attr:`Tokenizer.ALGO`, bumped by hand whenever the code's output changes), its config and the content
hash of every asset it reads (inventory file, model weights, k-means model). Two tokenizers with equal
versions produce equal output; the token store records the version so stale rows can be found.

Construction is cheap (no model loading) so a Ray actor can build its tokenizers per process; models
are loaded lazily on first use and cached per process (see :func:`cached_asset`).
"""

from __future__ import annotations

import abc
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

from uniaudio.errors import UserFacingError


class TokenizeError(ValueError):
    """One item cannot be tokenized; ``reason`` is a short code the tokenization job quarantines with.

    Examples of reasons: ``empty_text``, ``g2p_failed``, ``no_notes``, ``too_short``.
    """

    def __init__(self, reason: str, detail: str = ""):
        self.reason, self.detail = reason, detail
        super().__init__(reason + (f": {detail}" if detail else ""))


class TokenizerUnavailable(UserFacingError):
    """A tokenizer cannot be built at all (missing weights directory, missing k-means model, ...)."""


class Tokenizer(abc.ABC):
    """Base of every modality tokenizer.

    Subclasses set ``name`` (unique), ``modality`` (a vocab modality name), ``ALGO`` (int, bumped when the
    output of the code changes) and implement :meth:`tokenize` and :meth:`_version_payload`.
    """

    name: str = ""
    modality: str = ""
    continuous: bool = False
    ALGO: int = 1

    @abc.abstractmethod
    def tokenize(self, item: Any) -> Any:
        """Tokenize one item; raises :class:`TokenizeError` for input that cannot be tokenized."""

    def tokenize_batch(self, items: Sequence[Any]) -> list[Any]:
        """Tokenize several items; subclasses with a batched model override this."""
        return [self.tokenize(x) for x in items]

    def check(self) -> None:
        """Cheap check that the assets exist (no model loading); raises :class:`TokenizerUnavailable`."""

    def __call__(self, item: Any) -> Any:
        return self.tokenize(item)

    @abc.abstractmethod
    def _version_payload(self) -> dict[str, Any]:
        """JSON-serialisable dict of everything the output depends on (config, asset hashes)."""

    @property
    def version(self) -> str:
        cached = getattr(self, "_version_cache", None)
        if cached is None:
            payload = {"name": self.name, "modality": self.modality, "algo": self.ALGO, **self._version_payload()}
            cached = f"{self.name}-{hash_json(payload)}"
            self._version_cache = cached
        return cached

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, modality={self.modality!r})"


def hash_json(obj: Any, n: int = 16) -> str:
    """Stable short hash of a JSON-serialisable object (sorted keys)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:n]


_FILE_HASHES: dict[tuple[str, int, int], str] = {}
_HASH_LOCK = threading.Lock()


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, cached per process by (path, size, mtime) so repeated version lookups
    of large weight files cost one read."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    with _HASH_LOCK:
        if key in _FILE_HASHES:
            return _FILE_HASHES[key]
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    digest = h.hexdigest()
    with _HASH_LOCK:
        _FILE_HASHES[key] = digest
    return digest


def dir_sha256(path: str | Path, patterns: Sequence[str] = ("*.json", "*.safetensors", "*.bin", "*.model", "*.txt")) -> str:
    """Hash of a model directory: relative names and contents of the files matching ``patterns``
    (recursively, sorted), so the same weights at another location hash the same."""
    root = Path(path)
    files = sorted({f for pat in patterns for f in root.rglob(pat) if f.is_file()})
    return hash_json([[str(f.relative_to(root)), file_sha256(f)] for f in files], n=64)


_ASSETS: dict[tuple, Any] = {}
_ASSET_LOCK = threading.Lock()


def cached_asset(key: tuple, load: Callable[[], Any]) -> Any:
    """Load a heavy asset (a model, a dictionary) once per process and share it between tokenizer
    instances; ``key`` must identify the asset completely (kind, path, device, ...)."""
    with _ASSET_LOCK:
        if key in _ASSETS:
            return _ASSETS[key]
    value = load()  # outside the lock: loading can take seconds; a rare double load is harmless
    with _ASSET_LOCK:
        return _ASSETS.setdefault(key, value)


def require_dir(path: str | os.PathLike | None, what: str, must_contain: Sequence[str] = ()) -> Path:
    """Return ``path`` as a directory or raise :class:`TokenizerUnavailable` explaining what is missing."""
    if not path:
        raise TokenizerUnavailable(f"{what}: no local weights directory given (set the config field)")
    p = Path(path).expanduser()
    if not p.is_dir():
        raise TokenizerUnavailable(f"{what}: weights directory {str(p)!r} does not exist")
    missing = [m for m in must_contain if not (p / m).exists()]
    if missing:
        raise TokenizerUnavailable(f"{what}: {str(p)!r} lacks {', '.join(missing)} (expected a local HuggingFace model folder)")
    return p
