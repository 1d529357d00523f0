"""A node-local mirror of a remote dataset root, so the folder readers work on ``s3://`` roots unchanged.

Why a mirror: every reader (LibriTTS, VCTK, Kaldi, manifests, captions, singing) walks folders, checks
files and reads transcripts with plain filesystem calls; confinement checks (``..``, symlinks) rely
on real paths. The mirror gives them a real tree: small files (transcripts, manifests, MIDI, Kaldi
tables) are downloaded; audio files (``lazy_exts``) become *sparse placeholders* of the object's size
and modification time, so listing, ``isfile``, sizes and the ``stat`` fingerprint see the real object
without its bytes being copied. Readers then map every row back to ``s3://`` URIs
(:class:`pipelines.sources.context.ReadContext`), and audio is decoded from the bucket on whatever node
tokenizes it. Downloads are verified by sha256 on reuse, like :func:`uniaudio.stores.uri.fetch`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

from uniaudio.errors import UserFacingError
from uniaudio.stores import uri as uris

_RECORD = ".uniaudio_mirror.json"


@dataclass
class Mirror:
    uri: str  # the remote root, no trailing slash
    local: Path  # the mirror's root folder
    stats: dict[str, tuple[int, int]]  # remote URI -> (size, mtime_ns), for fingerprints

    def remote_of(self, path: str) -> str | None:
        """The remote URI of a path inside the mirror (None when outside it)."""
        rel = os.path.relpath(os.path.abspath(path), self.local)
        if rel == "." or rel.startswith(".."):
            return None
        return f"{self.uri}/{Path(rel).as_posix()}"


def mirror(root: str, lazy_exts: tuple[str, ...], cache: str | os.PathLike | None = None) -> Mirror:
    """Mirror the remote folder ``root`` (see the module docstring); refreshed on every call."""
    root = root.rstrip("/")
    fs, path = uris.filesystem(root)
    infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True, recursive=True))
    base = path.rstrip("/") + "/"
    listing = {i.path[len(base):]: (int(i.size or 0), int(i.mtime_ns or 0))
               for i in infos if i.type == pafs.FileType.File}
    if not listing:
        raise UserFacingError(f"dataset root {root} is empty or does not exist")
    dst = Path(cache or uris.cache_dir()) / "mirror" / hashlib.sha256(root.encode()).hexdigest()[:32]
    dst.mkdir(parents=True, exist_ok=True)
    rec_p = dst / _RECORD
    try:
        old = json.loads(rec_p.read_text()) if rec_p.is_file() else {}
    except ValueError:
        old = {}
    data = dst / "root"
    record: dict[str, list] = {}
    for rel, (size, mtime) in sorted(listing.items()):
        local = data / rel
        lazy = rel.lower().endswith(lazy_exts)
        prev = old.get(rel)
        fresh = prev is not None and prev[:2] == [size, mtime] and local.is_file()
        if lazy:
            if not (fresh and local.stat().st_size == size):
                local.parent.mkdir(parents=True, exist_ok=True)
                with local.open("wb") as f:
                    f.truncate(size)  # sparse: no bytes copied
            digest = None
        elif fresh and prev[2] and uris.sha256(local) == prev[2]:
            digest = prev[2]
        else:
            local.parent.mkdir(parents=True, exist_ok=True)
            tmp = local.with_name(f".{local.name}.part")
            with fs.open_input_stream(f"{base}{rel}") as f, tmp.open("wb") as g:
                shutil.copyfileobj(f, g, 1 << 20)
            os.replace(tmp, local)
            digest = uris.sha256(local)
        os.utime(local, ns=(mtime, mtime))
        record[rel] = [size, mtime, digest]
    for rel in set(old) - set(listing):  # objects deleted remotely leave the mirror too
        (data / rel).unlink(missing_ok=True)
    rec_p.write_text(json.dumps(record))
    stats = {f"{root}/{rel}": st for rel, st in listing.items()}
    return Mirror(root, data, stats)
